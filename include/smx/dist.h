// The softmax family over a dim that is sharded across MPI processes (smx::dist, library
// smx::dist; only built when smx was configured with MPI, SMX_MPI=AUTO/ON and Open MPI found).
//
// Each rank of `comm` holds a contiguous slice of `dim`, in rank order: rank 0 the first
// elements, rank 1 the next, ... Slices may differ in length and may be empty; every other dim
// must be equal on every rank, and so must the dtype. Each rank gets back its own slice of the
// result, of its input's shape.
//
// Collectives: every call is collective over `comm` (every rank must call the same op): one
// MPI_Allgather of a fixed 64-byte header per rank (validation), then - unless the result is
// empty - one MPI_Allgather of the per-rank statistics, 16 bytes (max, sum of exp) per group for
// the forward ops, 8 bytes (sum of g*y, or of g) per group for the backward ones. A group is one
// slice along `dim` (the product of the other dims). Every rank folds the gathered statistics
// in rank order, so the shared statistics are bitwise identical on every rank and from run to
// run; results are within 2 ulp of single-process smx on the gathered tensor.
//
// Errors are collective too: an input error on any rank (a dim out of range, a non-floating or
// mismatched dtype, other dims that differ, a 0-d shard, ranks calling different ops) throws on
// every rank, naming the rank - smx::IndexError for a dim out of range, smx::RuntimeError
// otherwise - and no rank returns a result. A NaN (or +inf) on one rank makes its whole group NaN
// on every rank, as in one process. MPI must be initialised (MPI_Init) by the caller; MPI errors
// keep the communicator's handler (fatal by default, so a dead rank fails the job).
// CUDA tensors are computed through a host copy and returned on their device.
#pragma once

#include <mpi.h>

#include <cstdint>

#include "smx/op.h"
#include "smx/tensor.h"

namespace smx::dist {

// The op as a value (smx/op.h): a forward op (softmax, log_softmax, softmin) or a backward one.
Tensor forward(Op op, const Tensor& x_local, std::int64_t dim, MPI_Comm comm);
Tensor backward(Op op, const Tensor& grad_local, const Tensor& output_local, std::int64_t dim, MPI_Comm comm);

Tensor softmax(const Tensor& x_local, std::int64_t dim, MPI_Comm comm);
Tensor log_softmax(const Tensor& x_local, std::int64_t dim, MPI_Comm comm);
// softmax(-x): the negation is fused into the kernels, as in smx::softmin.
Tensor softmin(const Tensor& x_local, std::int64_t dim, MPI_Comm comm);

// dL/dx = y * (g - sum(g * y, dim)) for y = softmax(x, dim); the sum runs over every rank.
Tensor softmax_backward(const Tensor& grad_local, const Tensor& output_local, std::int64_t dim, MPI_Comm comm);
// dL/dx = g - exp(y) * sum(g, dim) for y = log_softmax(x, dim); the sum runs over every rank.
Tensor log_softmax_backward(const Tensor& grad_local, const Tensor& output_local, std::int64_t dim,
                            MPI_Comm comm);

}  // namespace smx::dist
