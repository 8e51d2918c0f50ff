"""Masked, scaled and causal softmax (C++: smx/masked_softmax.h).

``masked_softmax(x, mask, dim, scale=s, causal=c)`` is softmax(s * x) over the elements the
boolean ``mask`` keeps (True = takes part, as torch.masked.softmax, SDPA's boolean attn_mask and
jax.nn.softmax(where=)); masked elements give 0 (log form: -inf). The mask broadcasts to x under
NumPy's rules and is never expanded in memory. ``causal`` keeps element (i, j) of the last two
dims only if j <= i (torch.ones(L, S).tril(), SDPA's is_causal; top-left aligned when L != S) and
needs dim=-1. A group with no kept element gives 0 (log: -inf, gradient 0) with
``fully_masked="zero"`` (SDPA, JAX, FlashAttention) or NaN with ``fully_masked="nan"``
(torch.masked.softmax).
"""
from . import _smx


def _bool_mask(mask):
    """torch 1.13 exports bool tensors through DLPack as uint8; hand them over as NumPy bool."""
    if mask is not None and str(getattr(mask, "dtype", "")) == "torch.bool":
        return mask.detach().cpu().numpy()
    return mask


def _check_options(causal, fully_masked):
    if not isinstance(causal, bool):
        raise TypeError(f"causal must be a bool, not {type(causal).__name__}")
    if fully_masked not in ("zero", "nan"):
        raise ValueError(f'fully_masked must be "zero" or "nan", got {fully_masked!r}')


def masked_softmax(input, mask=None, dim=-1, *, scale=None, causal=False, fully_masked="zero"):
    """softmax(scale * input) along dim over the elements `mask` keeps; masked elements give 0."""
    _check_options(causal, fully_masked)
    return _smx.masked(_smx.Op.softmax, input, _bool_mask(mask), dim, scale, causal, fully_masked)


def masked_log_softmax(input, mask=None, dim=-1, *, scale=None, causal=False, fully_masked="zero"):
    """log_softmax(scale * input) along dim over the elements `mask` keeps; masked elements give -inf."""
    _check_options(causal, fully_masked)
    return _smx.masked(_smx.Op.log_softmax, input, _bool_mask(mask), dim, scale, causal, fully_masked)


def masked_softmax_backward(grad_output, output, mask=None, dim=-1, *, scale=None, causal=False,
                            fully_masked="zero"):
    """dL/dx of masked_softmax given y and dL/dy: scale * y * (g - sum(g * y)) at kept elements, 0 at
    masked ones (fully masked groups included, under both policies), as autograd through
    scale * x, masked_fill and softmax gives."""
    _check_options(causal, fully_masked)
    return _smx.masked_backward(grad_output, output, _bool_mask(mask), dim, scale, causal, fully_masked)
