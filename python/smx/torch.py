"""smx for PyTorch users: the softmax family as torch.autograd.Functions and torch.nn.Modules.

    import smx.torch as st
    y = st.softmax(x, dim=-1)                 # a torch.Tensor; y.backward(...) reaches x
    layer = st.nn.Softmax(dim=-1)             # a real torch.nn.Module

Each function takes and returns torch.Tensors (zero-copy through DLPack: the result is smx's
buffer seen by torch) and behaves as the torch function of the same name: dtype rules, the
implicit-dim warning, PyTorch's errors, views and non-contiguous inputs, torch.no_grad() and
torch.inference_mode(). The backward pass runs smx's backward kernel; under create_graph=True it
runs the same formula as torch ops instead, so double backward (gradgradcheck) works for
softmax, log_softmax and softmin. The masked forms support one backward (a second raises).

torch is imported here, and only here: `import smx` works without it.
"""
import torch as _torch
from torch.autograd.function import once_differentiable as _once_differentiable

import smx as _smx_pkg
from smx import _smx

__all__ = ["softmax", "log_softmax", "softmin", "masked_softmax", "masked_log_softmax", "cross_entropy", "nn"]

_FORWARD_OPS = {"softmax": _smx.Op.softmax, "log_softmax": _smx.Op.log_softmax, "softmin": _smx.Op.softmin}


def _check_tensor(name, input):
    if not isinstance(input, _torch.Tensor):
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")


def _implicit_dim(name, ndim, stacklevel):
    """torch.nn.functional's rule for dim=None: dim 0 for 0-, 1- and 3-d input, else 1 (with
    PyTorch's deprecation warning, pointed at the caller)."""
    _smx_pkg._warn_implicit(name, None, stacklevel + 1)
    return 0 if ndim in (0, 1, 3) else 1


def _as_torch(result):
    return _torch.from_dlpack(result)


def _sum_over(t, dim):
    """t summed over dim (an int or a tuple of dims), keeping the dims."""
    return t.sum(dim=dim, keepdim=True)


class _Forward(_torch.autograd.Function):
    """y = op(x, dim) by smx; backward by smx's kernel, or by torch ops when a graph is wanted."""

    @staticmethod
    def forward(ctx, x, dim, op):
        x = x.detach()  # DLPack exports no tensor that requires grad; autograd is this Function's job
        if isinstance(dim, tuple):
            y = _smx.forward_dims(_FORWARD_OPS[op], x, list(dim), None)
        else:
            y = _smx.forward(_FORWARD_OPS[op], x, dim, None)
        y = _as_torch(y)
        ctx.save_for_backward(y)
        ctx.dim, ctx.op = dim, op
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        dim, op = ctx.dim, ctx.op
        if _torch.is_grad_enabled():
            # create_graph=True: the formula in torch ops, differentiable (y is this Function's
            # output, so the second derivative flows back through forward again).
            if op == "log_softmax":
                dx = grad - y.exp() * _sum_over(grad, dim)
            else:
                dx = y * (grad - _sum_over(grad * y, dim))
                if op == "softmin":
                    dx = -dx
            return dx, None, None
        grad, y = grad.detach(), y.detach()  # (the saved output requires grad: it is in the graph)
        if op == "log_softmax":
            dx = _as_torch(_smx_pkg.log_softmax_backward(grad, y, dim))
        else:
            dx = _as_torch(_smx_pkg.softmax_backward(grad, y, dim))
            if op == "softmin":
                dx = dx.neg_()
        return dx, None, None


def _forward(op, input, dim, dtype, stacklevel):
    _check_tensor(op, input)
    if dim is None:
        dim = _implicit_dim(op, input.dim(), stacklevel + 1)
    elif isinstance(dim, (tuple, list)):
        dim = tuple(int(d) for d in dim)
    if dtype is not None:
        input = input.to(dtype)  # as torch: cast first (autograd casts the gradient back)
    return _Forward.apply(input, dim, op)


def softmax(input, dim=None, dtype=None, *, _stacklevel=2):
    """torch.nn.functional.softmax by smx, with autograd (dim: an int or a tuple of dims)."""
    return _forward("softmax", input, dim, dtype, _stacklevel)


def log_softmax(input, dim=None, dtype=None, *, _stacklevel=2):
    """torch.nn.functional.log_softmax by smx, with autograd (dim: an int or a tuple of dims)."""
    return _forward("log_softmax", input, dim, dtype, _stacklevel)


def softmin(input, dim=None, dtype=None, *, _stacklevel=2):
    """torch.nn.functional.softmin by smx, with autograd (dim: an int or a tuple of dims)."""
    return _forward("softmin", input, dim, dtype, _stacklevel)


# ---- masked, scaled and causal ----

def _keep(mask, shape, causal, device):
    """The boolean tensor of the elements that take part (mask broadcast, causal rule applied)."""
    keep = _torch.ones(shape, dtype=_torch.bool, device=device) if mask is None else \
        _torch.broadcast_to(mask.to(device=device, dtype=_torch.bool), shape)
    if causal:
        keep = keep & _torch.ones(shape[-2], shape[-1], dtype=_torch.bool, device=device).tril()
    return keep


class _Masked(_torch.autograd.Function):

    @staticmethod
    def forward(ctx, x, mask, dim, scale, causal, fully_masked, log):
        op = _smx.Op.log_softmax if log else _smx.Op.softmax
        m = None if mask is None else _smx_pkg.masked._bool_mask(mask)
        y = _as_torch(_smx.masked(op, x.detach(), m, dim, scale, causal, fully_masked))
        ctx.save_for_backward(y)
        ctx.mask, ctx.options = mask, (dim, scale, causal, fully_masked, log)
        return y

    @staticmethod
    @_once_differentiable
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        grad, y = grad.detach(), y.detach()
        dim, scale, causal, fully_masked, log = ctx.options
        mask = ctx.mask
        if not log:
            m = None if mask is None else _smx_pkg.masked._bool_mask(mask)
            dx = _as_torch(_smx.masked_backward(grad, y, m, dim, scale, causal, fully_masked))
            return dx, None, None, None, None, None, None
        # log form: log_softmax's backward on the kept elements (masked ones have y = -inf, so
        # exp(y) = 0 there), times the scale, and 0 where the mask or the causal rule drops x.
        dx = _as_torch(_smx_pkg.log_softmax_backward(grad, y, dim))
        dx = _torch.where(_keep(mask, y.shape, causal, y.device), dx, _torch.zeros((), dtype=dx.dtype, device=dx.device))
        if scale is not None:
            dx = dx * scale
        return dx, None, None, None, None, None, None


def _masked(name, input, mask, dim, scale, causal, fully_masked, log):
    _check_tensor(name, input)
    _smx_pkg.masked._check_options(causal, fully_masked)
    if mask is not None and not isinstance(mask, _torch.Tensor):
        mask = _torch.as_tensor(mask)
    return _Masked.apply(input, mask, dim, scale, causal, fully_masked, log)


def masked_softmax(input, mask=None, dim=-1, *, scale=None, causal=False, fully_masked="zero"):
    """smx.masked_softmax on torch tensors, with autograd to input (none to the mask): softmax of
    scale * input over the elements the boolean mask keeps (see smx.masked_softmax)."""
    return _masked("masked_softmax", input, mask, dim, scale, causal, fully_masked, False)


def masked_log_softmax(input, mask=None, dim=-1, *, scale=None, causal=False, fully_masked="zero"):
    """smx.masked_log_softmax on torch tensors, with autograd to input (none to the mask)."""
    return _masked("masked_log_softmax", input, mask, dim, scale, causal, fully_masked, True)


# ---- cross entropy ----

class _CrossEntropy(_torch.autograd.Function):
    """The loss by smx.cross_entropy; its gradient (to the input only) by smx.cross_entropy_backward."""

    @staticmethod
    def forward(ctx, input, target, weight, ignore_index, reduction, label_smoothing):
        x, t = input.detach(), target.detach()
        w = None if weight is None else weight.detach()
        loss = _as_torch(_smx_pkg.cross_entropy(x, t, w, ignore_index, reduction, label_smoothing))
        ctx.save_for_backward(x, t)
        ctx.weight, ctx.options = w, (ignore_index, reduction, label_smoothing)
        return loss

    @staticmethod
    @_once_differentiable
    def backward(ctx, grad):
        x, t = ctx.saved_tensors
        dx = _as_torch(_smx_pkg.cross_entropy_backward(grad.detach().to(x.dtype), x, t, ctx.weight, *ctx.options))
        return dx, None, None, None, None, None


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """torch.nn.functional.cross_entropy by smx, with autograd to `input` (not to the target or
    the weights): no log_softmax tensor is built, forward or backward."""
    _check_tensor("cross_entropy", input)
    return _CrossEntropy.apply(input, target, weight, ignore_index, reduction, float(label_smoothing))


# ---- modules ----

class _DimModule(_torch.nn.Module):
    __constants__ = ["dim"]
    _function = None

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        # stacklevel points the implicit-dim warning at the module's caller, as PyTorch's does
        return type(self)._function(input, self.dim, _stacklevel=6)

    def extra_repr(self):
        return f"dim={self.dim}"


class _NN:
    """smx.torch.nn: torch.nn.Modules with the repr, state_dict and .to() of torch's own."""

    class Softmax(_DimModule):
        """torch.nn.Softmax by smx."""
        _function = staticmethod(softmax)

    class LogSoftmax(_DimModule):
        """torch.nn.LogSoftmax by smx."""
        _function = staticmethod(log_softmax)

    class Softmin(_DimModule):
        """torch.nn.Softmin by smx."""
        _function = staticmethod(softmin)

    class CrossEntropyLoss(_torch.nn.Module):
        """torch.nn.CrossEntropyLoss by smx (weight is a buffer, as torch's)."""

        def __init__(self, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
            super().__init__()
            self.register_buffer("weight", weight)
            self.ignore_index, self.reduction, self.label_smoothing = ignore_index, reduction, label_smoothing

        def forward(self, input, target):
            return cross_entropy(input, target, self.weight, self.ignore_index, self.reduction, self.label_smoothing)

    class Softmax2d(_torch.nn.Module):
        """torch.nn.Softmax2d by smx: softmax over the channel dim of (C, H, W) or (N, C, H, W)."""

        def forward(self, input):
            _check_tensor("Softmax2d", input)
            if input.dim() not in (3, 4):
                raise ValueError(f"Softmax2d: expected input to be 3D or 4D, got {input.dim()}D instead")
            return softmax(input, -3)


nn = _NN
