"""The command's streaming path (.npy file in, .npy file out, in bounded blocks): bit-identical to
the in-memory op, bounded memory, and nothing left behind on failure.

SMX_STREAM_BLOCK_BYTES forces tiny blocks so small files take every streaming route (whole
slices, long rows in pieces, column slabs, tall columns in row blocks); SMX_STREAM=0 gives the
in-memory result (load everything, smx::softmax, save) to compare with byte for byte.
"""
import os
import subprocess

import numpy as np
import pytest
import torch

OPS = ["softmax", "log_softmax", "softmin"]


def smx(smx_bin, *args, env=None):
    """Runs the command with `env` on top of this process's environment (a None value unsets)."""
    e = dict(os.environ)
    e.update(env or {})
    e = {k: v for k, v in e.items() if v is not None}
    return subprocess.run([smx_bin, *args], capture_output=True, env=e, timeout=300)


def data(shape, descr, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape) * 4
    flat = a.reshape(-1)
    if flat.size > 4:  # the cases the merging must get right: -inf, a late large max
        flat[flat.size // 3] = -np.inf
        flat[-1] = 30.0
    return a.astype(descr)


def streamed_equals_in_memory(smx_bin, tmp_path, args, block):
    ref, out = tmp_path / "ref.npy", tmp_path / "out.npy"
    p = smx(smx_bin, *args, "-o", str(ref), env={"SMX_STREAM": "0"})
    assert p.returncode == 0, p.stderr
    q = smx(smx_bin, *args, "-o", str(out), env={"SMX_STREAM_BLOCK_BYTES": str(block)})
    assert q.returncode == 0, q.stderr
    assert q.stderr == p.stderr  # same warnings
    same = ref.read_bytes() == out.read_bytes()
    ref.unlink()
    out.unlink()
    return same


# (shape, dims, block bytes): each block size sends some dims down a different route.
ROUTES = [
    ((37, 50), [0, 1, -1], [64, 1024, 1 << 20]),          # whole slices; short column slabs
    ((5, 7, 9, 11), [0, 1, 2, 3], [64, 700, 1 << 20]),     # middle dims, slabs of several lanes
    ((3, 1300, 5), [0, 1, 2], [64, 4096]),                 # tall columns (n > 1024), one lane block
    ((2, 1100, 70), [1], [256, 4096]),                     # tall columns in several lane blocks
    ((2, 140000), [1, 0], [1024, 1 << 20]),                # long rows in pieces of 64Ki chunks
]


@pytest.mark.parametrize("shape,dims,blocks", ROUTES, ids=[str(r[0]) for r in ROUTES])
@pytest.mark.parametrize("descr", ["<f4", ">f8", "<f2"])
def test_streamed_output_is_bit_identical(smx_bin, tmp_path, shape, dims, blocks, descr):
    path = tmp_path / "in.npy"
    np.save(path, data(shape, descr))
    for dim in dims:
        for op in OPS:
            for block in blocks:
                assert streamed_equals_in_memory(smx_bin, tmp_path, [op, "--dim", str(dim), str(path)], block), \
                    (op, dim, block)


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16"])
@pytest.mark.parametrize("descr", ["<i2", ">i4", "|u1", "|b1", "<f4"])
def test_streamed_casts_are_bit_identical(smx_bin, tmp_path, descr, dtype):
    rng = np.random.default_rng(3)
    a = rng.integers(0, 2, (40, 1100)) if descr == "|b1" else rng.integers(0, 100, (40, 1100))
    path = tmp_path / "in.npy"
    np.save(path, a.astype(descr))
    for dim in [0, 1]:
        for block in [512, 1 << 16]:
            assert streamed_equals_in_memory(smx_bin, tmp_path, ["softmax", "--dim", str(dim), "--dtype", dtype,
                                                                 str(path)], block), (dim, block)


def test_streamed_result_matches_pytorch(smx_bin, tmp_path):
    a = data((1100, 40), "<f4")
    src, out = tmp_path / "in.npy", tmp_path / "out.npy"
    np.save(src, a)
    for dim in [0, 1]:
        p = smx(smx_bin, "log_softmax", "--dim", str(dim), str(src), "-o", str(out), env={"SMX_STREAM_BLOCK_BYTES": "512"})
        assert p.returncode == 0, p.stderr
        np.testing.assert_allclose(np.load(out), torch.log_softmax(torch.from_numpy(a), dim).numpy(), rtol=1e-5, atol=1e-5)


def test_reference_kernels_stream_whole_groups(smx_bin, tmp_path):
    path = tmp_path / "in.npy"
    np.save(path, data((1100, 6), "<f4"))
    old = os.environ.get("SMX_ISA")
    os.environ["SMX_ISA"] = "reference"
    try:
        for dim in [0, 1]:
            assert streamed_equals_in_memory(smx_bin, tmp_path, ["softmax", "--dim", str(dim), str(path)], 256)
    finally:
        if old is None:
            del os.environ["SMX_ISA"]
        else:
            os.environ["SMX_ISA"] = old


def test_implicit_dim_warns_once_when_streaming(smx_bin, tmp_path):
    path = tmp_path / "in.npy"
    np.save(path, data((3, 4, 5), "<f4"))
    p = smx(smx_bin, "softmax", str(path), "-o", str(tmp_path / "o.npy"), env={"SMX_STREAM_BLOCK_BYTES": "64"})
    assert p.returncode == 0
    assert p.stderr.decode().count("Implicit dimension choice for softmax has been deprecated") == 1
    np.testing.assert_allclose(np.load(tmp_path / "o.npy"), torch.softmax(torch.from_numpy(np.load(path)), 0).numpy(),
                               rtol=1e-6)


# ---- failures leave nothing ----------------------------------------------------------------

def only(tmp_path, *names):
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names)


@pytest.mark.parametrize("args,needle", [
    (["--dim", "2"], "Dimension out of range (expected to be in range of [-2, 1], but got 2)"),
    (["--dim", "0", "--dtype", "float32"], None),
])
def test_errors_before_any_output(smx_bin, tmp_path, args, needle):
    src = tmp_path / "in.npy"
    np.save(src, np.arange(12).reshape(3, 4))  # int64: needs --dtype
    out = tmp_path / "out.npy"
    out.write_bytes(b"precious")
    p = smx(smx_bin, "softmax", *args, str(src), "-o", str(out), env={"SMX_STREAM_BLOCK_BYTES": "16"})
    if needle is None:  # the good case, for contrast
        assert p.returncode == 0 and np.load(out).shape == (3, 4)
        return
    assert p.returncode == 1 and needle in p.stderr.decode()
    assert out.read_bytes() == b"precious"
    only(tmp_path, "in.npy", "out.npy")
    p = smx(smx_bin, "softmax", "--dim", "0", str(src), "-o", str(out), env={"SMX_STREAM_BLOCK_BYTES": "16"})
    assert p.returncode == 1 and "\"softmax_kernel_impl\" not implemented for 'Long'" in p.stderr.decode()
    assert out.read_bytes() == b"precious"


def test_bad_data_found_mid_stream_leaves_nothing(smx_bin, tmp_path):
    # A bool byte of 7 deep inside the data: found only when its block is read, after earlier
    # blocks were written - to the temporary file, which goes away.
    a = np.zeros((64, 64), np.bool_)
    src = tmp_path / "in.npy"
    np.save(src, a)
    raw = bytearray(src.read_bytes())
    raw[-100] = 7
    src.write_bytes(bytes(raw))
    out = tmp_path / "out.npy"
    out.write_bytes(b"precious")
    p = smx(smx_bin, "softmax", "--dim", "1", "--dtype", "float32", str(src), "-o", str(out),
            env={"SMX_STREAM_BLOCK_BYTES": "256"})
    assert p.returncode == 1 and "bool element holds the byte 7" in p.stderr.decode()
    assert out.read_bytes() == b"precious"
    only(tmp_path, "in.npy", "out.npy")
    fresh = tmp_path / "fresh.npy"
    p = smx(smx_bin, "softmax", "--dim", "0", "--dtype", "float32", str(src), "-o", str(fresh),
            env={"SMX_STREAM_BLOCK_BYTES": "256"})
    assert p.returncode == 1 and not fresh.exists()
    only(tmp_path, "in.npy", "out.npy")


def test_truncated_input_is_refused_before_output(smx_bin, tmp_path):
    src = tmp_path / "in.npy"
    np.save(src, np.ones((100, 100), np.float32))
    src.write_bytes(src.read_bytes()[:-4])
    p = smx(smx_bin, "softmax", "--dim", "0", str(src), "-o", str(tmp_path / "o.npy"))
    assert p.returncode == 1 and "truncated data" in p.stderr.decode()
    only(tmp_path, "in.npy")


# ---- bounded memory --------------------------------------------------------------------------

def peak_rss_mib(cmd, env):
    # /usr/bin/time, not wait4 here: a child forked from this process (torch loaded) would count
    # the interpreter's pages it had before exec.
    p = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], env=env, capture_output=True, timeout=300)
    assert p.returncode == 0, p.stderr
    return int(p.stderr.decode().strip().splitlines()[-1]) / 1024


@pytest.mark.parametrize("dim", [0, 1])
def test_memory_is_bounded_by_the_block_not_the_file(smx_bin, tmp_path, dim):
    if os.environ.get("SMX_SANITIZED") == "1":
        pytest.skip("sanitizer shadow memory inflates RSS")
    src = tmp_path / "in.npy"
    a = np.lib.format.open_memmap(src, mode="w+", dtype=np.float32, shape=(4096, 8192))  # 128 MiB
    a[:] = 1.0
    a.flush()
    del a
    env = dict(os.environ, SMX_STREAM_BLOCK_BYTES=str(1 << 20))
    streamed = peak_rss_mib([smx_bin, "softmax", "--dim", str(dim), str(src), "-o", str(tmp_path / "o.npy")], env)
    assert streamed < 48, streamed  # the file is 128 MiB, the output as much again
    y = np.load(tmp_path / "o.npy", mmap_mode="r")
    assert y.shape == (4096, 8192) and y[0, 0] == np.float32(1 / (4096 if dim == 0 else 8192))


# ---- show reads only what it prints -----------------------------------------------------------

@pytest.mark.parametrize("descr,fortran", [("<f4", False), ("<f8", True), (">f4", False), ("<i2", False)])
def test_show_big_files(smx_bin, tmp_path, descr, fortran):
    a = (np.arange(300 * 400).reshape(300, 400) % 977 / 7).astype(descr)
    if fortran:
        a = np.asfortranarray(a)
    src = tmp_path / "a.npy"
    np.save(src, a)
    p = smx(smx_bin, "show", str(src))
    assert p.returncode == 0, p.stderr
    native = a.astype(np.int64 if a.dtype.kind == "i" else a.dtype.newbyteorder("="))  # integers read as int64
    assert p.stdout.decode() == repr(torch.from_numpy(native)) + "\n"


@pytest.mark.parametrize("dtype", ["float64", "float16", "bfloat16"])
@pytest.mark.parametrize("shape", [(300, 400), (2, 3, 1000), (5000,), (8, 8, 8, 8), (40, 30)])
def test_show_with_dtype_casts_what_it_prints(smx_bin, tmp_path, shape, dtype):
    a = (np.random.default_rng(1).standard_normal(shape) * 100).astype(">f4")
    src = tmp_path / "a.npy"
    np.save(src, a)
    p = smx(smx_bin, "show", "--dtype", dtype, str(src))
    assert p.returncode == 0, p.stderr
    assert p.stdout.decode() == repr(torch.from_numpy(a.astype("<f4")).to(getattr(torch, dtype))) + "\n"


@pytest.mark.parametrize("shape,dim,block", [((2, 140000), 1, 1 << 16), ((1300, 40), 0, 4096)],
                         ids=["long rows in pieces", "tall columns in row blocks"])
def test_streaming_runs_the_reference_kernels_under_smx_isa_reference(smx_bin, tmp_path, shape, dim, block):
    """SMX_ISA=REFERENCE reaches the streaming pieces: streamed in small blocks, the file is the
    in-memory op's under REFERENCE byte for byte, and differs from the SIMD kernels' bytes (the
    reference computes in double, so some elements round differently)."""
    src = tmp_path / "in.npy"
    np.save(src, data(shape, "<f4", seed=9))
    args = ["softmax", "--dim", str(dim), str(src)]
    assert streamed_equals_in_memory(smx_bin, tmp_path, args, block)  # (the SIMD target)
    reference = {"SMX_ISA": "REFERENCE"}
    outs = {}
    for name, env in [("ref_stream", {**reference, "SMX_STREAM_BLOCK_BYTES": str(block)}),
                      ("ref_memory", {**reference, "SMX_STREAM": "0"}), ("simd_stream", {"SMX_STREAM_BLOCK_BYTES": str(block), "SMX_ISA": None})]:
        out = tmp_path / f"{name}.npy"
        p = smx(smx_bin, *args, "-o", str(out), env=env)
        assert p.returncode == 0, p.stderr
        outs[name] = out.read_bytes()
    assert outs["ref_stream"] == outs["ref_memory"]
    assert outs["ref_stream"] != outs["simd_stream"]
