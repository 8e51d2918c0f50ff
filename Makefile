# The entry points. Each installs the Debian packages it needs, builds, and runs.
#   make run    - the seed's worked example (what PyTorch prints, byte for byte)
#   make test   - every test: g++ Release build, then clang ASan+UBSan build, then the threaded
#                 tests under clang's ThreadSanitizer, then the fuzzers
#   make bench  - the benchmark against the peers (see README)
#   make install PREFIX=/usr/local
.SILENT:
.PHONY: run test bench install clean

PREFIX ?= /usr/local
FUZZ_SECONDS ?= 60
CTEST := ctest --output-on-failure --timeout 900 -j $(shell nproc)
# The ThreadSanitizer pass builds and runs only the tests that exercise threads (about 30 s);
# die_after_fork=0 because the fork tests start threads in the child, which TSan refuses by default.
TSAN_TESTS := block_cache_test concurrent_softmax_test simd_kernel_test
TSAN_FILTER := ^(Threads|BlockCache|ConcurrentSoftmax)\.

run:
	scripts/install-deps.sh core cli
	scripts/build.sh release seed_example
	build/release/seed_example

test:
	scripts/install-deps.sh core cli sanitize python torch cross
	scripts/build.sh release
	echo "== tests: g++ Release =="
	cd build/release && $(CTEST)
	scripts/build.sh sanitize
	echo "== tests: clang 14, AddressSanitizer + UndefinedBehaviorSanitizer =="
	cd build/sanitize && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 $(CTEST)
	scripts/build.sh tsan $(TSAN_TESTS)
	echo "== tests: clang 14, ThreadSanitizer (thread pool, block cache, concurrent calls) =="
	cd build/tsan && TSAN_OPTIONS=halt_on_error=1:die_after_fork=0 $(CTEST) -R '$(TSAN_FILTER)'
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
	scripts/build.sh release
	cmake --install build/release --prefix $(PREFIX)

clean:
	rm -rf build
