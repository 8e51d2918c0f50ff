"""smx.torch against torch itself: values, gradients (gradcheck and gradgradcheck in float64),
the implicit-dim warning, errors, modules, no_grad/inference_mode, and a small causal
self-attention model trained for 20 steps with smx.torch in place of torch.softmax.

Tolerances: values and gradients against torch use the "torch" rows of tests/tolerances.h;
gradcheck uses its float64 defaults (eps 1e-6, atol 1e-5, rtol 1e-3) against finite differences;
the training run's float32 tolerance is stated at the test.
"""
import random
import warnings

import pytest

torch = pytest.importorskip("torch")

import smx  # noqa: E402
import smx.torch as st  # noqa: E402
from over_dims import over_dims  # noqa: E402
from tolerances import tol  # noqa: E402

torch.set_num_threads(1)

DTYPES = [torch.float64, torch.float32, torch.bfloat16]  # torch 1.13 has no CPU float16 softmax
FUNCS = {
    "softmax": (st.softmax, torch.nn.functional.softmax),
    "log_softmax": (st.log_softmax, torch.nn.functional.log_softmax),
    "softmin": (st.softmin, torch.nn.functional.softmin),
}


@pytest.mark.parametrize("name", list(FUNCS))
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_values_and_gradients_match_torch(name, dtype):
    ours_fn, torch_fn = FUNCS[name]
    rng = random.Random(hash((name, str(dtype))) % 1000)
    for case in range(12):
        shape = [rng.randint(1, 7) for _ in range(rng.randint(1, 4))]
        dim = rng.randrange(-len(shape), len(shape))
        base = torch.randn(shape, dtype=torch.float64, generator=torch.Generator().manual_seed(case)) * 3
        if len(shape) >= 2 and case % 3 == 0:  # a non-contiguous view
            base = base.transpose(0, -1).contiguous().transpose(0, -1)
        x1 = base.to(dtype).requires_grad_(True)
        x2 = base.to(dtype).requires_grad_(True)
        xd = base.to(dtype).double().requires_grad_(True)  # the float64 reference of the same input
        y1, y2, yd = ours_fn(x1, dim), torch_fn(x2, dim), torch_fn(xd, dim)
        g = torch.randn(shape, dtype=torch.float64, generator=torch.Generator().manual_seed(99 + case)).to(dtype)
        (y1 * g).sum().backward()
        (yd * g.double()).sum().backward()
        rtol, atol = tol("forward", "torch", dtype, log_form=name == "log_softmax")
        assert y1.dtype == y2.dtype and y1.shape == y2.shape
        torch.testing.assert_close(y1.double(), y2.double(), rtol=rtol, atol=atol, msg=f"{name} {shape} dim {dim}")
        # The gradient against float64 autograd (torch's own 16-bit backward is further from it than
        # smx's): the backward "torch" row, atol scaled by max|g| as tests/python/test_dims.py does
        # (16-bit: the rounding of y carried through g - sum(g * y), up to 2 max|g| per ulp of y).
        rtol, atol = tol("backward", "torch", dtype, log_form=name == "log_softmax")
        scale = max(float(g.double().abs().max()), 1.0)
        sixteen = dtype in (torch.float16, torch.bfloat16)
        assert x1.grad.dtype == dtype
        torch.testing.assert_close(x1.grad.double(), xd.grad, rtol=rtol * (4 if sixteen else 1),
                                   atol=atol * scale * (400 if sixteen else 10), msg=f"grad {name} {shape} dim {dim}")


@pytest.mark.parametrize("name", list(FUNCS))
def test_gradcheck_and_gradgradcheck(name):
    fn = FUNCS[name][0]
    gen = torch.Generator().manual_seed(1)
    for shape, dim in [((5,), 0), ((3, 4), 1), ((3, 4), 0), ((2, 3, 4), (0, 2)), ((2, 3, 4), -2), ((), 0)]:
        x = torch.randn(shape, dtype=torch.float64, generator=gen).requires_grad_(True)
        assert torch.autograd.gradcheck(lambda t: fn(t, dim), (x,))
        assert torch.autograd.gradgradcheck(lambda t: fn(t, dim), (x,))
    # a strided view, and dtype= (the cast is part of the graph, as torch's)
    x = torch.randn(4, 6, dtype=torch.float64, generator=gen)[:, ::2].requires_grad_(True)
    assert torch.autograd.gradgradcheck(lambda t: fn(t, 0), (x,))
    x32 = torch.randn(3, 5, dtype=torch.float32, generator=gen).requires_grad_(True)
    y = fn(x32, 1, dtype=torch.float64)
    assert y.dtype == torch.float64
    y.sum().backward()
    assert x32.grad.dtype == torch.float32


@pytest.mark.parametrize("name", list(FUNCS))
def test_several_dims_match_torch(name):
    ours_fn, torch_fn = FUNCS[name]
    x1 = torch.randn(3, 4, 5, 2, dtype=torch.float64).requires_grad_(True)
    x2 = x1.detach().clone().requires_grad_(True)
    g = torch.randn(3, 4, 5, 2, dtype=torch.float64)
    for dims in [(1, 2), (0, -1), (3, 0, 1)]:
        x1.grad = x2.grad = None
        y1, y2 = ours_fn(x1, dims), over_dims(torch_fn, x2, dims)
        (y1 * g).sum().backward()
        (y2 * g).sum().backward()
        torch.testing.assert_close(y1, y2, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(x1.grad, x2.grad, rtol=1e-12, atol=1e-12)


def masked_reference(x, mask, dim, scale, causal, log):
    """(scale * x).masked_fill(~keep, -inf), torch's op, fully masked groups filled with 0 (log: -inf)."""
    z = x * scale if scale is not None else x
    keep = torch.ones(x.shape, dtype=torch.bool) if mask is None else torch.broadcast_to(mask, x.shape)
    if causal:
        keep = keep & torch.ones(x.shape[-2], x.shape[-1], dtype=torch.bool).tril()
    z = z.masked_fill(~keep, float("-inf"))
    y = torch.log_softmax(z, dim) if log else torch.softmax(z, dim)
    fully = ~keep.any(dim, keepdim=True).expand(x.shape)
    return y.masked_fill(fully, float("-inf") if log else 0.0)


@pytest.mark.parametrize("log", [False, True])
def test_masked_forms_match_torch_composition_and_gradcheck(log):
    fn = st.masked_log_softmax if log else st.masked_softmax
    gen = torch.Generator().manual_seed(3)
    mask = torch.rand(4, 1, 6, generator=gen) < 0.6
    mask[0, 0, :] = False  # a fully masked row
    for dim, scale, causal in [(-1, None, False), (-1, 0.3, True), (1, 2.0, False), (0, None, False)]:
        x = torch.randn(4, 5, 6, dtype=torch.float64, generator=gen).requires_grad_(True)
        xr = x.detach().clone().requires_grad_(True)
        y = fn(x, mask, dim, scale=scale, causal=causal)
        yr = masked_reference(xr, mask, dim, scale, causal, log)
        torch.testing.assert_close(y, yr, rtol=1e-12, atol=1e-12)
        g = torch.randn(4, 5, 6, dtype=torch.float64, generator=gen)
        (y.masked_fill(torch.isinf(y), 0) * g).sum().backward()
        (yr.masked_fill(torch.isinf(yr), 0) * g).sum().backward()
        torch.testing.assert_close(x.grad, xr.grad, rtol=1e-12, atol=1e-12)
        if not log:  # gradcheck needs finite outputs
            assert torch.autograd.gradcheck(lambda t: fn(t, mask, dim, scale=scale, causal=causal), (x.detach().requires_grad_(True),))


def test_cross_entropy_gradcheck_and_against_torch():
    gen = torch.Generator().manual_seed(11)
    weight = torch.rand(5, dtype=torch.float64, generator=gen) + 0.5
    for shape, kw in [((4, 5), {}), ((4, 5), {"weight": weight, "label_smoothing": 0.2}),
                      ((2, 5, 3), {"reduction": "none", "ignore_index": 1}), ((5,), {"reduction": "sum"})]:
        x = torch.randn(shape, dtype=torch.float64, generator=gen).requires_grad_(True)
        tshape = () if len(shape) == 1 else (shape[0],) + shape[2:]
        t = torch.randint(0, 5, tshape, generator=gen)
        assert torch.autograd.gradcheck(lambda v: st.cross_entropy(v, t, **kw), (x,))
        xr = x.detach().clone().requires_grad_(True)
        torch.testing.assert_close(st.cross_entropy(x, t, **kw), torch.nn.functional.cross_entropy(xr, t, **kw))
    module, theirs = st.nn.CrossEntropyLoss(weight=weight), torch.nn.CrossEntropyLoss(weight=weight)
    assert isinstance(module, torch.nn.Module) and repr(module) == repr(theirs)
    assert module.state_dict().keys() == theirs.state_dict().keys()


def test_masked_forms_refuse_double_backward_clearly():
    x = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    y = st.masked_softmax(x, torch.ones(3, 4, dtype=torch.bool))
    g = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    (gx,) = torch.autograd.grad(y, x, g, create_graph=True)
    with pytest.raises(RuntimeError, match="differentiate twice"):
        gx.sum().backward()


def test_implicit_dim_warns_as_torch_and_picks_its_dim():
    for shape in [(3,), (2, 3), (2, 3, 4), (2, 3, 4, 5)]:
        x = torch.randn(shape)
        with warnings.catch_warnings(record=True) as ours:
            warnings.simplefilter("always")
            y = st.softmax(x)
        with warnings.catch_warnings(record=True) as theirs:
            warnings.simplefilter("always")
            ref = torch.nn.functional.softmax(x)
        assert [str(w.message) for w in ours] == [str(w.message) for w in theirs]
        assert ours[0].filename == __file__  # pointed at the caller
        torch.testing.assert_close(y, ref)


def test_errors_are_torchs():
    x = torch.randn(2, 3)
    for ours, theirs in [(lambda: st.softmax(x, 2), lambda: torch.softmax(x, 2)),
                         (lambda: st.log_softmax(x, -3), lambda: torch.log_softmax(x, -3))]:
        with pytest.raises(IndexError) as a:
            ours()
        with pytest.raises(IndexError) as b:
            theirs()
        assert str(a.value) == str(b.value)
    with pytest.raises(TypeError, match="must be Tensor"):
        st.softmax([1.0, 2.0], 0)
    with pytest.raises(RuntimeError):
        st.softmax(torch.arange(3), 0)  # integer input: torch raises too
    with pytest.raises(ValueError, match="3D or 4D"):
        st.nn.Softmax2d()(torch.randn(2, 3))


def test_no_grad_inference_mode_and_views():
    x = torch.randn(4, 5, requires_grad=True)
    with torch.no_grad():
        assert not st.softmax(x, 1).requires_grad
    with torch.inference_mode():
        y = st.softmax(torch.randn(4, 5), 1)
        assert y.is_inference()
    v = x[1:, ::2]
    v_ref = x.detach()[1:, ::2].clone().requires_grad_(True)
    st.softmax(v, 0).sum().backward()
    torch.softmax(v_ref, 0).sum().backward()
    torch.testing.assert_close(x.grad[1:, ::2], v_ref.grad, rtol=1e-5, atol=1e-6)
    assert float(x.grad[0].abs().sum()) == 0.0


def test_modules_are_torch_modules():
    for ours, theirs in [(st.nn.Softmax(dim=1), torch.nn.Softmax(dim=1)), (st.nn.LogSoftmax(0), torch.nn.LogSoftmax(0)),
                         (st.nn.Softmin(-1), torch.nn.Softmin(-1)), (st.nn.Softmax2d(), torch.nn.Softmax2d())]:
        assert isinstance(ours, torch.nn.Module)
        assert repr(ours) == repr(theirs)
        assert ours.state_dict() == {} and ours.to(torch.float64) is ours
        x = torch.randn(2, 3, 4, 5)
        torch.testing.assert_close(ours(x), theirs(x))
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), st.nn.LogSoftmax(dim=1))
    assert "LogSoftmax(dim=1)" in repr(model)
    assert smx.torch is st  # smx.torch is reachable after a plain `import smx`


class Attention(torch.nn.Module):
    """One causal self-attention layer plus an MLP, with the softmax passed in."""

    def __init__(self, width, softmax):
        super().__init__()
        self.qkv = torch.nn.Linear(width, 3 * width)
        self.out = torch.nn.Linear(width, width)
        self.mlp = torch.nn.Sequential(torch.nn.Linear(width, 2 * width), torch.nn.GELU(), torch.nn.Linear(2 * width, width))
        self.softmax = softmax
        self.width = width

    def forward(self, h):
        q, k, v = self.qkv(h).chunk(3, dim=-1)
        scores = q @ k.transpose(-1, -2)
        p = self.softmax(scores)
        h = h + self.out(p @ v)
        return h + self.mlp(h)


class TinyModel(torch.nn.Module):
    def __init__(self, vocab, width, softmax):
        super().__init__()
        self.embed = torch.nn.Embedding(vocab, width)
        self.layers = torch.nn.ModuleList([Attention(width, softmax) for _ in range(2)])
        self.head = torch.nn.Linear(width, vocab)

    def forward(self, tokens):
        h = self.embed(tokens)
        for layer in self.layers:
            h = layer(h)
        return self.head(h)


def test_training_a_causal_attention_model_matches_torch():
    """20 SGD steps, the same initial weights and data: smx.torch.masked_softmax(causal, scale)
    in place of (scale * scores).masked_fill(~tril, -inf).softmax(-1), and smx.torch.cross_entropy
    in place of F.cross_entropy. Both runs are float32;
    they differ by the last bits of each softmax (a few float32 ulps), which training carries
    forward: measured 8e-8 relative on the losses and 6e-8 on the parameters after 20 steps, so
    losses must agree within 1e-6 relative and every parameter within 1e-6 + 1e-5 relative at every
    step (a scale off by 0.1% fails: 3e-6 on the loss)."""
    vocab, width, seq, batch = 17, 16, 12, 4
    scale = width ** -0.5
    tril = torch.ones(seq, seq, dtype=torch.bool).tril()

    def torch_softmax(scores):
        return (scores * scale).masked_fill(~tril, float("-inf")).softmax(-1)

    def smx_softmax(scores):
        return st.masked_softmax(scores, None, -1, scale=scale, causal=True)

    torch.manual_seed(0)
    ref = TinyModel(vocab, width, torch_softmax)
    ours = TinyModel(vocab, width, smx_softmax)
    ours.load_state_dict(ref.state_dict())
    opt_ref = torch.optim.SGD(ref.parameters(), lr=0.1)
    opt_ours = torch.optim.SGD(ours.parameters(), lr=0.1)
    data = torch.randint(0, vocab, (20, batch, seq + 1), generator=torch.Generator().manual_seed(5))
    losses_of = {id(ref): torch.nn.functional.cross_entropy, id(ours): st.cross_entropy}
    for step in range(20):
        tokens, targets = data[step, :, :-1], data[step, :, 1:]
        losses = []
        for model, opt in ((ref, opt_ref), (ours, opt_ours)):
            opt.zero_grad()
            loss = losses_of[id(model)](model(tokens).reshape(-1, vocab), targets.reshape(-1))
            loss.backward()
            opt.step()
            losses.append(float(loss))
        assert abs(losses[0] - losses[1]) <= 1e-6 * abs(losses[0]), f"step {step}: {losses}"
        for (name, a), b in zip(ref.named_parameters(), ours.parameters()):
            torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6, msg=f"step {step}: {name}")
        first = losses[0] if step == 0 else first
    assert losses[0] < first  # it trained
