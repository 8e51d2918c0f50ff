#!/usr/bin/env bash
# `make test`: installs what the tests need, then builds and runs every test in phases - g++
# Release, clang ASan+UBSan, clang TSan (the threaded tests), the fuzzers - and ends with a
# one-screen summary (scripts/test-summary.py): each phase's time, passed, failed and skipped
# tests, every skip with its reason and every failure by name. A failing phase does not stop the
# later ones; the exit status is 1 if anything failed.
# Environment: FUZZ_SECONDS (default 60), CTEST_PARALLEL (default: the core count).
set -uo pipefail
cd "$(dirname "$0")/.."

fuzz_seconds=${FUZZ_SECONDS:-60}
# (The end of a passed test's output is kept for the summary: pytest's -rs lines come last.)
ctest_args=(--output-on-failure --timeout 900 -j "${CTEST_PARALLEL:-$(nproc)}" --test-output-size-passed 32768
            --test-output-truncation head)
# The optional parts asked for ON, so that a missing package is a configure error, never a
# silently skipped test (CMakeLists.txt). MPI is tested in the Release build only: Open MPI's own
# allocations and shared-memory transport are reported by ASan's leak checker and TSan (false
# positives outside smx).
optional_on="-DSMX_BUILD_TESTS=ON -DSMX_BUILD_CLI=ON -DSMX_BUILD_PYTHON=ON"
# The ThreadSanitizer pass builds and runs only the tests that exercise threads (about 30 s);
# die_after_fork=0 because the fork tests start threads in the child, which TSan refuses by default.
tsan_targets=(block_cache_test concurrent_softmax_test thread_pool_test)
tsan_filter='^(Threads|BlockCache|ConcurrentSoftmax)\.'

results=$PWD/build/test-results
rm -rf "$results"
mkdir -p "$results"
status=0

# phase NAME COMMAND...: runs COMMAND, records its time and exit status for the summary.
phase() {
  local name=$1
  shift
  echo "== $name =="
  local start=$SECONDS
  "$@"
  local rc=$?
  echo "$name	$((SECONDS - start))	$rc" >>"$results/phases.tsv"
  ((rc == 0)) || status=1
  return $rc
}

ctest_in() {  # ctest_in DIR JUNIT [ctest args...]
  local dir=$1 junit=$2
  shift 2
  (cd "$dir" && ctest "${ctest_args[@]}" --output-junit "$results/$junit" "$@")
}

sanitize_tests() { ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest_in build/sanitize sanitize.xml; }
tsan_tests() { TSAN_OPTIONS=halt_on_error=1:die_after_fork=0 ctest_in build/tsan tsan.xml -R "$tsan_filter"; }

phase "install packages" scripts/install-deps.sh core cli tests sanitize python torch cross mpi || {
  echo "make test: the packages could not be installed" >&2
  exit 1
}
if phase "build g++ Release" env SMX_CMAKE_ARGS="$optional_on -DSMX_MPI=ON" scripts/build.sh release; then
  phase "tests: g++ Release" ctest_in build/release release.xml
fi
if phase "build clang ASan+UBSan" env SMX_CMAKE_ARGS="$optional_on -DSMX_MPI=OFF" scripts/build.sh sanitize; then
  phase "tests: clang ASan+UBSan" sanitize_tests
  phase "fuzzers (npy reader, literal parser)" scripts/run-fuzzers.sh "$fuzz_seconds"
fi
if phase "build clang TSan" env SMX_CMAKE_ARGS="-DSMX_MPI=OFF" scripts/build.sh tsan "${tsan_targets[@]}"; then
  phase "tests: clang TSan (pool, block cache, concurrent calls)" tsan_tests
fi

/usr/bin/python3 scripts/test-summary.py "$results" || status=1
exit $status
