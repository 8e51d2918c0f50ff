"""`smx cross_entropy`: the loss printed as PyTorch prints it, --reduction none to a .npy file,
weights, label smoothing, ignore_index, probability targets, and PyTorch's errors (exit 1).

Tolerance: the forward "oracle" rows of tests/tolerances.h in log form (against F.cross_entropy
in float64); printing: exactly torch's print of its own float32 loss, where both round alike."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from tolerances import tol


def test_prints_the_loss_as_pytorch(run, tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 10)).astype(np.float32)
    t = rng.integers(0, 10, 8)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "t.npy", t)
    _, out, _ = run("cross_entropy", str(tmp_path / "x.npy"), "--target", str(tmp_path / "t.npy"), check_rc=0)
    assert out == str(F.cross_entropy(torch.from_numpy(x), torch.from_numpy(t))) + "\n"
    _, out, _ = run("cross_entropy", "[[1,2,3],[4,3,2]]", "--target", "[2,0]", check_rc=0)
    assert out == str(F.cross_entropy(torch.tensor([[1.0, 2, 3], [4, 3, 2]]), torch.tensor([2, 0]))) + "\n"


@pytest.mark.parametrize("options", [
    dict(),
    dict(weight=True),
    dict(label_smoothing=0.2),
    dict(weight=True, label_smoothing=0.1, ignore_index=3),
    dict(prob=True, label_smoothing=0.3),
])
def test_every_option_against_torch(run, tmp_path, options):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((6, 5, 3)).astype(np.float64)
    prob = options.get("prob", False)
    t = rng.dirichlet(np.ones(5), (6, 3)).transpose(0, 2, 1).copy() if prob else rng.integers(0, 5, (6, 3))
    w = rng.random(5) + 0.5
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "t.npy", t)
    np.save(tmp_path / "w.npy", w)
    args = ["cross_entropy", str(tmp_path / "x.npy"), "--target", str(tmp_path / "t.npy")]
    kw = {}
    if options.get("weight"):
        args += ["--weight", str(tmp_path / "w.npy")]
        kw["weight"] = torch.from_numpy(w)
    if "label_smoothing" in options:
        args += ["--label-smoothing", str(options["label_smoothing"])]
        kw["label_smoothing"] = options["label_smoothing"]
    if "ignore_index" in options:
        args += ["--ignore-index", str(options["ignore_index"])]
        kw["ignore_index"] = options["ignore_index"]
    rtol, atol = tol("forward", "oracle", "float64", log_form=True)
    for reduction in ["mean", "sum", "none"]:
        out = tmp_path / f"{reduction}.npy"
        run(*args, "--reduction", reduction, "-o", str(out), check_rc=0)
        want = F.cross_entropy(torch.from_numpy(x), torch.from_numpy(t), reduction=reduction, **kw).numpy()
        np.testing.assert_allclose(np.load(out), want, rtol=rtol, atol=atol, err_msg=f"{options} {reduction}")


@pytest.mark.parametrize("args,message", [
    (["[[1,2,3]]", "--target", "[5]"], "Target 5 is out of bounds."),
    (["[[1,2,3],[1,2,3]]", "--target", "[0]"], "Expected input batch_size (2) to match target batch_size (1)."),
    (["[[1,2,3]]", "--target", "[0]", "--label-smoothing", "1.5"], "label_smoothing must be between 0.0 and 1.0. Got: 1.5"),
])
def test_errors_as_pytorch(run, args, message):
    code, out, err = run("cross_entropy", *args)
    assert code == 1 and out == ""
    assert message in err


def test_usage_errors(run):
    code, _, err = run("cross_entropy", "[[1,2]]")
    assert code == 2 and "--target" in err
    code, _, err = run("cross_entropy", "[[1,2]]", "--target", "[0]", "--reduction", "avg")
    assert code == 2
