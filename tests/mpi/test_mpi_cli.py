"""`mpirun -n N smx softmax|log_softmax|softmin --dim D IN.npy -o OUT.npy` against one process.

The output file must be byte for byte the one a single `smx` process writes (cmp), for every
dtype, dim 0 (statistics combined across ranks) and other dims (rows independent), with 1-4
ranks, uneven and empty shards, NaN and inf. Errors must fail every rank, leave no output file
and no temporary file, and never touch an existing output.
Run by ctest (tests/mpi/CMakeLists.txt) with SMX_BIN (the command) and SMX_MPIRUN
(tests/mpi/mpirun.sh, which sets what Open MPI needs as root in a container).
"""
import os
import subprocess

import numpy as np
import pytest

SMX = os.environ.get("SMX_BIN", "smx")
MPIRUN = os.environ.get("SMX_MPIRUN", os.path.join(os.path.dirname(__file__), "mpirun.sh"))
RANKS = [1, 2, 3, 4]


def run_one(args):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMPI_", "PMI"))}
    return subprocess.run([SMX, *args], capture_output=True, text=True, env=env)


def run_mpi(n, args):
    return subprocess.run([MPIRUN, "-n", str(n), SMX, *args], capture_output=True, text=True, timeout=120)


def data(shape, seed=0, special=False):
    a = np.random.default_rng(seed).standard_normal(shape) * 4.0
    if special and a.size >= 8:
        flat = a.reshape(-1)
        flat[1], flat[-2], flat[len(flat) // 2] = np.nan, np.inf, -np.inf
    return a


# (name, shape): which one-process kernel dim 0 takes - short/tall columns, short/long row -
# and shards that are empty on some ranks (fewer rows than ranks).
SHAPES = [("short_columns", (103, 7)), ("tall_columns", (1500, 5)), ("short_row", (3000,)),
          ("long_row", (140001,)), ("trailing_one", (1200, 1)), ("fewer_rows_than_ranks", (2, 9)),
          ("three_dims", (37, 3, 4))]
DTYPES = ["float32", "float64", "float16", "bfloat16"]  # bfloat16: --dtype on float32 data


@pytest.mark.parametrize("name,shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_same_bytes_as_one_process(tmp_path, name, shape, dtype):
    special = name in ("tall_columns", "short_columns", "long_row")
    stored = "float32" if dtype == "bfloat16" else dtype
    src = tmp_path / "in.npy"
    np.save(src, data(shape, special=special).astype(stored))
    extra = ["--dtype", "bfloat16"] if dtype == "bfloat16" else []
    ops = ["softmax", "log_softmax", "softmin"] if dtype == "float32" else ["softmax"]
    dims = [0, -1] if len(shape) > 1 else [0]
    for op in ops:
        for dim in dims:
            one = tmp_path / f"one_{op}_{dim}.npy"
            r = run_one([op, "--dim", str(dim), *extra, str(src), "-o", str(one)])
            assert r.returncode == 0, r.stderr
            for n in RANKS:
                many = tmp_path / f"many_{op}_{dim}_{n}.npy"
                r = run_mpi(n, [op, "--dim", str(dim), *extra, str(src), "-o", str(many)])
                assert r.returncode == 0, r.stderr
                assert one.read_bytes() == many.read_bytes(), f"{op} dim {dim} with {n} ranks differs"
    assert not list(tmp_path.glob(".smx-tmp*"))


@pytest.mark.parametrize("shape", [(0, 3), ()])
def test_empty_and_0d_files(tmp_path, shape):
    src = tmp_path / "in.npy"
    np.save(src, np.ones(shape, dtype=np.float32))
    r = run_one(["softmax", "--dim", "0", str(src), "-o", str(tmp_path / "one.npy")])
    assert r.returncode == 0, r.stderr
    r = run_mpi(3, ["softmax", "--dim", "0", str(src), "-o", str(tmp_path / "many.npy")])
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "one.npy").read_bytes() == (tmp_path / "many.npy").read_bytes()


def test_bad_dim_fails_every_rank_and_keeps_the_old_output(tmp_path):
    src, out = tmp_path / "in.npy", tmp_path / "out.npy"
    np.save(src, data((10, 3)))
    out.write_bytes(b"old contents")
    r = run_mpi(3, ["softmax", "--dim", "2", str(src), "-o", str(out)])
    assert r.returncode != 0
    assert r.stderr.count("Dimension out of range") == 3  # every rank says why
    assert out.read_bytes() == b"old contents"
    assert not list(tmp_path.glob(".smx-tmp*"))


def test_missing_input_fails_every_rank(tmp_path):
    r = run_mpi(2, ["softmax", "--dim", "0", str(tmp_path / "nope.npy"), "-o", str(tmp_path / "out.npy")])
    assert r.returncode != 0 and "nope.npy" in r.stderr
    assert not (tmp_path / "out.npy").exists()


def test_unwritable_output_fails_every_rank_without_leftovers(tmp_path):
    src = tmp_path / "in.npy"
    np.save(src, data((10, 3)))
    r = run_mpi(2, ["softmax", "--dim", "0", str(src), "-o", str(tmp_path / "no_such_dir" / "out.npy")])
    assert r.returncode != 0 and "another rank failed" in r.stderr
    assert not list(tmp_path.rglob(".smx-tmp*"))


def test_stdin_or_no_output_is_a_usage_error_under_mpirun(tmp_path):
    r = run_mpi(2, ["softmax", "--dim", "0", "[1, 2, 3]"])
    assert r.returncode != 0 and "under mpirun, smx needs INPUT to be a .npy file" in r.stderr


def test_one_process_unchanged_without_mpirun(tmp_path):
    r = run_one(["softmax", "--dim", "0", "[1, 2, 3]"])
    assert r.returncode == 0 and r.stdout.startswith("tensor([0.0900, 0.2447, 0.6652])")
