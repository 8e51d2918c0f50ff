"""Softmax over a tuple of dims (smx.softmax(x, dim=(1, 2)) and the other ops) against a float64
PyTorch oracle: permute the group dims to the end, reshape them into one, softmax, reshape and
permute back; autograd through the same oracle for the backward passes.

Tolerances, |smx - oracle| <= atol + rtol * |oracle| against the float64 oracle computed from
the input's own (already rounded) values; NaN must match NaN:
  float64   rtol 1e-12, atol 1e-14  (double arithmetic, 1-ulp exp)
  float32   rtol 2e-6,  atol 1e-7   (smx's kernels promise a few float32 ulps, sums in double)
  float16   rtol 1.5e-3, atol 1e-5  (one rounding to 11 bits, 4.9e-4, plus float32 compute)
  bfloat16  rtol 1.2e-2, atol 1e-4  (one rounding to 8 bits, 3.9e-3, plus float32 compute)
Backward: the same rtol; atol scaled by the largest |grad| (gradients cancel towards 0), and
16-bit outputs are compared with 4x the forward tolerance (y and g are both rounded inputs).
"""
import math
import random

import numpy as np
import pytest
import scipy.special
import torch

import smx
from over_dims import over_dims
from tolerances import tol

torch.set_num_threads(1)

DTYPES = [torch.float64, torch.float32, torch.float16, torch.bfloat16]
TOL = {dt: tol("forward", "oracle", dt) for dt in DTYPES}
LOG_TOL = {dt: tol("forward", "oracle", dt, log_form=True) for dt in DTYPES}
BACKWARD_TOL = {dt: tol("backward", "torch", dt) for dt in DTYPES}
OPS = {
    "softmax": (smx.softmax, torch.softmax),
    "log_softmax": (smx.log_softmax, torch.log_softmax),
    "softmin": (smx.softmin, torch.nn.functional.softmin),
}


def oracle(op, x, dims):
    """op over the flattened group `dims` of x, in float64, the permute + reshape way."""
    return over_dims(OPS[op][1], x.double(), dims)


def to_torch(result):
    return torch.from_numpy(np.asarray(result)) if isinstance(result, np.ndarray) else torch.from_dlpack(result)


def assert_close(ours, ref, dtype, case, atol_scale=1.0, rtol_scale=1.0, table=None):
    assert tuple(ours.shape) == tuple(ref.shape), case
    rtol, atol = (table or TOL)[dtype]
    torch.testing.assert_close(ours.double(), ref.double(), rtol=rtol * rtol_scale, atol=atol * atol_scale,
                               equal_nan=True, msg=lambda m: f"{case}\n{m}")


def random_shape(rng, rank, budget=20_000):
    shape = [rng.choice([1, 2, 3, 4, 5, 7, 8, 13, 17, 33, 64, 65]) for _ in range(rank)]
    while math.prod(shape) > budget:
        i = max(range(rank), key=lambda k: shape[k])
        shape[i] = max(1, shape[i] // 3)
    return shape


def random_dims(rng, rank):
    """Two or more distinct dims (one dim is the single-dim op), randomly negative, any order."""
    k = rng.randrange(2, rank + 1)
    dims = rng.sample(range(rank), k)
    return tuple(d - rank if rng.random() < 0.4 else d for d in dims)


def random_values(rng, shape, dtype):
    gen = torch.Generator().manual_seed(rng.randrange(2**31))
    x = torch.randn(shape, generator=gen, dtype=torch.float64) * rng.choice([1, 1, 5])
    kind = rng.random()
    if kind < 0.15 and x.numel():
        flat = x.view(-1)
        for _ in range(max(1, flat.numel() // 40)):
            flat[rng.randrange(flat.numel())] = rng.choice([math.inf, -math.inf, math.nan])
    elif kind < 0.25 and x.numel():
        x.view(-1)[: max(1, x.numel() // 3)] = -math.inf  # whole groups of -inf, often
    return x.to(dtype)


def random_view(rng, x):
    kind = rng.choice(["contiguous", "contiguous", "transpose", "permute", "step", "offset"])
    if x.dim() < 2 or kind == "contiguous":
        return x
    if kind == "transpose":
        return x.transpose(0, -1)
    if kind == "permute":
        perm = list(range(x.dim()))
        rng.shuffle(perm)
        return x.permute(perm)
    d = rng.randrange(x.dim())
    if kind == "step" and x.shape[d] > 2:
        idx = [slice(None)] * x.dim()
        idx[d] = slice(None, None, 2)
        return x[tuple(idx)]
    if kind == "offset" and x.shape[d] > 1:
        return x.narrow(d, 1, x.shape[d] - 1)
    return x


@pytest.mark.parametrize("i", range(400))
def test_forward_matches_float64_oracle(i):
    rng = random.Random(i)
    rank = rng.randrange(2, 6)
    dtype = list(TOL)[i % 4]
    op = rng.choice(list(OPS))
    x = random_view(rng, random_values(rng, random_shape(rng, rank), dtype))
    dims = random_dims(rng, rank)
    via_numpy = dtype != torch.bfloat16 and rng.random() < 0.4
    ours = to_torch(OPS[op][0](x.numpy() if via_numpy else x, dims))
    assert ours.dtype == dtype
    case = f"case {i}: {op} shape {tuple(x.shape)} strides {x.stride()} dims {dims} {dtype} numpy={via_numpy}"
    assert_close(ours, oracle(op, x, dims), dtype, case, table=LOG_TOL if op == "log_softmax" else TOL)


@pytest.mark.parametrize("i", range(150))
def test_backward_matches_autograd(i):
    rng = random.Random(5000 + i)
    rank = rng.randrange(2, 6)
    dtype = list(TOL)[i % 4]
    shape = random_shape(rng, rank, 5000)
    dims = random_dims(rng, rank)
    log = i % 3 == 0
    gen = torch.Generator().manual_seed(i)
    x = torch.randn(shape, generator=gen, dtype=torch.float64).requires_grad_(True)
    # grad_output laid out transposed (a strided operand), half the time
    g = torch.randn(shape[::-1], generator=gen, dtype=torch.float64).permute(*reversed(range(rank)))
    g = (g if rng.random() < 0.5 else g.contiguous()).to(dtype)
    y = oracle("log_softmax" if log else "softmax", x, dims)
    y_d = y.detach().to(dtype)  # what a caller holds: the forward result in its dtype
    # The reference is autograd through the float64 forward, while smx differentiates its own
    # rounded y_d: the backward "torch" row (one rounding more), with the slack below for y_d's
    # rounding carried through g - sum(g * y) (16-bit: up to 2 max|g| per ulp of y).
    x2 = x.detach().clone().requires_grad_(True)
    y2 = oracle("log_softmax" if log else "softmax", x2, dims)
    (expected,) = torch.autograd.grad(y2, x2, g.double())
    fn = smx.log_softmax_backward if log else smx.softmax_backward
    ours = to_torch(fn(g, y_d, dims))
    assert ours.dtype == dtype
    scale = max(float(g.double().abs().max()), 1.0)
    sixteen = dtype in (torch.float16, torch.bfloat16)
    assert_close(ours, expected, dtype, f"backward case {i}: log={log} shape {shape} dims {dims} {dtype}",
                 atol_scale=scale * (400 if sixteen else 10), rtol_scale=4 if sixteen else 1, table=BACKWARD_TOL)


def test_scipy_agrees():
    x = np.random.default_rng(0).standard_normal((4, 5, 6, 3))
    for axis in [(0, 2), (1, 3), (-1, -3), (0, 1, 2, 3), (2, 1)]:
        np.testing.assert_allclose(smx.softmax(x, axis), scipy.special.softmax(x, axis=axis), rtol=1e-12)
        np.testing.assert_allclose(smx.log_softmax(x, dim=axis), scipy.special.log_softmax(x, axis=axis),
                                   rtol=1e-12, atol=1e-13)


def test_one_dim_tuple_is_the_single_dim_op_bitwise():
    x = np.random.default_rng(1).standard_normal((5, 6, 7)).astype(np.float32)
    for d in range(-3, 3):
        assert np.array_equal(smx.softmax(x, (d,)), smx.softmax(x, d))
        assert np.array_equal(smx.log_softmax(x, [d]), smx.log_softmax(x, d))


def test_adjacent_dims_are_reshape_plus_softmax_bitwise():
    x = np.random.default_rng(2).standard_normal((3, 4, 5, 6)).astype(np.float32)
    assert np.array_equal(smx.softmax(x, (2, 3)), smx.softmax(x.reshape(3, 4, 30), 2).reshape(x.shape))


def test_groups_sum_to_one():
    x = torch.randn(3, 4, 5, 6, dtype=torch.float64)
    y = to_torch(smx.softmax(x, dim=(0, 2)))
    torch.testing.assert_close(y.sum((0, 2)), torch.ones(4, 6, dtype=torch.float64), rtol=0, atol=1e-13)


def test_dtype_argument_and_integers():
    x = np.arange(24).reshape(2, 3, 4)
    ours = smx.softmax(x, (0, 2), dtype="float64")
    np.testing.assert_allclose(ours, oracle("softmax", torch.from_numpy(x), (0, 2)).numpy(), rtol=1e-12)


def test_empty_tensors():
    for shape, dims in [((3, 0, 4), (0, 2)), ((0, 5), (0, 1)), ((2, 0), (1, 0))]:
        x = np.zeros(shape, np.float32)
        assert smx.softmax(x, dims).shape == shape
        assert smx.softmax_backward(x, x, dims).shape == shape


def torch_reduction_error(x, dims):
    """PyTorch's words for a bad dim list (torch.sum checks lists the same way)."""
    with pytest.raises(Exception) as info:
        torch.sum(x, dim=dims)
    return info.type, str(info.value)


@pytest.mark.parametrize("dims", [(1, 1), (1, -1), (0, 5), (-3, 0), (0, 0, 7), (0, 1, 2)])
def test_errors_match_torch_dim_list_errors(dims):
    x = torch.randn(3, 2)
    kind, message = torch_reduction_error(x, dims)
    for fn in (smx.softmax, smx.log_softmax, smx.softmin):
        with pytest.raises(kind) as info:
            fn(x, dims)
        assert str(info.value) == message
    with pytest.raises(kind) as info:
        smx.softmax_backward(x, x, dims)
    assert str(info.value) == message


def test_empty_dim_list_is_refused():
    with pytest.raises(RuntimeError, match="empty list of dims is ambiguous"):
        smx.softmax(np.ones((3, 2)), ())
    with pytest.raises(RuntimeError, match="empty list of dims is ambiguous"):
        smx.log_softmax_backward(np.ones((3, 2)), np.ones((3, 2)), [])


def test_non_floating_input():
    with pytest.raises(RuntimeError, match="not implemented for 'Long'"):
        smx.softmax(np.arange(6).reshape(3, 2), (0, 1))


def test_single_int_fast_path_untouched():
    """A plain int dim still goes through the C fast path (a built-in function call)."""
    x = np.ones((4, 4), np.float32)
    assert type(smx.softmax).__name__ == "builtin_function_or_method"
    np.testing.assert_array_equal(smx.softmax(x, 1), np.full((4, 4), 0.25, np.float32))
