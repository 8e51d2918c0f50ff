# The entry points. Each installs the Debian packages it needs, builds, and runs.
#   make run    - the seed's worked example (what PyTorch prints, byte for byte)
#   make test   - every test: g++ Release build, then clang ASan+UBSan build, then the fuzzers
#   make bench  - the benchmark against the peers (see README)
#   make install PREFIX=/usr/local
.SILENT:
.PHONY: run test bench install clean

PREFIX ?= /usr/local
FUZZ_SECONDS ?= 60
CTEST := ctest --output-on-failure --timeout 900 -j $(shell nproc)

# The optional parts of the build (CMakeLists.txt): `make run` installs only the core group and
# leaves them AUTO (built if found, else skipped with a note; AUTO also undoes an earlier
# `make test`'s ON); `make test` installs every group its tests need and asks for ON, so a
# missing package is a configure error, never a silently skipped test.
OPTIONAL_AUTO := -DSMX_BUILD_TESTS=AUTO -DSMX_BUILD_CLI=AUTO -DSMX_BUILD_PYTHON=AUTO
OPTIONAL_ON := -DSMX_BUILD_TESTS=ON -DSMX_BUILD_CLI=ON -DSMX_BUILD_PYTHON=ON

run:
	scripts/install-deps.sh core
	SMX_CMAKE_ARGS="$(OPTIONAL_AUTO)" scripts/build.sh release seed_example
	build/release/seed_example

test:
	scripts/install-deps.sh core cli tests sanitize python torch cross
	SMX_CMAKE_ARGS="$(OPTIONAL_ON)" scripts/build.sh release
	echo "== tests: g++ Release =="
	cd build/release && $(CTEST)
	SMX_CMAKE_ARGS="$(OPTIONAL_ON)" scripts/build.sh sanitize
	echo "== tests: clang 14, AddressSanitizer + UndefinedBehaviorSanitizer =="
	cd build/sanitize && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 $(CTEST)
	echo "== fuzzing the .npy reader and the literal parser =="
	scripts/run-fuzzers.sh $(FUZZ_SECONDS)

# The benchmark against libtorch, oneDNN, XNNPACK and a parallel memcpy (2 threads by default:
# BENCH_THREADS=N). Prints the table, writes build/bench/bench.csv, docs/bench.txt,
# docs/bench.png and the table in README.md.
BENCH_THREADS ?= 2
bench:
	scripts/install-deps.sh core bench
	SMX_CMAKE_ARGS="-DSMX_BUILD_BENCH=ON -DSMX_BUILD_TESTS=OFF -DSMX_BUILD_PYTHON=OFF -DSMX_BUILD_CLI=OFF" \
	  BUILD_DIR=build/bench scripts/build.sh release smx_bench
	build/bench/bench/smx_bench --threads $(BENCH_THREADS) --csv build/bench/bench.csv | tee build/bench/bench.txt
	cp build/bench/bench.txt docs/bench.txt
	/usr/bin/python3 bench/report.py build/bench/bench.csv docs/bench.png README.md

install:
	scripts/install-deps.sh core cli
	SMX_CMAKE_ARGS="-DSMX_BUILD_CLI=ON" scripts/build.sh release
	cmake --install build/release --prefix $(PREFIX)

clean:
	rm -rf build
