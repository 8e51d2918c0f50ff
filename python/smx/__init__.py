"""smx: PyTorch's softmax family (torch.softmax, log_softmax, nn.functional.softmin and their
backward passes) for NumPy arrays and anything that speaks DLPack.

Input: NumPy arrays of any strides (read in place) or objects with ``__dlpack__`` (torch tensors,
bfloat16 included). Output: a NumPy array for NumPy input (bfloat16 results as float32, since
NumPy has no bfloat16), else an ``smx.Tensor`` that ``torch.from_dlpack`` accepts.
Errors are PyTorch's: IndexError for a dim out of range, RuntimeError for non-floating input.
"""
import operator as _operator
import warnings

import numpy as _np

from . import _smx
from ._smx import Op as _Op
from ._smx import (Tensor, cache_stats, empty_cache, get_cache_limit, get_num_threads, set_cache_limit,
                   set_num_threads, simd_target)

__version__ = _smx.__version__
__all__ = ["softmax", "log_softmax", "softmin", "softmax_backward", "log_softmax_backward", "nn",
           "Tensor", "set_num_threads", "get_num_threads", "simd_target", "set_cache_limit", "get_cache_limit",
           "empty_cache", "cache_stats"]


def _dtype_name(dtype):
    """'float64', np.float64, np.dtype('float64') or torch.float64 -> 'float64' (None stays)."""
    if dtype is None or isinstance(dtype, str):
        return dtype
    text = str(dtype)
    if text.startswith("torch."):
        return text
    try:
        return _np.dtype(dtype).name
    except TypeError:
        raise TypeError(f"dtype must be a string, a NumPy dtype or a torch dtype, not {dtype!r}") from None


def _warn_implicit(name, dim, stacklevel):
    if dim is None:
        warnings.warn(f"Implicit dimension choice for {name} has been deprecated. "
                      "Change the call to include dim=X as an argument.", UserWarning, stacklevel=stacklevel + 1)


def _dim_list(dim):
    """A tuple or list of dims -> a list of ints (softmax over the group of those dims, as
    scipy.special.softmax(axis=tuple)); any other dim -> None (the single-dim ops)."""
    if isinstance(dim, (tuple, list)):
        return [_operator.index(d) for d in dim]
    return None


def _softmax(input, dim=None, dtype=None, *, _stacklevel=2):
    """softmax(x, dim) = exp(x) / sum(exp(x), dim), as torch.softmax. dim may be a tuple of dims:
    softmax over their flattened group (scipy.special.softmax(x, axis=(1, 2)))."""
    dims = _dim_list(dim)
    if dims is not None:
        return _smx.forward_dims(_Op.softmax, input, dims, _dtype_name(dtype))
    _warn_implicit("softmax", dim, _stacklevel)
    return _smx.forward(_Op.softmax, input, dim, _dtype_name(dtype))


def _log_softmax(input, dim=None, dtype=None, *, _stacklevel=2):
    """log_softmax(x, dim) = x - log(sum(exp(x), dim)), as torch.log_softmax (dim: int or tuple)."""
    dims = _dim_list(dim)
    if dims is not None:
        return _smx.forward_dims(_Op.log_softmax, input, dims, _dtype_name(dtype))
    _warn_implicit("log_softmax", dim, _stacklevel)
    return _smx.forward(_Op.log_softmax, input, dim, _dtype_name(dtype))


def _softmin(input, dim=None, dtype=None, *, _stacklevel=2):
    """softmin(x, dim) = softmax(-x, dim), as torch.nn.functional.softmin (dim: int or tuple)."""
    dims = _dim_list(dim)
    if dims is not None:
        return _smx.forward_dims(_Op.softmin, input, dims, _dtype_name(dtype))
    _warn_implicit("softmin", dim, _stacklevel)
    return _smx.forward(_Op.softmin, input, dim, _dtype_name(dtype))


# smx.softmax, log_softmax and softmin are C functions (python/fast_forward.cc) that compute a
# contiguous float32/float64 NumPy array with an int dim themselves (a Python-level wrapper cost
# more than torch.softmax's whole call on tiny arrays) and pass every other call to the
# functions above.
_smx._install_fast_forward({"softmax": _softmax, "log_softmax": _log_softmax, "softmin": _softmin})
softmax, log_softmax, softmin = _smx.softmax, _smx.log_softmax, _smx.softmin


def softmax_backward(grad_output, output, dim):
    """dL/dx = y * (g - sum(g * y, dim)) for y = softmax(x, dim), as torch._softmax_backward_data
    (dim: int or tuple of dims)."""
    dims = _dim_list(dim)
    if dims is not None:
        return _smx.backward_dims(_Op.softmax_backward, grad_output, output, dims)
    return _smx.backward(_Op.softmax_backward, grad_output, output, dim)


def log_softmax_backward(grad_output, output, dim):
    """dL/dx = g - exp(y) * sum(g, dim) for y = log_softmax(x, dim) (dim: int or tuple of dims)."""
    dims = _dim_list(dim)
    if dims is not None:
        return _smx.backward_dims(_Op.log_softmax_backward, grad_output, output, dims)
    return _smx.backward(_Op.log_softmax_backward, grad_output, output, dim)


from . import nn  # noqa: E402  (nn uses the functions above)
from .masked import masked_log_softmax, masked_softmax, masked_softmax_backward  # noqa: E402

__all__ += ["masked_softmax", "masked_log_softmax", "masked_softmax_backward"]
from .losses import cross_entropy, cross_entropy_backward, cross_entropy_with_grad, entropy, token_logprobs  # noqa: E402,E501

__all__ += ["cross_entropy", "cross_entropy_backward", "cross_entropy_with_grad", "token_logprobs", "entropy"]
from . import dist  # noqa: E402  (smx.dist: MPI; raises when smx was built without it)


def __getattr__(name):
    """smx.torch on first use (it imports torch; the rest of smx works without torch)."""
    if name == "torch":
        import importlib
        return importlib.import_module(".torch", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
