#!/usr/bin/env bash
# Configures and builds one flavour of the project quietly; the log goes to build/logs/ and is
# shown only on failure. Usage: [BUILD_DIR=dir] [SMX_CMAKE_ARGS=...] scripts/build.sh FLAVOUR [TARGET...]
#   release  - g++, Release, warnings are errors
#   sanitize - clang 14, AddressSanitizer + UndefinedBehaviorSanitizer, warnings are errors; without
#              the CUDA backend (so this build tests the CUDA-less library and its errors)
#   tsan     - clang 14, ThreadSanitizer, warnings are errors (library and unit tests only; make
#              test builds just the threaded tests: the pool, the block cache, concurrent calls)
set -euo pipefail
cd "$(dirname "$0")/.."
flavour=$1
shift
mkdir -p build/logs
dir=${BUILD_DIR:-build/$flavour}
log=build/logs/$(basename "$dir").log
case $flavour in
  release) args=(-DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=g++ -DSMX_WERROR=ON) ;;
  sanitize) args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++-14 -DSMX_WERROR=ON
                  -DSMX_SANITIZE=address,undefined -DSMX_BUILD_FUZZERS=ON -DSMX_CUDA=OFF) ;;
  tsan) args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++-14 -DSMX_WERROR=ON
              -DSMX_SANITIZE=thread -DSMX_BUILD_CLI=OFF -DSMX_BUILD_EXAMPLES=OFF -DSMX_CUDA=OFF) ;;
  *) echo "build.sh: unknown flavour '$flavour'" >&2; exit 2 ;;
esac
targets=()
for t in "$@"; do targets+=(--target "$t"); done
# shellcheck disable=SC2086  # SMX_CMAKE_ARGS is a list of words on purpose
if ! { cmake -S . -B "$dir" -G Ninja "${args[@]}" ${SMX_CMAKE_ARGS:-} &&
       cmake --build "$dir" --parallel "$(nproc)" "${targets[@]}"; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "build.sh: the $flavour build failed (log above, also in $log)" >&2
  exit 1
fi
