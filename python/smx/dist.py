"""smx.dist: the softmax family over a dim sharded across MPI processes (mpi4py).

Each rank of ``comm`` holds a contiguous slice of ``dim`` in rank order (slices may differ in
length, may be empty; every other dim and the dtype must agree). Each call is collective: every
rank calls the same function; each gets back its slice of the result. One MPI_Allgather of a
64-byte header validates the shards, one more exchanges the statistics (16 bytes per group
forward, 8 backward); every rank folds them in rank order, so results are deterministic and
within 2 ulp of single-process smx on the gathered tensor. Bad input on any rank raises on every
rank (IndexError for a dim out of range, RuntimeError otherwise). NaN on one rank makes its whole
group NaN everywhere, as in one process.

``comm`` is an mpi4py communicator (default ``MPI.COMM_WORLD``); input as for ``smx.softmax``:
NumPy arrays or objects with ``__dlpack__`` (torch tensors, bfloat16 included). Needs smx built
with MPI (``-DSMX_MPI=ON``, Debian libopenmpi-dev) and Debian's python3-mpi4py; otherwise every
function raises RuntimeError saying so. Run under mpirun, e.g.::

    mpirun -n 4 python3 -c 'import smx.dist, numpy as np; ...'
"""
from ._smx import Op as _Op

try:
    from . import _smx_dist
except ImportError:  # smx built without MPI
    _smx_dist = None

__all__ = ["softmax", "log_softmax", "softmin", "softmax_backward", "log_softmax_backward", "available"]


def available():
    """True when smx was built with MPI (smx.dist's functions work)."""
    return _smx_dist is not None


def _core():
    if _smx_dist is None:
        raise RuntimeError("smx was not built with MPI: smx.dist needs smx configured with -DSMX_MPI=ON "
                           "(Debian: apt-get install libopenmpi-dev openmpi-bin python3-mpi4py)")
    return _smx_dist


def _handle(comm):
    """An mpi4py communicator's Fortran handle (C++ turns it back with MPI_Comm_f2c)."""
    if comm is None:
        from mpi4py import MPI  # initialises MPI on first import
        comm = MPI.COMM_WORLD
    if not hasattr(comm, "py2f"):
        raise TypeError(f"comm must be an mpi4py communicator, not {type(comm).__name__}")
    return comm.py2f()


def softmax(x_local, dim, comm=None):
    """softmax over ``dim``, which is sharded across the ranks of ``comm``; returns this rank's slice."""
    core = _core()
    return core.forward(_Op.softmax, x_local, dim, _handle(comm))


def log_softmax(x_local, dim, comm=None):
    """log_softmax over the sharded ``dim``; returns this rank's slice."""
    core = _core()
    return core.forward(_Op.log_softmax, x_local, dim, _handle(comm))


def softmin(x_local, dim, comm=None):
    """softmin (softmax of -x) over the sharded ``dim``; returns this rank's slice."""
    core = _core()
    return core.forward(_Op.softmin, x_local, dim, _handle(comm))


def softmax_backward(grad_local, output_local, dim, comm=None):
    """dL/dx = y * (g - sum(g * y, dim)) with the sum over every rank's slice."""
    core = _core()
    return core.backward(_Op.softmax_backward, grad_local, output_local, dim, _handle(comm))


def log_softmax_backward(grad_local, output_local, dim, comm=None):
    """dL/dx = g - exp(y) * sum(g, dim) with the sum over every rank's slice."""
    core = _core()
    return core.backward(_Op.log_softmax_backward, grad_local, output_local, dim, _handle(comm))
