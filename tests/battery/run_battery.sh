#!/usr/bin/env bash
# Runs the same-bits battery (battery.cc) on every kernel implementation this CPU runs (each SIMD
# target and the scalar reference, through SMX_ISA) and compares the digests with the record.
# Usage: tests/battery/run_battery.sh SMX_BATTERY RECORD [--record]
#   RECORD    the record file for this compiler (tests/data/battery/<compiler>.txt)
#   --record  write RECORD from this run instead (after a change that is meant to move bits)
# Fails on any digest that differs from the record, and on a target this CPU runs that the record
# lacks (record it); targets the record has and this CPU lacks are named and left out.
set -euo pipefail
bin=$1 record=$2 mode=${3:-check}
run=$(mktemp)
trap 'rm -f "$run"' EXIT
for target in $("$bin" --targets); do
  SMX_ISA=$target "$bin" | sed "s/^/$target /" >>"$run"
done
if [[ $mode == --record ]]; then
  mkdir -p "$(dirname "$record")"
  cp "$run" "$record"
  echo "battery: recorded $(wc -l <"$run") digests in $record"
  exit 0
fi
[[ -f $record ]] || { echo "battery: no record $record for this compiler: run $0 $bin $record --record" >&2; exit 1; }
status=0
for target in $(cut -d' ' -f1 "$run" | uniq); do
  if ! grep -q "^$target " "$record"; then
    echo "battery: $target runs here but $record has no digests for it (record them)" >&2
    status=1
    continue
  fi
  if diff <(grep "^$target " "$record") <(grep "^$target " "$run") >/dev/null; then
    echo "battery: $target: $(grep -c "^$target " "$run") digests as recorded"
  else
    echo "battery: $target: outputs differ from the record (- recorded, + now):" >&2
    diff <(grep "^$target " "$record") <(grep "^$target " "$run") | grep '^[<>]' | head -20 >&2
    status=1
  fi
done
for target in $(cut -d' ' -f1 "$record" | uniq); do
  grep -q "^$target " "$run" || echo "battery: $target is recorded but this CPU does not run it (not compared)"
done
exit $status
