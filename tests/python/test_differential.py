"""Differential conformance: smx against PyTorch itself, on thousands of generated cases.

Every case is made from a fixed seed (its index), so a failure names a reproducible case.

Tolerances: the "torch" rows of tests/tolerances.h (|smx - torch| <= atol + rtol * |torch|, NaN
must match NaN, infinities exactly). For float16 and bfloat16 the reference is torch's float32
result rounded once: torch 1.13 has no float16 softmax on CPU, and its own bfloat16 kernel returns
NaN for whole finite columns of some strided inputs that hold a NaN elsewhere (forward case 11).
Backward: the backward rows, with atol scaled by the largest |grad_output|.
"""
import math
import random
import warnings

import numpy as np
import pytest
import torch

import smx
from tolerances import tol

torch.set_num_threads(1)

DTYPES = [torch.float64, torch.float32, torch.float16, torch.bfloat16]
TOL = {dt: tol("forward", "torch", dt) for dt in DTYPES}
BACKWARD_TOL = {dt: tol("backward", "torch", dt) for dt in DTYPES}
EDGE_SIZES = [0, 1, 2, 3, 5, 7, 8, 13, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 129, 257, 1031]
OPS = {
    "softmax": (smx.softmax, torch.softmax),
    "log_softmax": (smx.log_softmax, torch.log_softmax),
    "softmin": (smx.softmin, torch.nn.functional.softmin),
}
N_FORWARD = 3000
N_BACKWARD = 600
N_ERRORS = 300


def random_shape(rng, rank, budget=40_000):
    shape = []
    for _ in range(rank):
        shape.append(rng.choice(EDGE_SIZES[:12] if rank > 3 else EDGE_SIZES))
    while math.prod(shape) > budget:
        i = max(range(rank), key=lambda k: shape[k])
        shape[i] = max(1, shape[i] // 3)
    return shape


def random_values(rng, shape, dtype):
    gen = torch.Generator().manual_seed(rng.randrange(2**31))
    kind = rng.choice(["normal", "normal", "wide", "shift", "specials", "extreme", "denormal", "all_neg_inf"])
    x = torch.randn(shape, generator=gen, dtype=torch.float64)
    if kind == "wide":
        x = x * 30
    elif kind == "shift" and dtype in (torch.float32, torch.float64):
        x = torch.round(x * 10) + 1e7  # exact in float32: log_softmax must not care
    elif kind == "specials" and x.numel():
        flat = x.view(-1)
        for _ in range(max(1, flat.numel() // 50)):
            flat[rng.randrange(flat.numel())] = rng.choice([math.inf, -math.inf, math.nan])
    elif kind == "extreme" and dtype in (torch.float32, torch.float64):
        x = x.sign() * 3.4e38 * (x.abs() > 1) + x
    elif kind == "denormal":
        x = x * 1e-39 if dtype != torch.float64 else x * 1e-310
    elif kind == "all_neg_inf" and x.numel() and x.dim() > 0:
        x[tuple(0 for _ in range(x.dim()))] = -math.inf
        x.view(-1)[: max(1, x.numel() // 4)] = -math.inf
    return x.to(dtype)


def random_view(rng, x):
    """A strided, transposed or offset view of x (PyTorch semantics: same values, other layout)."""
    kind = rng.choice(["contiguous", "transpose", "offset", "step", "permute"])
    if x.dim() == 0 or kind == "contiguous":
        return x
    if kind == "transpose" and x.dim() >= 2:
        return x.transpose(0, -1)
    if kind == "permute":
        perm = list(range(x.dim()))
        rng.shuffle(perm)
        return x.permute(perm)
    d = rng.randrange(x.dim())
    if kind == "offset" and x.shape[d] > 1:
        return x.narrow(d, 1, x.shape[d] - 1)
    if kind == "step" and x.shape[d] > 2:
        idx = [slice(None)] * x.dim()
        idx[d] = slice(None, None, 2)
        return x[tuple(idx)]
    return x


def same_shape_strided(rng, shape, gen, dtype):
    """Random values of `shape` laid out non-contiguously (transposed or every other element)."""
    if not shape or rng.random() < 0.3:
        return torch.randn(shape, generator=gen, dtype=dtype)
    if rng.random() < 0.5:
        return torch.randn(shape[::-1], generator=gen, dtype=dtype).permute(*reversed(range(len(shape))))
    big = torch.randn([2 * s for s in shape], generator=gen, dtype=dtype)
    return big[tuple(slice(None, None, 2) for _ in shape)]


def torch_reference(op, x, dim):
    """torch's result; 16-bit types computed in float32 and rounded once (see the docstring)."""
    fn = OPS[op][1]
    if x.dtype in (torch.float16, torch.bfloat16):
        return fn(x.float(), dim).to(x.dtype)
    return fn(x, dim)


def to_torch(result):
    return torch.from_numpy(np.asarray(result)) if isinstance(result, np.ndarray) else torch.from_dlpack(result)


def assert_matches(ours, ref, case):
    assert ours.shape == ref.shape, case
    assert ours.dtype == ref.dtype, case
    rtol, atol = TOL[ref.dtype]
    torch.testing.assert_close(ours, ref, rtol=rtol, atol=atol, equal_nan=True, msg=lambda m: f"{case}\n{m}")


def forward_case(i):
    rng = random.Random(i)
    rank = rng.randrange(7)
    dtype = rng.choice(list(TOL))
    op = rng.choice(list(OPS))
    shape = random_shape(rng, rank)
    x = random_view(rng, random_values(rng, shape, dtype))
    dim = rng.randrange(-max(rank, 1), max(rank, 1))
    via_numpy = dtype != torch.bfloat16 and rng.random() < 0.4
    return rng, op, x, dim, via_numpy


@pytest.mark.parametrize("i", range(N_FORWARD))
def test_forward(i):
    _, op, x, dim, via_numpy = forward_case(i)
    arg = x.numpy() if via_numpy else x
    ours = to_torch(OPS[op][0](arg, dim))
    case = f"case {i}: {op} shape {tuple(x.shape)} strides {x.stride()} dim {dim} {x.dtype} numpy={via_numpy}"
    assert_matches(ours, torch_reference(op, x, dim), case)


@pytest.mark.parametrize("i", range(400))
def test_dtype_promotion(i):
    rng = random.Random(10_000 + i)
    rank = rng.randrange(1, 4)
    shape = random_shape(rng, rank, 2000)
    src = rng.choice(["int64", "int32", "int8", "uint8", "bool", "float32", "float64"])
    target = rng.choice([torch.float32, torch.float64, torch.bfloat16])
    op = rng.choice(["softmax", "log_softmax", "softmin"])
    if src == "bool" and op == "softmin":
        op = "softmax"  # PyTorch refuses to negate bools; tested in test_errors
    if src == "uint8" and op == "softmin":
        op = "softmax"  # PyTorch negates uint8 modulo 256; smx reads integers as int64 (README)
    gen = torch.Generator().manual_seed(i)
    if src == "bool":
        x = torch.rand(shape, generator=gen) > 0.5
    elif src.startswith("float"):
        x = torch.randn(shape, generator=gen, dtype=getattr(torch, src))
    else:
        x = torch.randint(0, 100, shape, generator=gen, dtype=getattr(torch, src))
    dim = rng.randrange(-rank, rank)
    ours = to_torch(OPS[op][0](x.numpy(), dim, dtype=str(target).replace("torch.", "")))
    if target == torch.bfloat16:
        assert ours.dtype == torch.float32  # NumPy output carries bfloat16 values as float32
        assert torch.equal(ours, ours.bfloat16().float()), "values are not bfloat16-rounded"
        ours = ours.bfloat16()
        ref = torch_reference(op, x.to(target), dim)
    else:
        ref = OPS[op][1](x, dim, dtype=target)
    assert_matches(ours, ref, f"promotion case {i}: {src}->{target} {op} shape {shape} dim {dim}")


@pytest.mark.parametrize("i", range(N_BACKWARD))
def test_backward(i):
    rng = random.Random(20_000 + i)
    rank = rng.randrange(7)
    dtype = rng.choice([torch.float32, torch.float64])
    shape = random_shape(rng, rank, 5000)
    gen = torch.Generator().manual_seed(i)
    x = (torch.randn(shape, generator=gen, dtype=dtype) * rng.choice([1, 5])).requires_grad_(True)
    g = same_shape_strided(rng, shape, gen, dtype)
    dim = rng.randrange(-max(rank, 1), max(rank, 1))
    log = rng.random() < 0.5
    y = (torch.log_softmax if log else torch.softmax)(x, dim)
    (expected,) = torch.autograd.grad(y, x, g)
    fn = smx.log_softmax_backward if log else smx.softmax_backward
    ours = to_torch(fn(g, y.detach(), dim))
    rtol, atol = BACKWARD_TOL[dtype]
    scale = float(g.abs().max()) if g.numel() else 1.0
    torch.testing.assert_close(ours, expected, rtol=rtol, atol=atol * max(scale, 1.0) * 10,
                               msg=lambda m: f"backward case {i}: log={log} shape {shape} dim {dim} {dtype}\n{m}")


def outcome(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - the type and words are what we compare
        return type(e).__name__, str(e)
    return "ok", ""


@pytest.mark.parametrize("i", range(N_ERRORS))
def test_errors(i):
    rng = random.Random(30_000 + i)
    rank = rng.randrange(5)
    shape = random_shape(rng, rank, 500)
    kind = rng.choice(["bad_dim", "int", "bool", "bool_softmin"])
    op = rng.choice(list(OPS))
    n = max(rank, 1)
    dim = rng.choice([n, n + rng.randrange(5), -n - 1 - rng.randrange(5)]) if kind == "bad_dim" else rng.randrange(-n, n)
    if kind == "bad_dim":
        x = torch.zeros(shape)
    elif kind == "int":
        x = torch.zeros(shape, dtype=torch.int64)
    else:
        x = torch.zeros(shape, dtype=torch.bool)
        if kind == "bool_softmin":
            op = "softmin"
    theirs = outcome(lambda: OPS[op][1](x, dim, dtype=torch.float32 if kind == "bool_softmin" else None))
    ours = outcome(lambda: OPS[op][0](x.numpy(), dim, dtype="float32" if kind == "bool_softmin" else None))
    assert ours == theirs, f"error case {i}: {kind} {op} shape {shape} dim {dim}"


@pytest.mark.parametrize("op", list(OPS))
@pytest.mark.parametrize("rank", range(6))
def test_implicit_dim_warning(op, rank):
    x = torch.randn([2] * rank)
    with warnings.catch_warnings(record=True) as ours:
        warnings.simplefilter("always")
        y = OPS[op][0](x)
    with warnings.catch_warnings(record=True) as theirs:
        warnings.simplefilter("always")
        ref = OPS[op][1](x) if op == "softmin" else getattr(torch.nn.functional, op)(x)
    assert [(w.category, str(w.message)) for w in ours] == [(w.category, str(w.message)) for w in theirs]
    assert_matches(to_torch(y), ref, f"implicit {op} rank {rank}")


@pytest.mark.parametrize("dim", [None, 0, 1, -1, -3])
def test_module_reprs(dim):
    for name in ["Softmax", "LogSoftmax", "Softmin"]:
        assert repr(getattr(smx.nn, name)(dim)) == repr(getattr(torch.nn, name)(dim))
    assert repr(smx.nn.Softmax2d()) == repr(torch.nn.Softmax2d())
