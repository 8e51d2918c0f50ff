"""smx.masked_softmax / masked_log_softmax / masked_softmax_backward against a float64 PyTorch
oracle: (scale * x).masked_fill(~mask, -inf), torch.softmax, then the fully-masked rule; the
backward against autograd through the same composition.

The oracle takes scale * x as PyTorch computes it in x's dtype (what a user's
`(scale * x).masked_fill(...)` feeds softmax), then works in float64. Tolerances: the "oracle"
rows of tests/tolerances.h (|smx - oracle| <= atol + rtol * |oracle|; NaN must match NaN,
infinities exactly); backward: the backward "torch" rows (autograd of the float64 forward, while smx
differentiates its own rounded y), atol at least 4 * eps(dtype) * scale * max|grad| (reason there).
"""
import itertools
import math
import warnings

import numpy as np
import pytest
import torch

import smx
from tolerances import tol

torch.set_num_threads(1)
DTYPES = [torch.float64, torch.float32, torch.float16, torch.bfloat16]
# (the backward reference is autograd through the float64 forward, while smx differentiates its own
# rounded y: torch's row, one rounding more)
BACKWARD_TOL = {dt: tol("backward", "torch", dt) for dt in DTYPES}
NINF = float("-inf")


def keep_mask(mask, shape, causal):
    keep = torch.ones(shape, dtype=torch.bool) if mask is None else torch.broadcast_to(torch.as_tensor(mask), shape)
    if causal:
        keep = keep & torch.ones(shape[-2], shape[-1], dtype=torch.bool).tril()
    return keep


def oracle(x, mask, dim, scale=None, causal=False, fully_masked="zero", log=False):
    scaled = x * scale if scale is not None else x  # rounded once in x's dtype, as PyTorch does
    keep = keep_mask(mask, x.shape, causal)
    z = scaled.double().masked_fill(~keep, NINF)
    y = torch.log_softmax(z, dim) if log else torch.softmax(z, dim)
    fully = ~keep.any(dim, keepdim=True).expand(x.shape)
    fill = float("nan") if fully_masked == "nan" else (NINF if log else 0.0)
    return y.masked_fill(fully, fill)


def as_torch(result):
    return torch.from_numpy(np.asarray(result)) if isinstance(result, np.ndarray) else torch.from_dlpack(result)


def assert_close(got, expected, dtype, atol_scale=1.0, log=False):
    rtol, atol = tol("forward", "oracle", dtype, log_form=log)
    got = got.double()
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, rtol=rtol, atol=atol * atol_scale, equal_nan=True)


def smx_call(fn, x, mask, **kw):
    """NumPy in where NumPy can hold the dtype (bfloat16 goes through DLPack), as users call it."""
    if x.dtype == torch.bfloat16:
        return as_torch(fn(x, mask, **kw))
    m = mask.numpy() if isinstance(mask, torch.Tensor) else mask
    return as_torch(fn(x.numpy(), m, **kw))


def mask_shapes(shape):
    """Every broadcast class: full, last dim only (lower rank), row (1, .., S), column (.., L, 1),
    scalar (0-d), all ones-dims, leading broadcast dim (1, ...)."""
    nd = len(shape)
    out = [tuple(shape), (shape[-1],), (), (1,) * nd]
    out.append((1,) * (nd - 1) + (shape[-1],))
    out.append(tuple(shape[:-1]) + (1,))
    if nd >= 2:
        out.append((1,) + tuple(shape[1:]))
    return list(dict.fromkeys(out))


SHAPES = [(37,), (6, 45), (3, 5, 19), (2, 3, 4, 11), (2, 2, 3, 2, 7)]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_forward_every_mask_class_dim_and_dtype(dtype, shape):
    gen = torch.Generator().manual_seed(hash((str(dtype), shape)) % 2**31)
    for case, (mshape, dim) in enumerate(itertools.product(mask_shapes(shape), range(-len(shape), len(shape)))):
        x = (torch.randn(shape, generator=gen, dtype=torch.float64) * 3).to(dtype)
        mask = torch.rand(mshape, generator=gen) < 0.6
        scale = [None, 0.125, 2.0][case % 3]
        policy = ["zero", "nan"][case % 2]
        for log, fn in ((False, smx.masked_softmax), (True, smx.masked_log_softmax)):
            got = smx_call(fn, x, mask, dim=dim, scale=scale, fully_masked=policy)
            assert_close(got, oracle(x, mask, dim, scale, False, policy, log), dtype, log=log)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("shape", [(6, 6), (2, 3, 9, 9), (4, 10), (10, 4), (2, 1, 7, 3)], ids=str)
def test_causal_square_and_rectangular(dtype, shape):
    gen = torch.Generator().manual_seed(7)
    x = torch.randn(shape, generator=gen, dtype=torch.float64).to(dtype)
    for mask in (None, torch.rand(shape[:-2] + (1, shape[-1]), generator=gen) < 0.7):
        for log, fn in ((False, smx.masked_softmax), (True, smx.masked_log_softmax)):
            got = smx_call(fn, x, mask, causal=True, scale=0.3)
            assert_close(got, oracle(x, mask, -1, 0.3, True, "zero", log), dtype, log=log)


def test_causal_is_top_left_aligned_like_sdpa():
    # SDPA's is_causal builds torch.ones(L, S).tril(diagonal=0): row i keeps keys 0..i.
    x = np.zeros((3, 5))
    y = smx.masked_softmax(x, causal=True)
    expected = np.tril(np.ones((3, 5)))
    np.testing.assert_allclose(y, expected / expected.sum(-1, keepdims=True))


@pytest.mark.parametrize("policy", ["zero", "nan"])
def test_fully_masked_groups_and_torch_masked_parity(policy):
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(4, 6, 5, generator=gen, dtype=torch.float64)
    mask = torch.rand(4, 6, 5, generator=gen) < 0.5
    mask[1, 2, :] = False
    mask[2, :, 3] = False
    for dim in (-1, 1):
        y = as_torch(smx.masked_softmax(x.numpy(), mask.numpy(), dim, fully_masked=policy))
        ly = as_torch(smx.masked_log_softmax(x.numpy(), mask.numpy(), dim, fully_masked=policy))
        assert_close(y, oracle(x, mask, dim, fully_masked=policy), torch.float64)
        assert_close(ly, oracle(x, mask, dim, fully_masked=policy, log=True), torch.float64, log=True)
        if policy == "nan":  # torch.masked.softmax gives NaN for fully masked groups, as we do
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ref = torch.masked.softmax(x, dim, mask=mask)
                lref = torch.masked.log_softmax(x, dim, mask=mask)
            assert_close(y, ref, torch.float64)
            assert_close(ly, lref, torch.float64, log=True)
    y = as_torch(smx.masked_softmax(x.numpy(), mask.numpy(), -1, fully_masked=policy))
    if policy == "zero":
        assert torch.equal(y[1, 2], torch.zeros(5, dtype=torch.float64))
    else:
        assert torch.isnan(y[1, 2]).all()


def test_strided_views_of_input_and_mask():
    rng = np.random.default_rng(5)
    base = rng.standard_normal((6, 9, 12))
    x = base.transpose(1, 0, 2)[:, :, 1:11:1]  # (9, 6, 10), non-contiguous
    mask = (rng.random((10, 6)) < 0.6).T      # (6, 10), a transposed view
    for dim in (-1, 0, 1):
        got = as_torch(smx.masked_softmax(x, mask, dim, scale=0.5))
        assert_close(got, oracle(torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(mask.copy()), dim, 0.5),
                     torch.float64)
    # A broadcast NumPy view (stride 0) as the mask is read in place.
    row = np.broadcast_to(rng.random(10) < 0.5, (6, 10))
    got = as_torch(smx.masked_softmax(x, row, -1))
    assert_close(got, oracle(torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(row.copy()), -1),
                 torch.float64)


def test_nan_and_inf_at_kept_and_masked_elements():
    nan, inf = float("nan"), float("inf")
    x = torch.tensor([[1, nan, 3, 4], [1, inf, 2, 0], [-inf, 2, 3, 0], [-inf, -inf, 5, 1], [nan, 1, 2, 3],
                      [1, 2, nan, inf]], dtype=torch.float64)
    mask = torch.tensor([[1, 0, 1, 1], [1, 0, 1, 1], [1, 1, 0, 0], [1, 1, 0, 0], [1, 1, 1, 1], [1, 1, 0, 0]],
                        dtype=torch.bool)
    for dtype in (torch.float64, torch.float32):
        for policy in ("zero", "nan"):
            for log, fn in ((False, smx.masked_softmax), (True, smx.masked_log_softmax)):
                got = as_torch(fn(x.to(dtype).numpy(), mask.numpy(), fully_masked=policy))
                assert_close(got, oracle(x.to(dtype), mask, -1, None, False, policy, log), dtype, log=log)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("policy", ["zero", "nan"])
def test_backward_matches_autograd(dtype, policy):
    gen = torch.Generator().manual_seed(11)
    shape = (3, 7, 9)
    for dim, causal, scale in ((-1, True, 0.5), (1, False, 2.0), (0, False, None), (-1, False, 1.5)):
        x = torch.randn(shape, generator=gen, dtype=torch.float64).to(dtype)
        g = torch.randn(shape, generator=gen, dtype=torch.float64).to(dtype)
        mask = torch.rand(7, 9, generator=gen) < 0.5
        mask[2, :] = False  # fully masked groups along the last dim
        mask[:, 4] = False  # and along dim 1
        # autograd in float64 through the composition a user writes
        xd = x.double().clone().requires_grad_()  # a copy: for float64, .double() is x itself
        keep = keep_mask(mask, shape, causal)
        z = (xd * scale if scale is not None else xd).masked_fill(~keep, NINF)
        y = torch.softmax(z, dim)
        if policy == "zero":
            y = y.masked_fill(~keep.any(dim, keepdim=True).expand(shape), 0.0)
        y.backward(g.double())
        kw = dict(dim=dim, scale=scale, causal=causal, fully_masked=policy)
        ys = smx_call(smx.masked_softmax, x, mask, **kw).to(dtype)
        if dtype == torch.bfloat16:
            dx = as_torch(smx.masked_softmax_backward(g, ys, mask, **kw))
        else:
            dx = as_torch(smx.masked_softmax_backward(g.numpy(), ys.numpy(), mask.numpy(), **kw))
        assert torch.equal(dx.double()[~keep], torch.zeros(int((~keep).sum()), dtype=torch.float64))
        # y is rounded to the dtype (relative eps): dx = scale * y * (g - sum(g * y)) then moves by
        # up to about 3 * eps * scale * max|g| (y's error times |g - sum| <= 2 max|g|, plus the
        # sum's), and dx's own rounding adds one more eps: atol 4 * eps * scale * max|g|.
        eps = {torch.float64: 2**-53, torch.float32: 2**-24, torch.float16: 2**-11, torch.bfloat16: 2**-8}[dtype]
        bound = 4 * eps * (scale or 1.0) * float(g.double().abs().max())
        torch.testing.assert_close(dx.double(), xd.grad, rtol=BACKWARD_TOL[dtype][0], atol=max(bound, BACKWARD_TOL[dtype][1]),
                                   equal_nan=True)


def test_torch_input_gives_smx_tensor_and_no_mask_is_plain_softmax():
    x = torch.randn(5, 33, dtype=torch.float32)
    y = smx.masked_softmax(x)
    assert isinstance(y, smx.Tensor)
    assert torch.equal(torch.from_dlpack(y), torch.from_dlpack(smx.softmax(x, -1)))


def test_errors():
    x = np.random.default_rng(0).standard_normal((2, 4)).astype(np.float32)
    with pytest.raises(RuntimeError, match="expected a bool mask"):
        smx.masked_softmax(x, np.ones((2, 4), np.int64))
    with pytest.raises(RuntimeError, match=r"The size of tensor a \(4\) must match the size of tensor b \(3\) "
                                           r"at non-singleton dimension 1"):
        smx.masked_softmax(x, np.ones(3, bool))
    with pytest.raises(RuntimeError, match="has more dims"):
        smx.masked_softmax(x, np.ones((2, 2, 4), bool))
    with pytest.raises(IndexError, match="Dimension out of range"):
        smx.masked_softmax(x, None, 2)
    with pytest.raises(RuntimeError, match="causal applies only to the last dim"):
        smx.masked_softmax(x, None, 0, causal=True)
    with pytest.raises(RuntimeError, match="at least 2 dims"):
        smx.masked_softmax(x[0], None, causal=True)
    with pytest.raises(ValueError, match='"zero" or "nan"'):
        smx.masked_softmax(x, fully_masked="one")
    with pytest.raises(RuntimeError, match="expected a floating input"):
        smx.masked_softmax(np.ones((2, 2), np.int64))
    with pytest.raises(RuntimeError, match="grad_output has shape"):
        smx.masked_softmax_backward(x, x[:, :3])
