#!/usr/bin/env bash
# Installs the build into a scratch prefix, then builds the seed example against it twice:
# with find_package(smx CONFIG) and with pkg-config. Both must print the seed's expected output.
# Usage: run_package_test.sh BUILD_DIR SOURCE_DIR CXX
set -euo pipefail
build=$1 src=$2 cxx=$3
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cmake --install "$build" --prefix "$scratch/prefix" >/dev/null
cmake -S "$src/tests/package" -B "$scratch/consumer" -DCMAKE_CXX_COMPILER="$cxx" \
      -DCMAKE_PREFIX_PATH="$scratch/prefix" >/dev/null
cmake --build "$scratch/consumer" >/dev/null
"$scratch/consumer/consumer" | diff -u "$src/tests/data/seed_expected.txt" -
echo "find_package(smx CONFIG): ok"
export PKG_CONFIG_PATH="$scratch/prefix/lib/pkgconfig:$scratch/prefix/lib/x86_64-linux-gnu/pkgconfig"
# shellcheck disable=SC2046
"$cxx" "$src/examples/seed_example.cc" -o "$scratch/pc_consumer" $(pkg-config --cflags --libs smx)
"$scratch/pc_consumer" | diff -u "$src/tests/data/seed_expected.txt" -
echo "pkg-config smx: ok"
