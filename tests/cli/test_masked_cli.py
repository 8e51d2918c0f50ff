"""`smx masked_softmax` / `smx masked_log_softmax`: results against a float64 PyTorch oracle
((scale * x).masked_fill(~mask, -inf), softmax, the fully-masked rule), printing as PyTorch
prints, and clear errors with the documented exit codes (1 bad data, 2 usage).

Tolerance: the forward "oracle" rows of tests/tolerances.h (the results against a float64 oracle)."""
import numpy as np
import pytest
import torch
from tolerances import tol


def oracle(x, mask, dim=-1, scale=None, causal=False, policy="zero", log=False):
    t = torch.from_numpy(x)
    if scale is not None:
        t = t * scale  # rounded in x's dtype, as PyTorch's user path
    keep = torch.ones(t.shape, dtype=torch.bool) if mask is None else torch.broadcast_to(torch.from_numpy(mask), t.shape)
    if causal:
        keep = keep & torch.ones(t.shape[-2], t.shape[-1], dtype=torch.bool).tril()
    z = t.double().masked_fill(~keep, float("-inf"))
    y = torch.log_softmax(z, dim) if log else torch.softmax(z, dim)
    fully = ~keep.any(dim, keepdim=True).expand(t.shape)
    return y.masked_fill(fully, float("nan") if policy == "nan" else (float("-inf") if log else 0.0)).numpy()


@pytest.mark.parametrize("op", ["masked_softmax", "masked_log_softmax"])
@pytest.mark.parametrize("dtype,rtol,atol", [(np.float32, *tol("forward", "oracle", "float32")),
                                             (np.float64, *tol("forward", "oracle", "float64"))])
def test_files_against_torch(run, tmp_path, op, dtype, rtol, atol):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 6, 6)).astype(dtype)
    mask = rng.random((3, 1, 6)) < 0.6
    mask[1, 0, :] = False  # fully masked rows (with causal they stay fully masked)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "m.npy", mask)
    log = op == "masked_log_softmax"
    cases = [
        ([], dict()),
        (["--scale", "0.25"], dict(scale=0.25)),
        (["--causal"], dict(causal=True)),
        (["--causal", "--scale", "2", "--fully-masked", "nan"], dict(causal=True, scale=2.0, policy="nan")),
        (["--dim", "1"], dict(dim=1)),
    ]
    for extra, kw in cases:
        out = tmp_path / "y.npy"
        run(op, "--mask", str(tmp_path / "m.npy"), *extra, str(tmp_path / "x.npy"), "-o", str(out), check_rc=0)
        y = np.load(out)
        assert y.dtype == dtype
        np.testing.assert_allclose(y, oracle(x, mask, log=log, **kw), rtol=rtol, atol=atol, err_msg=str(extra))


def test_prints_like_pytorch(run):
    _, out, _ = run("masked_softmax", "--mask", "[[1,0,1]]", "[[1,2,3],[4,5,6]]", check_rc=0)
    x = torch.tensor([[1.0, 2, 3], [4, 5, 6]])
    expected = torch.softmax(x.masked_fill(~torch.tensor([[True, False, True]]), float("-inf")), -1)
    assert out == repr(expected) + "\n"


def test_no_mask_and_causal_alone(run, tmp_path):
    x = np.random.default_rng(2).standard_normal((4, 5)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    run("masked_softmax", "--causal", str(tmp_path / "x.npy"), "-o", str(tmp_path / "y.npy"), check_rc=0)
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), oracle(x, None, causal=True),
                               *tol("forward", "oracle", "float32"))


@pytest.mark.parametrize("args,rc,message", [
    (["--mask", "[1,0]", "[[1,2,3]]"], 1, "The size of tensor a (3) must match the size of tensor b (2)"),
    (["--causal", "--dim", "0", "[[1,2],[3,4]]"], 1, "causal applies only to the last dim"),
    (["--causal", "[1,2]"], 1, "at least 2 dims"),
    (["--dim", "3", "[1,2]"], 1, "Dimension out of range"),
    (["--fully-masked", "maybe", "[1,2]"], 2, "not in {zero,nan}"),
    (["--scale", "abc", "[1,2]"], 2, "expected a number"),
    (["--scale", "inf", "[1,2]"], 2, "expected a finite number"),
])
def test_errors(run, args, rc, message):
    code, _, err = run("masked_softmax", *args)
    assert code == rc
    assert message in err


def test_non_bool_mask_file(run, tmp_path):
    np.save(tmp_path / "m.npy", np.ones((1, 2), np.int64))
    code, _, err = run("masked_softmax", "--mask", str(tmp_path / "m.npy"), "[[1,2]]")
    assert code == 1 and "expected a bool mask" in err


def test_help(run):
    _, out, _ = run("masked_log_softmax", "--help", check_rc=0)
    for word in ("--mask", "--scale", "--causal", "--fully-masked", "--dim", "--out"):
        assert word in out
