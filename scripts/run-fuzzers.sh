#!/usr/bin/env bash
# Runs each libFuzzer target for SECONDS (default 60) from its seed corpus, in a scratch copy so
# the repository's corpus stays as committed. Any crash fails the run and leaves the crashing
# input in build/fuzz-artifacts/ (turn it into a test in tests/unit/npy_test.cc or a CLI test).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
bin=build/sanitize
mkdir -p build/fuzz-artifacts
for name in npy literal; do
  work=$(mktemp -d)
  cp tests/fuzz/corpus/$name/* "$work/"
  echo "== fuzzing the $name parser for ${seconds}s =="
  if ! "$bin/${name}_fuzzer" "$work" -max_total_time="$seconds" -max_len=4096 -rss_limit_mb=2048 \
        -timeout=10 -print_final_stats=1 -artifact_prefix=build/fuzz-artifacts/ \
        >"build/logs/fuzz-$name.log" 2>&1; then
    tail -50 "build/logs/fuzz-$name.log" >&2
    echo "fuzz: the $name parser crashed; the input is in build/fuzz-artifacts/" >&2
    exit 1
  fi
  grep -E "stat::number_of_executed_units|Done" "build/logs/fuzz-$name.log" | tail -2
  rm -rf "$work"
done
