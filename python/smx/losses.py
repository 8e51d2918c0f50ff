"""Cross entropy, token log-probabilities and entropy over a class dim, without building the
log_softmax tensor (C++: smx/cross_entropy.h).

``cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean",
label_smoothing=0.0)`` is torch.nn.functional.cross_entropy (PyTorch 1.13): input (C), (N, C) or
(N, C, d1, ...), target class indices (any integer dtype) or class probabilities of the input's
shape. ``cross_entropy_backward`` gives dL/dinput for an upstream gradient, and
``cross_entropy_with_grad`` gives (loss, dL/dinput) in one statistics pass, writing the gradient
over the input with ``inplace=True``. ``token_logprobs(logits, ids, dim)`` is
``log_softmax(logits, dim).gather(dim, ids)`` and ``entropy(logits, dim)`` is
``-(p * log p).sum(dim)`` (a -inf logit contributes 0, as torch.distributions.Categorical).
NumPy in, NumPy out; DLPack tensors in, smx.Tensor out (torch.from_dlpack accepts it).
"""
from . import _smx

__all__ = ["cross_entropy", "cross_entropy_backward", "cross_entropy_with_grad", "token_logprobs", "entropy"]


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """The loss, as torch.nn.functional.cross_entropy."""
    return _smx.cross_entropy(input, target, weight, ignore_index, reduction, float(label_smoothing))


def cross_entropy_backward(grad_loss, input, target, weight=None, ignore_index=-100, reduction="mean",
                           label_smoothing=0.0):
    """dL/dinput for the upstream gradient grad_loss (0-d for "mean" and "sum", the loss's shape for "none")."""
    return _smx.cross_entropy_backward(grad_loss, input, target, weight, ignore_index, reduction,
                                       float(label_smoothing))


def cross_entropy_with_grad(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0,
                            inplace=False):
    """(loss, dL/dinput) for an upstream gradient of 1, in one statistics pass over the logits.
    inplace=True writes the gradient over `input` (contiguous) and returns it as the second item."""
    return _smx.cross_entropy_with_grad(input, target, weight, ignore_index, reduction, float(label_smoothing),
                                        bool(inplace))


def token_logprobs(logits, ids, dim=-1):
    """log_softmax(logits, dim).gather(dim, ids), without the log_softmax tensor."""
    return _smx.token_logprobs(logits, ids, dim)


def entropy(logits, dim=-1):
    """-(p * log p).sum(dim) for p = softmax(logits, dim), without the softmax tensor."""
    return _smx.entropy(logits, dim)
