"""smx.dist from Python under mpirun (ctest runs this file with 1, 2, 3 and 4 ranks).

Every rank builds the same full tensor from a fixed seed, takes its slice of the sharded dim and
compares smx.dist's result with torch on the full tensor in float64: the forward "oracle" rows of
tests/tolerances.h (the rank-ordered fold adds nothing beyond the double sums' few ulps).
The tests are symmetric: every rank runs the same collectives in the same order.
"""
import numpy as np
import pytest

import smx
import smx.dist
from tolerances import tol

if not smx.dist.available():
    pytest.skip("smx was built without MPI", allow_module_level=True)

from mpi4py import MPI  # noqa: E402
import torch  # noqa: E402

COMM = MPI.COMM_WORLD
RANK, SIZE = COMM.rank, COMM.size
TOL = {dt: tol("forward", "oracle", dt)[0] for dt in ("float64", "float32", "float16", "bfloat16")}


def parts(scale):
    """Uneven slice lengths with empty ones, the same pattern as the C++ test."""
    if SIZE == 1:
        return [5 * scale]
    return [(3, 0, 7, 1)[r % 4] * scale for r in range(SIZE)]


def shard(full, dim, lengths, rank=RANK):
    start = sum(lengths[:rank])
    return full.narrow(dim, start, lengths[rank])


def full_tensor(shape, seed=0):
    rng = np.random.default_rng(seed)
    return torch.from_numpy(rng.standard_normal(shape) * 4.0)


def torch_op(name, x, dim):
    return {"softmax": torch.softmax, "log_softmax": torch.log_softmax,
            "softmin": torch.nn.functional.softmin}[name](x, dim)


def close(got, want, tol):
    want = want.numpy()
    both_nan = np.isnan(got) & np.isnan(want)
    ok = both_nan | np.isclose(got, want, rtol=tol, atol=tol)
    assert ok.all(), f"rank {RANK}: max diff {np.nanmax(np.abs(got - want))} at {np.argwhere(~ok)[:3].tolist()}"


@pytest.mark.parametrize("op", ["softmax", "log_softmax", "softmin"])
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_numpy_matches_torch_float64(op, dtype, dim):
    lengths = parts(3)
    shape = [4, 2]
    shape.insert(dim % 3 if dim >= 0 else 2, sum(lengths))
    sharded = dim if dim >= 0 else 2
    full = full_tensor(shape).to(getattr(torch, dtype))
    local = shard(full, sharded, lengths).numpy()
    got = getattr(smx.dist, op)(local, dim)
    assert isinstance(got, np.ndarray) and got.dtype == np.dtype(dtype) and got.shape == local.shape
    # The reference: torch in float64 on the full tensor (float16 input widened exactly).
    want = shard(torch_op(op, full.double(), sharded), sharded, lengths)
    close(got.astype(np.float64), want, TOL[dtype])


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_dlpack_torch_input(dtype):
    lengths = parts(4)
    full = full_tensor([3, sum(lengths)], seed=1).to(dtype)
    got = smx.dist.log_softmax(shard(full, 1, lengths), 1)
    assert isinstance(got, smx.Tensor)
    t = torch.from_dlpack(got)
    assert t.dtype == dtype
    want = shard(torch.log_softmax(full.double(), 1), 1, lengths)
    close(t.double().numpy(), want, TOL[str(dtype).split(".")[1]])


def test_nan_on_one_rank_makes_the_group_nan():
    lengths = parts(2)
    full = full_tensor([2, sum(lengths)], seed=2)
    owner = max(r for r in range(SIZE) if lengths[r] > 0)
    full[0, sum(lengths[:owner])] = float("nan")
    got = smx.dist.softmax(shard(full, 1, lengths).numpy(), 1)
    assert np.isnan(got[0]).all()
    close(got[1:], shard(torch.softmax(full.double(), 1), 1, lengths)[1:], TOL["float64"])


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_backward_matches_torch_autograd(op):
    lengths = parts(3)
    full = full_tensor([4, sum(lengths)], seed=3).requires_grad_()
    grad = full_tensor([4, sum(lengths)], seed=4)
    y = torch_op(op, full, 1)
    y.backward(grad)
    local_y = shard(y.detach(), 1, lengths).numpy()
    got = getattr(smx.dist, op + "_backward")(shard(grad, 1, lengths).numpy(), local_y, 1)
    close(got, shard(full.grad, 1, lengths), 1e-12)  # float64, sums of a few terms


def test_sub_communicator():
    half = COMM.Split(RANK % 2, RANK)
    lengths = [(2, 5, 0)[r % 3] for r in range(half.size)] if half.size > 1 else [4]
    full = full_tensor([3, sum(lengths)], seed=5 + RANK % 2)
    got = smx.dist.softmin(shard(full, 1, lengths, half.rank).numpy(), 1, comm=half)
    close(got, shard(torch.nn.functional.softmin(full, 1), 1, lengths, half.rank), TOL["float64"])
    half.Free()


def test_dim_out_of_range_on_one_rank_raises_everywhere():
    x = np.zeros((2, 3))
    with pytest.raises(IndexError, match=f"rank {SIZE - 1}: Dimension out of range"):
        smx.dist.softmax(x, 2 if RANK == SIZE - 1 else 1)
    COMM.Barrier()  # nobody is left inside a collective


def test_integer_input_raises_everywhere():
    with pytest.raises(RuntimeError, match="rank 0: dtype torch.int64 is not floating"):
        smx.dist.softmax(np.zeros((2, 3), dtype=np.int32), 1)


def test_bad_comm_is_a_type_error():
    with pytest.raises(TypeError, match="mpi4py communicator"):
        smx.dist.softmax(np.zeros(3), 0, comm=42)
