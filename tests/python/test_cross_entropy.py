"""smx.cross_entropy, its gradient, token_logprobs and entropy against PyTorch in float64.

The reference is torch.nn.functional.cross_entropy (and autograd through it) on the input already
rounded to the dtype, computed in float64. Tolerances (tests/tolerances.h, the "oracle" rows):
the loss with the forward row in log form (atol = rtol: a loss near 0 is an absolute matter);
gradients with the backward row's rtol, and an atol of that rtol times the largest reference
element (the gradient of a mean is small everywhere, so its scale sets what "near 0" means) or,
where the exact gradient is 0 everywhere (C = 1), times one target's share of the upstream
gradient.
Errors: the same exception type and message as PyTorch for the same call.
"""
import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import smx
from tolerances import tol

torch.set_num_threads(1)

DTYPES = [torch.float64, torch.float32, torch.float16, torch.bfloat16]
SHAPES = [(5,), (6, 5), (3, 5, 2, 2), (4, 1)]


def as_torch(r):
    return torch.from_numpy(np.asarray(r)) if isinstance(r, (np.ndarray, np.generic)) else torch.from_dlpack(r)


def close(got, want, dtype, what, grad=False, grad_scale=0.0):
    got = as_torch(got).double()
    assert got.shape == want.shape, what
    if grad:
        rtol, _ = tol("backward", "oracle", dtype)
        atol = rtol * max(float(want.abs().max()) if want.numel() else 0.0, grad_scale, 1e-300)
    else:
        rtol, atol = tol("forward", "oracle", dtype, log_form=True)
    torch.testing.assert_close(got, want, rtol=rtol, atol=atol, equal_nan=True, msg=lambda m: f"{what}\n{m}")


def make_case(shape, dtype, prob, seed):
    gen = torch.Generator().manual_seed(seed)
    x = (torch.randn(shape, generator=gen, dtype=torch.float64) * 3).to(dtype)
    C = shape[0] if len(shape) == 1 else shape[1]
    if prob:
        target = torch.softmax(torch.randn(shape, generator=gen, dtype=torch.float64), 0 if len(shape) == 1 else 1)
        target = target.to(dtype if dtype != torch.float16 else torch.float32)
    else:
        tshape = () if len(shape) == 1 else (shape[0],) + tuple(shape[2:])
        target = torch.randint(0, C, tshape, generator=gen)
        if target.numel() > 1:
            target.view(-1)[0] = -100  # one ignored target
    weight = (torch.rand(C, generator=gen, dtype=torch.float64) + 0.5).to(dtype)
    return x, target, weight


def reference(x, target, weight, reduction, smoothing, ignore=-100):
    xd = x.double().detach().requires_grad_(True)
    td = target.double() if target.is_floating_point() else target
    wd = None if weight is None else weight.double()
    loss = F.cross_entropy(xd, td, weight=wd, ignore_index=ignore, reduction=reduction, label_smoothing=smoothing)
    return loss, xd


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("prob", [False, True], ids=["indices", "probabilities"])
def test_every_option_against_torch(dtype, prob):
    seed = 0
    for shape, reduction, smoothing, weighted in itertools.product(SHAPES, ["mean", "sum", "none"], [0.0, 0.1, 1.0],
                                                                   [False, True]):
        seed += 1
        x, target, weight = make_case(shape, dtype, prob, seed)
        w = weight if weighted else None
        what = f"{dtype} prob={prob} {shape} {reduction} smoothing={smoothing} weighted={weighted}"
        ref, xd = reference(x, target, w, reduction, smoothing)
        ours = smx.cross_entropy(x, target, weight=w, reduction=reduction, label_smoothing=smoothing)
        assert as_torch(ours).dtype == (torch.promote_types(dtype, target.dtype) if prob else dtype)
        close(ours, ref, dtype, what)
        g = torch.rand(ref.shape, dtype=torch.float64) + 0.5 if reduction == "none" else torch.tensor(0.7, dtype=torch.float64)
        (dx_ref,) = torch.autograd.grad(ref, xd, g, retain_graph=True)
        share = float(g.abs().max()) * (float(w.double().max()) if weighted else 1.0) / (
            max(target.numel(), 1) if reduction == "mean" else 1)
        dx = smx.cross_entropy_backward(g.to(dtype), x, target, weight=w, reduction=reduction, label_smoothing=smoothing)
        close(dx, dx_ref, dtype, "backward " + what, grad=True, grad_scale=share)
        loss, dx1 = smx.cross_entropy_with_grad(x, target, weight=w, reduction=reduction, label_smoothing=smoothing)
        close(loss, ref, dtype, "with_grad loss " + what)
        (dx1_ref,) = torch.autograd.grad(ref, xd, torch.ones_like(ref))
        close(dx1, dx1_ref, dtype, "with_grad " + what, grad=True, grad_scale=share / float(g.abs().max()))


def test_numpy_in_numpy_out_and_the_module():
    x = np.random.default_rng(0).standard_normal((8, 10)).astype(np.float32)
    t = np.arange(8) % 10
    loss = smx.cross_entropy(x, t)
    assert isinstance(loss, np.ndarray) and loss.dtype == np.float32 and loss.shape == ()
    ref = F.cross_entropy(torch.from_numpy(x).double(), torch.from_numpy(t))
    assert abs(float(loss) - float(ref)) <= 2e-6 * abs(float(ref))
    module = smx.nn.CrossEntropyLoss(label_smoothing=0.1, reduction="sum")
    assert repr(module) == repr(torch.nn.CrossEntropyLoss(label_smoothing=0.1, reduction="sum"))
    ref = F.cross_entropy(torch.from_numpy(x).double(), torch.from_numpy(t), label_smoothing=0.1, reduction="sum")
    assert abs(float(module(x, t)) - float(ref)) <= 2e-6 * abs(float(ref))


def test_inplace_gradient_overwrites_the_logits():
    gen = torch.Generator().manual_seed(7)
    x = torch.randn(64, 1000, generator=gen)
    t = torch.randint(0, 1000, (64,), generator=gen)
    ref, xd = reference(x, t, None, "mean", 0.0)
    (dref,) = torch.autograd.grad(ref, xd)
    buf = x.clone()
    loss, dx = smx.cross_entropy_with_grad(buf, t, inplace=True)
    assert dx is buf
    close(loss, ref, torch.float32, "inplace loss")
    close(buf, dref, torch.float32, "inplace gradient", grad=True)
    arr = x.numpy().copy()
    loss, dx = smx.cross_entropy_with_grad(arr, t.numpy(), inplace=True)
    assert dx is arr
    close(arr, dref, torch.float32, "inplace gradient (NumPy)", grad=True)
    with pytest.raises(ValueError, match="inplace"):
        smx.cross_entropy_with_grad(x.numpy().astype(">f4"), t.numpy(), inplace=True)


def test_special_values_and_edges_as_torch():
    inf, nan = float("inf"), float("nan")
    x = torch.tensor([[1e30, 0.0, -1e30], [0.0, -inf, 1.0], [-inf, -inf, -inf], [1.0, inf, 0.0], [nan, 1.0, 2.0],
                      [3.0, 2.0, 1.0]], dtype=torch.float64)
    t = torch.tensor([0, 1, 0, 2, 1, -100])
    for reduction, smoothing in itertools.product(["none", "sum", "mean"], [0.0, 0.2]):
        ref, _ = reference(x, t, None, reduction, smoothing)
        close(smx.cross_entropy(x, t, reduction=reduction, label_smoothing=smoothing), ref, torch.float64,
              f"specials {reduction} {smoothing}")
    # every target ignored: mean is NaN, sum 0 (and smoothing's mean too)
    t_all = torch.full((6,), -100)
    for reduction, smoothing in itertools.product(["mean", "sum"], [0.0, 0.3]):
        ref, _ = reference(x[:2], t_all[:2], None, reduction, smoothing)
        close(smx.cross_entropy(x[:2], t_all[:2], reduction=reduction, label_smoothing=smoothing), ref, torch.float64,
              f"all ignored {reduction} {smoothing}")
    # an empty batch, C = 1, a custom ignore_index
    for xs, ts, kw in [(torch.randn(0, 4), torch.zeros(0, dtype=torch.long), {}),
                       (torch.randn(5, 1), torch.zeros(5, dtype=torch.long), {}),
                       (torch.randn(4, 3), torch.tensor([0, 1, 2, 1]), {"ignore_index": 1})]:
        ref = F.cross_entropy(xs.double(), ts, **kw)
        close(smx.cross_entropy(xs, ts, **kw), ref, torch.float32, f"edge {tuple(xs.shape)} {kw}")


def test_token_logprobs_and_entropy_against_the_expressions():
    gen = torch.Generator().manual_seed(3)
    for dtype in DTYPES:
        x = (torch.randn(3, 7, 11, generator=gen, dtype=torch.float64) * 4).to(dtype)
        for dim in [-1, 1, 0]:
            ids = torch.randint(0, x.shape[dim], x.shape[:dim % 3] + (5,) + x.shape[dim % 3 + 1:], generator=gen)
            want = torch.log_softmax(x.double(), dim).gather(dim, ids)
            close(smx.token_logprobs(x, ids, dim), want, dtype, f"token_logprobs {dtype} dim {dim}")
            p = torch.softmax(x.double(), dim)
            close(smx.entropy(x, dim), -(p * p.log()).sum(dim), dtype, f"entropy {dtype} dim {dim}")
    # -inf logits: p = 0 contributes 0 (Categorical's rule), where the literal expression gives NaN
    x = torch.tensor([[0.0, -float("inf"), 1.0]], dtype=torch.float64)
    want = torch.distributions.Categorical(logits=x).entropy()
    close(smx.entropy(x, -1), want, torch.float64, "entropy with -inf")
    with pytest.raises(RuntimeError, match="out of bounds"):
        smx.token_logprobs(x, torch.tensor([[3]]), -1)


def error_of(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001 (the type is what is compared)
        return type(e).__name__, str(e).split("\n")[0]
    return None


def test_errors_as_torch():
    x, t = torch.randn(3, 4), torch.tensor([0, 1, 2])
    cases = [
        ((x, torch.tensor([0, 1])), {}),
        ((x, torch.tensor([0, 1, 5])), {}),
        ((x, torch.tensor([0, 1, -3])), {}),
        ((x, t.float()), {}),
        ((x, t), {"weight": torch.ones(2)}),
        ((x, t), {"weight": torch.ones(4, 1)}),
        ((x, t), {"weight": torch.ones(4).double()}),
        ((x, t), {"label_smoothing": 1.5}),
        ((x, torch.rand(3, 4)), {"label_smoothing": 1.5}),
        ((x, torch.rand(3, 4)), {"ignore_index": 1}),
        ((x, torch.rand(3, 4)), {"weight": torch.ones(3)}),
        ((x, t), {"reduction": "avg"}),
        ((x.long(), t), {}),
        ((x, t.view(3, 1)), {}),
        ((torch.randn(2, 3, 4, 5), torch.zeros(2, 4, 4, dtype=torch.long)), {}),
        ((torch.randn(2, 3, 4, 5), torch.zeros(3, 4, 5, dtype=torch.long)), {}),
        ((torch.randn(2, 3, 4), torch.zeros(2, dtype=torch.long)), {}),
        ((torch.randn(4), torch.tensor([2])), {}),
        ((torch.randn(3, 0), torch.zeros(3, dtype=torch.long)), {}),
        ((torch.tensor(1.0), torch.tensor(0)), {}),
    ]
    for args, kw in cases:
        theirs = error_of(lambda: F.cross_entropy(*args, **kw))
        ours = error_of(lambda: smx.cross_entropy(*args, **kw))
        assert theirs is not None and ours == theirs, f"{[tuple(a.shape) for a in args]} {kw}: {ours} != {theirs}"


def test_inplace_form_needs_no_memory_beyond_the_logits():
    """Peak RSS while cross_entropy_with_grad(inplace=True) runs on 256 MiB of logits grows by at
    most 1% of them (ru_maxrss: the process's peak so far, which already holds the logits)."""
    import resource
    rng = np.random.default_rng(5)
    logits = np.empty((2048, 32768), np.float32)
    for i in range(0, 2048, 256):
        logits[i:i + 256] = rng.standard_normal((256, 32768), dtype=np.float32)
    target = rng.integers(0, 32768, 2048)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    loss, grad = smx.cross_entropy_with_grad(logits, target, inplace=True)
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
    assert grad is logits and np.isfinite(float(loss))
    assert grown <= 0.01 * logits.nbytes, f"peak RSS grew by {grown / 2**20:.1f} MiB"
