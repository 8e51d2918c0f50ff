"""Modules mirroring torch.nn.Softmax, LogSoftmax, Softmin and Softmax2d."""
import smx as _smx_pkg

from . import _smx

__all__ = ["Softmax", "LogSoftmax", "Softmin", "Softmax2d", "CrossEntropyLoss"]


class _DimModule:
    _function = None

    def __init__(self, dim=None):
        self.dim = dim

    def __call__(self, input):
        return self.forward(input)

    def forward(self, input):
        # stacklevel points the implicit-dim warning at the caller of the module, as PyTorch does.
        return type(self)._function(input, self.dim, _stacklevel=4)

    def extra_repr(self):
        return f"dim={self.dim}"

    def __repr__(self):
        return f"{type(self).__name__}({self.extra_repr()})"


class Softmax(_DimModule):
    """Softmax(dim=None): softmax along dim."""
    _function = staticmethod(_smx_pkg.softmax)


class LogSoftmax(_DimModule):
    """LogSoftmax(dim=None): log_softmax along dim."""
    _function = staticmethod(_smx_pkg.log_softmax)


class Softmin(_DimModule):
    """Softmin(dim=None): softmin along dim."""
    _function = staticmethod(_smx_pkg.softmin)


class Softmax2d:
    """Softmax over the channel dim of (C, H, W) or (N, C, H, W) input; ValueError otherwise."""

    def __call__(self, input):
        return self.forward(input)

    def forward(self, input):
        return _smx.softmax2d(input)

    def __repr__(self):
        return "Softmax2d()"


class CrossEntropyLoss:
    """CrossEntropyLoss(weight=None, ignore_index=-100, reduction='mean', label_smoothing=0.0):
    smx.cross_entropy with these options, as torch.nn.CrossEntropyLoss."""

    def __init__(self, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
        self.weight, self.ignore_index = weight, ignore_index
        self.reduction, self.label_smoothing = reduction, label_smoothing

    def __call__(self, input, target):
        return self.forward(input, target)

    def forward(self, input, target):
        return _smx_pkg.cross_entropy(input, target, self.weight, self.ignore_index, self.reduction,
                                      self.label_smoothing)

    def __repr__(self):
        return "CrossEntropyLoss()"
