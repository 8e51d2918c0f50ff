"""`mpirun -n N smx softmax|log_softmax|softmin --dim D IN.npy -o OUT.npy` against one process.

The output file must be byte for byte the one a single `smx` process writes (cmp), for every
dtype, dim 0 (statistics combined across ranks) and other dims (rows independent), with 1-4
ranks, uneven and empty shards, NaN and inf. Each launch processes a list of files (the command
takes several INPUTs and -o DIR), so the whole file stays at a few dozen launches. Errors must fail every rank, leave no output file
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


def run_one(args, simd=False):
    """One process, outside mpirun; simd=True: on the SIMD kernels even under SMX_ISA=REFERENCE."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMPI_", "PMI")) and not (simd and k == "SMX_ISA")}
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
SPECIAL = ("tall_columns", "short_columns", "long_row")  # NaN, +inf, -inf in these

# One launch processes a list of files (smx OP IN... -o DIR), so each configuration - op, dim,
# dtype flag, rank count - is one mpirun, not one per file. softmax runs on float32, float64 and
# float16 files at every rank count; the other ops and bfloat16 (--dtype on the float32 files)
# at 3 ranks (uneven shards) and 4 (empty shards for the 2-row file).
CONFIGS = ([("softmax", dim, "", n) for dim in (0, -1) for n in RANKS] +
           [(op, dim, extra, n) for op, extra in (("log_softmax", ""), ("softmin", ""), ("softmax", "bfloat16"))
            for dim in (0, -1) for n in (3, 4)])


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """{dtype: [paths]}: every shape saved once per stored dtype."""
    root = tmp_path_factory.mktemp("inputs")
    files = {}
    for dtype in ("float32", "float64", "float16"):
        (root / dtype).mkdir()
        files[dtype] = []
        for name, shape in SHAPES:
            path = root / dtype / f"{name}.npy"
            np.save(path, data(shape, special=name in SPECIAL).astype(dtype))
            files[dtype].append(path)
    return files


def files_for(inputs, op, extra):
    if op == "softmax" and not extra:
        return inputs["float32"] + inputs["float64"] + inputs["float16"]
    return inputs["float32"]


def run_config(out, runner, op, dim, extra, files):
    """The op on every file into out/<dtype>/, one launch per stored dtype (file names repeat)."""
    flags = [op, "--dim", str(dim)] + (["--dtype", extra] if extra else [])
    by_dtype = {}
    for f in files:
        by_dtype.setdefault(f.parent.name, []).append(str(f))
    for dtype, paths in by_dtype.items():
        (out / dtype).mkdir(parents=True)
        r = runner([*flags, *paths, "-o", str(out / dtype)])
        assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("op,dim,extra,ranks", CONFIGS)
def test_same_bytes_as_one_process(tmp_path, inputs, op, dim, extra, ranks):
    files = files_for(inputs, op, extra)
    run_config(tmp_path / "one", run_one, op, dim, extra, files)
    run_config(tmp_path / "many", lambda args: run_mpi(ranks, args), op, dim, extra, files)
    for f in files:
        one = tmp_path / "one" / f.parent.name / f.name
        many = tmp_path / "many" / f.parent.name / f.name
        assert one.read_bytes() == many.read_bytes(), f"{op} dim {dim} {extra} {f.parent.name}/{f.name}, {ranks} ranks"
    assert not list(tmp_path.rglob(".smx-tmp*"))


def test_a_failing_file_stops_the_batch_on_every_rank(tmp_path):
    """The files before the failing one are complete, the failing one and those after it leave
    nothing (no file, no temporary)."""
    names = ["a.npy", "b.npy", "c.npy"]
    np.save(tmp_path / "a.npy", data((20, 3)).astype(np.float32))
    np.save(tmp_path / "b.npy", np.arange(12, dtype=np.int64).reshape(4, 3))  # integers: the op's dtype error
    np.save(tmp_path / "c.npy", data((20, 3)).astype(np.float32))
    (tmp_path / "out").mkdir()
    r = run_mpi(2, ["softmax", "--dim", "0", *(str(tmp_path / n) for n in names), "-o", str(tmp_path / "out")])
    assert r.returncode != 0 and "not implemented for 'Long'" in r.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.npy"]
    one = tmp_path / "one.npy"
    assert run_one(["softmax", "--dim", "0", str(tmp_path / "a.npy"), "-o", str(one)]).returncode == 0
    assert one.read_bytes() == (tmp_path / "out" / "a.npy").read_bytes()
    assert not list(tmp_path.rglob(".smx-tmp*"))


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


@pytest.mark.parametrize("name,shape", [("tall_columns", (1500, 5)), ("long_row", (140001,)), ("short_columns", (103, 7))])
def test_the_ranks_run_the_reference_kernels_under_smx_isa_reference(tmp_path, name, shape):
    """SMX_ISA=REFERENCE reaches the ranks' pieces: 3 ranks write one process's REFERENCE bytes,
    which differ from the SIMD kernels' (the reference computes in double)."""
    src = tmp_path / "in.npy"
    np.save(src, data(shape).astype(np.float32))
    args = ["softmax", "--dim", "0", str(src)]
    reference = dict(os.environ, SMX_ISA="REFERENCE")
    one_ref, many_ref, one_simd = tmp_path / "one_ref.npy", tmp_path / "many_ref.npy", tmp_path / "one_simd.npy"
    env = {k: v for k, v in reference.items() if not k.startswith(("OMPI_", "PMI"))}
    assert subprocess.run([SMX, *args, "-o", str(one_ref)], capture_output=True, env=env).returncode == 0
    r = subprocess.run([MPIRUN, "-n", "3", SMX, *args, "-o", str(many_ref)], capture_output=True, text=True,
                       timeout=120, env=reference)
    assert r.returncode == 0, r.stderr
    assert run_one([*args, "-o", str(one_simd)], simd=True).returncode == 0
    assert one_ref.read_bytes() == many_ref.read_bytes()
    assert one_ref.read_bytes() != one_simd.read_bytes()
