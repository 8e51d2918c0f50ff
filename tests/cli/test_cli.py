"""The smx command against PyTorch and NumPy: every subcommand, option and error class.

Run by ctest with Debian's /usr/bin/python3 (python3-numpy, python3-torch, python3-pytest).
"""
import io
import os

import numpy as np
import pytest
import torch
from numpy.lib import format as npy_format

SEED_EXPECTED = """tensor([[1., 2.],
        [4., 3.],
        [5., 5.]])
torch.Size([3, 2])
tensor([[0.0132, 0.0420],
        [0.2654, 0.1142],
        [0.7214, 0.8438]])
tensor([1., 1.])
Softmax(dim=0)
"""

TORCH_OPS = {
    "softmax": lambda x, dim: torch.softmax(x, dim),
    "log_softmax": lambda x, dim: torch.log_softmax(x, dim),
    "softmin": lambda x, dim: torch.nn.functional.softmin(x, dim),
}


def npy_bytes(a, version=None):
    b = io.BytesIO()
    npy_format.write_array(b, a, version=version)
    return b.getvalue()


def write_npy(path, a, version=None):
    path.write_bytes(npy_bytes(a, version))
    return str(path)


def raw_npy(header, data=b"", version=1):
    """A .npy file with a hand-written header (for malformed inputs)."""
    h = header.encode()
    length = len(h).to_bytes(2 if version == 1 else 4, "little")
    return b"\x93NUMPY" + bytes([version, 0]) + length + h + data


# ---- happy paths --------------------------------------------------------------------------

def test_demo_prints_the_seed_example(run):
    assert run("demo", check_rc=0)[1] == SEED_EXPECTED


def test_version_and_info(run):
    assert run("--version", check_rc=0)[1].startswith("smx ")
    out = run("info", check_rc=0)[1]
    assert "simd:" in out and "threads:" in out and out.startswith("smx ")


@pytest.mark.parametrize("sub", ["softmax", "log_softmax", "softmin", "backward", "show", "demo", "info"])
def test_every_subcommand_has_help(run, sub):
    rc, out, _ = run(sub, "--help")
    assert rc == 0 and "Usage" in out


@pytest.mark.parametrize("op", ["softmax", "log_softmax", "softmin"])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_literal_prints_what_pytorch_prints(run, op, dim):
    literal = "[[1,2],[4,3],[5,5]]"
    expected = repr(TORCH_OPS[op](torch.tensor([[1, 2], [4, 3], [5, 5]], dtype=torch.float32), dim))
    assert run(op, "--dim", str(dim), literal, check_rc=0)[1] == expected + "\n"


def test_implicit_dim_warns_like_pytorch(run):
    rc, out, err = run("softmax", "[[1,2],[4,3]]")
    assert rc == 0
    assert out == repr(torch.softmax(torch.tensor([[1.0, 2], [4, 3]]), 1)) + "\n"
    assert ("Implicit dimension choice for softmax has been deprecated. "
            "Change the call to include dim=X as an argument.") in err


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16"])
def test_dtype_option(run, dtype):
    out = run("softmax", "--dim", "0", "--dtype", dtype, "[1, 2, 3]", check_rc=0)[1]
    tdtype = getattr(torch, dtype)
    x = torch.tensor([1.0, 2, 3], dtype=torch.float32).to(tdtype)
    expected = torch.softmax(x.float(), 0).to(tdtype) if dtype == "float16" else torch.softmax(x, 0)
    assert out == repr(expected) + "\n"


def test_threads_option(run):
    a = run("softmax", "--dim", "1", "--threads", "1", "[[1,2,3],[4,5,6]]", check_rc=0)[1]
    b = run("softmax", "--dim", "1", "--threads", "2", "[[1,2,3],[4,5,6]]", check_rc=0)[1]
    assert a == b


def test_stdin_literal_and_npy(run):
    out = run("softmax", "--dim", "0", "-", stdin=b"[1, 2]", check_rc=0)[1]
    assert out == repr(torch.softmax(torch.tensor([1.0, 2.0]), 0)) + "\n"
    a = np.array([[1.0, 2.0], [3.0, 5.0]], dtype=np.float64)
    out = run("log_softmax", "--dim", "1", stdin=npy_bytes(a), check_rc=0)[1]  # INPUT defaults to -
    assert out == repr(torch.log_softmax(torch.from_numpy(a), 1)) + "\n"


def test_show(run, tmp_path):
    a = np.arange(12, dtype=np.float32).reshape(3, 4) / 7
    path = write_npy(tmp_path / "a.npy", a)
    assert run("show", path, check_rc=0)[1] == repr(torch.from_numpy(a)) + "\n"
    assert run("show", "--dtype", "float64", path, check_rc=0)[1] == repr(torch.from_numpy(a).double()) + "\n"
    assert run("show", "[[1, 2], [3, 4]]", check_rc=0)[1] == "tensor([[1., 2.],\n        [3., 4.]])\n"


VARIANTS = [
    ("<f4", False, None), (">f4", False, None), ("<f8", True, None), (">f8", True, (2, 0)),
    ("<f2", False, (3, 0)), (">f2", True, None),
]


@pytest.mark.parametrize("descr,fortran,version", VARIANTS)
def test_numpy_float_variants_round_trip(run, tmp_path, descr, fortran, version):
    rng = np.random.default_rng(5)
    a = rng.standard_normal((3, 4, 5)).astype(descr)
    if fortran:
        a = np.asfortranarray(a)
    src = write_npy(tmp_path / "in.npy", a, version)
    out = tmp_path / "out.npy"
    run("softmax", "--dim", "1", src, "-o", str(out), check_rc=0)
    got = np.load(out)
    assert got.dtype == np.dtype(descr).newbyteorder("<")
    ref = torch.softmax(torch.from_numpy(a.astype(np.float32)), 1).numpy()
    tol = 1e-3 if a.dtype.itemsize == 2 else 1e-6
    np.testing.assert_allclose(got.astype(np.float64), ref, rtol=tol, atol=tol)


@pytest.mark.parametrize("descr", ["<i1", "<i2", ">i4", "<i8", "|u1", "<u2", ">u4", "<u8", "|b1"])
def test_integer_and_bool_arrays_need_dtype(run, tmp_path, descr):
    a = (np.arange(6) % 2 == 0) if descr == "|b1" else np.arange(6).astype(descr)
    a = a.reshape(2, 3)
    src = write_npy(tmp_path / "in.npy", a)
    rc, _, err = run("softmax", "--dim", "1", src)
    assert rc == 1
    name = "Bool" if descr == "|b1" else "Long"
    assert f"\"softmax_lastdim_kernel_impl\" not implemented for '{name}'" in err
    out = run("softmax", "--dim", "1", "--dtype", "float64", src, check_rc=0)[1]
    assert out == repr(torch.softmax(torch.from_numpy(a.astype(np.int64) if descr != "|b1" else a), 1,
                                     dtype=torch.float64)) + "\n"


def test_zero_dim_and_empty_files(run, tmp_path):
    assert run("softmax", "--dim", "0", write_npy(tmp_path / "s.npy", np.array(2.5, np.float32)),
               check_rc=0)[1] == "tensor(1.)\n"
    out = run("softmax", "--dim", "-1", write_npy(tmp_path / "e.npy", np.zeros((5, 0, 0), np.float32)), check_rc=0)[1]
    assert out == "tensor([], size=(5, 0, 0))\n"


def test_backward_matches_autograd(run, tmp_path):
    rng = np.random.default_rng(9)
    x = rng.standard_normal((4, 6))
    g = rng.standard_normal((4, 6))
    for op, fn in [("softmax", torch.softmax), ("log_softmax", torch.log_softmax)]:
        xt = torch.from_numpy(x).requires_grad_(True)
        y = fn(xt, 0)
        (expected,) = torch.autograd.grad(y, xt, torch.from_numpy(g))
        ypath = write_npy(tmp_path / "y.npy", y.detach().numpy())
        gpath = write_npy(tmp_path / "g.npy", g)
        out = tmp_path / "dx.npy"
        run("backward", "--op", op, "--dim", "0", "--grad", gpath, "--output", ypath, "-o", str(out), check_rc=0)
        np.testing.assert_allclose(np.load(out), expected.numpy(), rtol=1e-10, atol=1e-12)
        printed = run("backward", "--op", op, "--dim", "0", "--grad", gpath, "--output", ypath, check_rc=0)[1]
        assert printed.startswith("tensor([[") and "dtype=torch.float64" in printed


def test_bfloat16_is_written_as_float32(run, tmp_path):
    out = tmp_path / "o.npy"
    run("softmax", "--dim", "0", "--dtype", "bfloat16", "[1, 2, 3]", "-o", str(out), check_rc=0)
    got = np.load(out)
    assert got.dtype == np.float32
    expected = torch.softmax(torch.tensor([1.0, 2, 3]).bfloat16(), 0).float().numpy()
    np.testing.assert_array_equal(got, expected)


# ---- usage errors: exit 2 ------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    [], ["frobnicate"], ["softmax", "--dim"], ["softmax", "--dim", "x", "[1]"],
    ["softmax", "--dtype", "complex64", "[1]"], ["softmax", "--threads", "0", "[1]"],
    ["backward", "--op", "softmax", "--dim", "0"], ["backward", "--op", "exp", "--dim", "0", "--grad", "a",
                                                   "--output", "b"],
    ["softmax", "--nonsense", "[1]"], ["show", "[1]", "extra"],
])
def test_usage_errors_exit_2(run, args):
    rc, out, err = run(*args)
    assert rc == 2, (out, err)
    assert err.strip()


# ---- data errors: exit 1, the message names the file and the problem ------------------------

GOOD_HEADER = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }"

BAD_FILES = [
    ("empty", b"", "empty file"),
    ("magic", b"PK\x03\x04 not numpy at all", "wrong magic"),
    ("truncated_header", raw_npy(GOOD_HEADER)[:15], "truncated header"),
    ("not_a_dict", raw_npy("[1, 2, 3]"), "malformed header"),
    ("unparsable", raw_npy("{'descr': '<f4', 'fortran_order': Fals"), "malformed header"),
    ("complex", raw_npy("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", b"\0" * 8), "complex"),
    ("object", raw_npy("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", b"\0" * 8), "object"),
    ("strings", raw_npy("{'descr': '<U4', 'fortran_order': False, 'shape': (1,), }", b"\0" * 16), "strings"),
    ("negative_dim", raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-3,), }"), "negative dimension"),
    ("overflow", raw_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4), }"),
     "overflows"),
    ("huge_claim", raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000000000,), }"),
     "truncated data"),
    ("truncated_data", raw_npy(GOOD_HEADER, b"\0\0\x80?"), "truncated data"),
    ("bad_version", b"\x93NUMPY\x07\x00" + b"\0" * 20, "version"),
]


@pytest.mark.parametrize("name,data,needle", BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_npy_files(run, tmp_path, name, data, needle):
    path = tmp_path / f"{name}.npy"
    path.write_bytes(data)
    rc, out, err = run("softmax", "--dim", "0", str(path))
    assert rc == 1, (out, err)
    assert str(path) in err and needle in err, err
    assert out == ""


def test_huge_claim_costs_nothing(run, tmp_path):
    # 10^18 float64 elements would be 8 EB; the check happens before any allocation, so this
    # returns at once under a 1 GiB address-space limit.
    import resource
    import subprocess
    path = tmp_path / "huge.npy"
    path.write_bytes(raw_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000, 1000000000), }"))

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
    # AddressSanitizer reserves terabytes of shadow memory, so no address-space limit there; an
    # 8 EB allocation would still abort it.
    sanitized = os.environ.get("SMX_SANITIZED") == "1"
    p = subprocess.run([os.environ["SMX_BIN"], "show", str(path)], capture_output=True,
                       preexec_fn=None if sanitized else limit, timeout=30)
    assert p.returncode == 1 and b"truncated data" in p.stderr


@pytest.mark.parametrize("literal,needle", [
    ("[[1,2],[3]]", "ragged"), ("[[1,2],3]", "ragged"), ("[1,,2]", "expected a number"),
    ("[1 2]", "expected ',' or ']'"), ("[1, 2", "missing ']'"), ("[1, x]", "at offset"), ("[1e5e5]", "invalid number"),
    ("[" * 100 + "]" * 100, "nested deeper"),
])
def test_bad_literals_say_where(run, literal, needle):
    rc, out, err = run("softmax", "--dim", "0", literal)
    assert rc == 1 and needle in err and "offset" in err, err


def test_missing_file(run):
    rc, _, err = run("softmax", "--dim", "0", "no/such/file.npy")
    assert rc == 1 and "no/such/file.npy" in err and "no such file" in err


def test_dim_out_of_range_uses_pytorchs_message(run):
    rc, _, err = run("softmax", "--dim", "2", "[[1,2],[3,4]]")
    assert rc == 1
    assert "Dimension out of range (expected to be in range of [-2, 1], but got 2)" in err


def test_backward_shape_mismatch(run, tmp_path):
    g = write_npy(tmp_path / "g.npy", np.zeros((2, 3)))
    y = write_npy(tmp_path / "y.npy", np.zeros((3, 2)))
    rc, _, err = run("backward", "--op", "softmax", "--dim", "0", "--grad", g, "--output", y)
    assert rc == 1 and "shape" in err


# ---- output files: nothing half-written ---------------------------------------------------

def test_failure_never_touches_output(run, tmp_path):
    existing = tmp_path / "out.npy"
    existing.write_bytes(b"precious")
    rc, _, _ = run("softmax", "--dim", "5", "[1, 2]", "-o", str(existing))
    assert rc == 1
    assert existing.read_bytes() == b"precious"
    fresh = tmp_path / "fresh.npy"
    rc, _, _ = run("softmax", "--dim", "0", "[1, [2]]", "-o", str(fresh))
    assert rc == 1 and not fresh.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.npy"]  # no temporaries left


def test_output_into_missing_directory_is_a_data_error(run, tmp_path):
    rc, _, err = run("softmax", "--dim", "0", "[1, 2]", "-o", str(tmp_path / "nope" / "o.npy"))
    assert rc == 1 and "nope" in err


def test_success_replaces_output_atomically(run, tmp_path):
    out = tmp_path / "o.npy"
    out.write_bytes(b"old")
    run("softmin", "--dim", "0", "[1, 2]", "-o", str(out), check_rc=0)
    np.testing.assert_allclose(np.load(out), torch.softmax(-torch.tensor([1.0, 2.0]), 0).numpy(), rtol=1e-6)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.npy"]


@pytest.mark.parametrize("isa", ["reference", "AVX2", "sse4"])
def test_smx_isa_forces_a_target(smx_bin, isa):
    import subprocess
    env = dict(os.environ, SMX_ISA=isa)
    info = subprocess.run([smx_bin, "info"], capture_output=True, env=env, timeout=60)
    if isa == "AVX2" and b"AVX2" not in info.stdout and info.returncode != 0:
        pytest.skip("this CPU has no AVX2")
    assert info.returncode == 0, info.stderr
    assert f"simd: {isa.upper()}".encode() in info.stdout
    out = subprocess.run([smx_bin, "softmax", "--dim", "1", "[[1,2,3],[4,5,7]]"], capture_output=True, env=env,
                         timeout=60)
    assert out.stdout.decode() == repr(torch.softmax(torch.tensor([[1.0, 2, 3], [4, 5, 7]]), 1)) + "\n"


def test_unknown_smx_isa_is_an_error(smx_bin):
    import subprocess
    p = subprocess.run([smx_bin, "softmax", "--dim", "0", "[1]"], capture_output=True,
                       env=dict(os.environ, SMX_ISA="bogus"), timeout=60)
    assert p.returncode == 1 and b"SMX_ISA=bogus" in p.stderr and b"REFERENCE" in p.stderr


def test_several_inputs_into_a_directory(run, tmp_path):
    """smx OP IN... -o DIR: each result is DIR/<input's name>, as torch computes it."""
    arrays = {"a.npy": np.random.default_rng(1).standard_normal((6, 5)).astype(np.float32),
              "b.npy": np.random.default_rng(2).standard_normal((3, 4, 7)).astype(np.float64)}
    paths = [write_npy(tmp_path / name, a) for name, a in arrays.items()]
    (tmp_path / "out").mkdir()
    run("log_softmax", "--dim", "-1", *paths, "-o", str(tmp_path / "out"), check_rc=0)
    for name, a in arrays.items():
        got = np.load(tmp_path / "out" / name)
        want = torch.log_softmax(torch.from_numpy(a), -1).numpy()
        assert got.dtype == a.dtype
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def test_several_inputs_need_a_directory_and_distinct_names(run, tmp_path):
    a = write_npy(tmp_path / "a.npy", np.ones((2, 2), np.float32))
    (tmp_path / "sub").mkdir()
    b = write_npy(tmp_path / "sub" / "a.npy", np.ones((2, 2), np.float32))
    rc, _, err = run("softmax", "--dim", "0", a, a)
    assert rc == 1 and "-o must name an existing directory" in err
    rc, _, err = run("softmax", "--dim", "0", a, a, "-o", str(tmp_path / "nowhere"))
    assert rc == 1 and "-o must name an existing directory" in err
    rc, _, err = run("softmax", "--dim", "0", a, b, "-o", str(tmp_path))
    assert rc == 1 and "two INPUTs are named 'a.npy'" in err
    rc, _, err = run("softmax", "--dim", "0", a, "[1, 2]", "-o", str(tmp_path))
    assert rc == 1 and "each must be a .npy file" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npy", "sub"]
