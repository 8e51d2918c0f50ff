# The entry points. Each installs the Debian packages it needs, builds, and runs.
#   make run    - the seed's worked example (what PyTorch prints, byte for byte)
#   make test   - every test (scripts/test.sh): g++ Release build, then clang ASan+UBSan build and
#                 the fuzzers, then the threaded tests under clang's ThreadSanitizer; a summary
#   make bench  - the benchmark against the peers (see docs/speed.md)
#   make install PREFIX=/usr/local
.SILENT:
.PHONY: run test bench install clean

PREFIX ?= /usr/local

# The optional parts of the build (CMakeLists.txt): `make run` installs only the core group and
# leaves them AUTO (built if found, else skipped with a note; AUTO also undoes an earlier
# `make test`'s ON); `make test` installs every group its tests need and asks for ON, so a
# missing package is a configure error, never a silently skipped test.
OPTIONAL_AUTO := -DSMX_BUILD_TESTS=AUTO -DSMX_BUILD_CLI=AUTO -DSMX_BUILD_PYTHON=AUTO -DSMX_MPI=AUTO

run:
	scripts/install-deps.sh core
	SMX_CMAKE_ARGS="$(OPTIONAL_AUTO)" scripts/build.sh release seed_example
	build/release/seed_example

test:
	scripts/test.sh

# The benchmark against libtorch, oneDNN, XNNPACK and the copy baseline (2 threads by default:
# BENCH_THREADS=N), then what users call: Python smx.softmax against torch.softmax and
# scipy.special.softmax, and the command on a 1 GiB .npy against a NumPy + PyTorch script
# (BENCH_CLI=0 skips that part: it needs ~4 GiB of scratch in BENCH_DIR, default /tmp, and a few
# minutes). Prints the tables, writes build/bench/*.csv, then report.py writes docs/bench.png, both
# tables in docs/speed.md and (only then) docs/bench.txt - unless the run has a broken baseline
# (an out-of-cache ratio below 0.95), which fails the target and leaves docs/speed.md alone.
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
	/usr/bin/python3 bench/report.py build/bench/bench.csv docs/bench.png docs/speed.md \
	  build/bench/python.csv build/bench/cli.csv
	cp build/bench/bench.txt docs/bench.txt

install:
	scripts/install-deps.sh core cli
	SMX_CMAKE_ARGS="-DSMX_BUILD_CLI=ON" scripts/build.sh release
	cmake --install build/release --prefix $(PREFIX)

clean:
	rm -rf build
