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
TSAN_TESTS := block_cache_test concurrent_softmax_test thread_pool_test
TSAN_FILTER := ^(Threads|BlockCache|ConcurrentSoftmax)\.

# The optional parts of the build (CMakeLists.txt): `make run` installs only the core group and
# leaves them AUTO (built if found, else skipped with a note; AUTO also undoes an earlier
# `make test`'s ON); `make test` installs every group its tests need and asks for ON, so a
# missing package is a configure error, never a silently skipped test.
OPTIONAL_AUTO := -DSMX_BUILD_TESTS=AUTO -DSMX_BUILD_CLI=AUTO -DSMX_BUILD_PYTHON=AUTO -DSMX_MPI=AUTO
OPTIONAL_ON := -DSMX_BUILD_TESTS=ON -DSMX_BUILD_CLI=ON -DSMX_BUILD_PYTHON=ON
# The MPI backend (smx::dist, tests/mpi under mpirun) is tested in the Release build only: Open
# MPI's own allocations and its shared-memory transport are reported by ASan's leak checker and
# TSan (false positives outside smx), so the sanitizer builds turn it off.
MPI_ON := -DSMX_MPI=ON
MPI_OFF := -DSMX_MPI=OFF

run:
	scripts/install-deps.sh core
	SMX_CMAKE_ARGS="$(OPTIONAL_AUTO)" scripts/build.sh release seed_example
	build/release/seed_example

test:
	scripts/install-deps.sh core cli tests sanitize python torch cross mpi
	SMX_CMAKE_ARGS="$(OPTIONAL_ON) $(MPI_ON)" scripts/build.sh release
	echo "== tests: g++ Release =="
	cd build/release && $(CTEST)
	SMX_CMAKE_ARGS="$(OPTIONAL_ON) $(MPI_OFF)" scripts/build.sh sanitize
	echo "== tests: clang 14, AddressSanitizer + UndefinedBehaviorSanitizer =="
	cd build/sanitize && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 $(CTEST)
	SMX_CMAKE_ARGS="$(MPI_OFF)" scripts/build.sh tsan $(TSAN_TESTS)
	echo "== tests: clang 14, ThreadSanitizer (thread pool, block cache, concurrent calls) =="
	cd build/tsan && TSAN_OPTIONS=halt_on_error=1:die_after_fork=0 $(CTEST) -R '$(TSAN_FILTER)'
	echo "== fuzzing the .npy reader and the literal parser =="
	scripts/run-fuzzers.sh $(FUZZ_SECONDS)

# The benchmark against libtorch, oneDNN, XNNPACK and the copy baseline (2 threads by default:
# BENCH_THREADS=N), then what users call: Python smx.softmax against torch.softmax and
# scipy.special.softmax, and the command on a 1 GiB .npy against a NumPy + PyTorch script
# (BENCH_CLI=0 skips that part: it needs ~4 GiB of scratch in BENCH_DIR, default /tmp, and a few
# minutes). Prints the tables, writes build/bench/*.csv, then report.py writes docs/bench.png, both
# tables in README.md and (only then) docs/bench.txt - unless the run has a broken baseline
# (an out-of-cache ratio below 0.95), which fails the target and leaves README.md alone.
# One build folder holds the library once for the bench, the Python module and the command.
BENCH_THREADS ?= 2
BENCH_CLI ?= 1
# A failing benchmark must fail the target even though its output goes through tee.
bench: SHELL := /bin/bash
bench: .SHELLFLAGS := -o pipefail -c
bench:
	scripts/install-deps.sh core bench python torch cli
	SMX_CMAKE_ARGS="-DSMX_BUILD_BENCH=ON -DSMX_BUILD_TESTS=OFF -DSMX_BUILD_PYTHON=ON -DSMX_BUILD_CLI=ON" \
	  BUILD_DIR=build/bench scripts/build.sh release smx_bench _smx smx_cli
	rm -f build/bench/python.csv build/bench/cli.csv
	build/bench/bench/smx_bench --threads $(BENCH_THREADS) --csv build/bench/bench.csv | tee build/bench/bench.txt
	PYTHONPATH=build/bench/python /usr/bin/python3 bench/python_bench.py --threads $(BENCH_THREADS) \
	  --csv build/bench/python.csv | tee build/bench/python.txt
	if [ "$(BENCH_CLI)" != 0 ]; then \
	  THREADS=$(BENCH_THREADS) CSV=build/bench/cli.csv bench/cli_bench.sh build/bench/smx | tee build/bench/cli.txt; \
	fi
	/usr/bin/python3 bench/report.py build/bench/bench.csv docs/bench.png README.md \
	  build/bench/python.csv build/bench/cli.csv
	cp build/bench/bench.txt docs/bench.txt

install:
	scripts/install-deps.sh core cli
	SMX_CMAKE_ARGS="-DSMX_BUILD_CLI=ON" scripts/build.sh release
	cmake --install build/release --prefix $(PREFIX)

clean:
	rm -rf build
