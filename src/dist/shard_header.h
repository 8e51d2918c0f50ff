// The fixed-size description each rank sends before any statistics: enough for every rank to
// decide, from the same gathered bytes, whether the call is valid and how big the statistics
// exchange is. Validating first (one small MPI_Allgather) is what keeps a bad rank from
// deadlocking the others: the statistics collective has per-rank counts that only agree when
// the shards agree, so it runs only after every rank has seen every header and found them
// consistent - or every rank throws the same error.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <vector>

#include "smx/op.h"
#include "smx/tensor.h"

namespace smx::dist::detail {

// What a rank found wrong with its own arguments (checked locally, reported collectively).
enum class LocalStatus : std::int64_t {
  kOk = 0,
  kUndefined = 1,     // an undefined tensor
  kZeroDim = 2,       // a 0-d shard: no dim to shard
  kDimOutOfRange = 3,
  kNotFloating = 4,
  kBackwardMismatch = 5,  // grad and output differ in shape or dtype on this rank
};

// Eight int64 words (64 bytes): the layout is the wire format.
struct ShardHeader {
  std::int64_t op;          // 1 + the smx::Op this rank called (ranks calling different ops fail)
  std::int64_t status;      // LocalStatus
  std::int64_t ndim;
  std::int64_t dim;         // as passed (unwrapped), for messages
  std::int64_t dtype;       // smx::Dtype
  std::int64_t groups;      // product of the other dims
  std::int64_t shape_hash;  // FNV-1a of (ndim, wrapped dim, the other dims)
  std::int64_t n_local;     // this rank's length along dim
};
static_assert(sizeof(ShardHeader) == 64);

// The header for `x` (and, for backward, `other` must match it locally).
ShardHeader describe_shard(Op op, const Tensor& x, const Tensor* other, std::int64_t dim);

// What every rank agrees on after the exchange.
struct ShardLayout {
  std::int64_t dim = 0;       // wrapped
  std::int64_t groups = 0;
  std::int64_t n_total = 0;
  std::int64_t n_before = 0;  // elements of dim on lower ranks
  int rank = 0;
  int size = 1;
};

// One MPI_Allgather of the headers, then the same checks on every rank; throws on every rank
// (smx::IndexError or smx::RuntimeError naming the first bad rank) if any rank's header is bad.
ShardLayout exchange_headers(Op op, const ShardHeader& mine, MPI_Comm comm);

// Throws smx::RuntimeError if MPI is not initialised (or already finalised) or comm is null:
// before any collective, the same on every rank of a correct program.
void check_mpi_ready(Op op, MPI_Comm comm);

// Throws smx::RuntimeError naming the MPI call when rc is not MPI_SUCCESS (communicators with
// MPI_ERRORS_RETURN; the default handler aborts the job first).
void check_mpi(int rc, const char* call);

}  // namespace smx::dist::detail
