#include "dist/shard_header.h"

#include <string>

#include "smx/errors.h"
#include "tensor/dim_wrap.h"

namespace smx::dist::detail {

namespace {

std::uint64_t fnv1a(std::uint64_t h, std::int64_t v) {
  for (int i = 0; i < 8; ++i) {
    h ^= static_cast<std::uint64_t>(v >> (8 * i)) & 0xffu;
    h *= 1099511628211ull;
  }
  return h;
}

std::string rank_prefix(const char* op_name, int rank) {
  return std::string("smx.dist.") + op_name + ": rank " + std::to_string(rank) + ": ";
}

}  // namespace

ShardHeader describe_shard(Op op, const Tensor& x, const Tensor* other, std::int64_t dim) {
  ShardHeader h{};
  h.op = static_cast<std::int64_t>(op) + 1;
  h.dim = dim;
  if (!x.defined() || (other != nullptr && !other->defined())) {
    h.status = static_cast<std::int64_t>(LocalStatus::kUndefined);
    return h;
  }
  h.ndim = x.dim();
  h.dtype = static_cast<std::int64_t>(x.dtype());
  if (x.dim() == 0) {
    h.status = static_cast<std::int64_t>(LocalStatus::kZeroDim);
    return h;
  }
  if (dim < -x.dim() || dim >= x.dim()) {
    h.status = static_cast<std::int64_t>(LocalStatus::kDimOutOfRange);
    return h;
  }
  if (other != nullptr && (!(other->sizes() == x.sizes()) || other->dtype() != x.dtype())) {
    h.status = static_cast<std::int64_t>(LocalStatus::kBackwardMismatch);
    return h;
  }
  if (!is_floating(x.dtype())) {
    h.status = static_cast<std::int64_t>(LocalStatus::kNotFloating);
    return h;
  }
  const std::int64_t wrapped = smx::detail::wrap_dim(dim, x.dim());
  std::uint64_t hash = fnv1a(fnv1a(1469598103934665603ull, x.dim()), wrapped);
  std::int64_t groups = 1;
  for (std::int64_t d = 0; d < x.dim(); ++d) {
    if (d == wrapped) continue;
    hash = fnv1a(hash, x.size(d));
    groups *= x.size(d);
  }
  h.groups = groups;
  h.shape_hash = static_cast<std::int64_t>(hash);
  h.n_local = x.size(wrapped);
  return h;
}

void check_mpi(int rc, const char* call) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  throw RuntimeError(std::string("smx.dist: ") + call + " failed: " + std::string(text, static_cast<std::size_t>(len)));
}

void check_mpi_ready(Op op, MPI_Comm comm) {
  const char* op_name = smx::op_name(op);
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (!initialized || finalized) {
    throw RuntimeError(std::string("smx.dist.") + op_name +
                       ": MPI is not initialised (call MPI_Init first, and not after MPI_Finalize)");
  }
  if (comm == MPI_COMM_NULL) throw RuntimeError(std::string("smx.dist.") + op_name + ": comm is MPI_COMM_NULL");
}

ShardLayout exchange_headers(Op op, const ShardHeader& mine, MPI_Comm comm) {
  const char* op_name = smx::op_name(op);
  ShardLayout layout;
  check_mpi(MPI_Comm_rank(comm, &layout.rank), "MPI_Comm_rank");
  check_mpi(MPI_Comm_size(comm, &layout.size), "MPI_Comm_size");
  std::vector<ShardHeader> all(static_cast<std::size_t>(layout.size));
  check_mpi(MPI_Allgather(&mine, 8, MPI_INT64_T, all.data(), 8, MPI_INT64_T, comm), "MPI_Allgather");

  // The same checks, in the same order, on the same bytes: every rank throws the same error.
  for (int r = 0; r < layout.size; ++r) {
    const ShardHeader& h = all[static_cast<std::size_t>(r)];
    if (h.op != all[0].op) {
      throw RuntimeError(rank_prefix(op_name, r) + "called a different smx.dist op than rank 0 (every rank must "
                         "call the same op)");
    }
    switch (static_cast<LocalStatus>(h.status)) {
      case LocalStatus::kOk: break;
      case LocalStatus::kUndefined: throw RuntimeError(rank_prefix(op_name, r) + "an undefined tensor");
      case LocalStatus::kZeroDim:
        throw RuntimeError(rank_prefix(op_name, r) + "a 0-d shard has no dim to shard (give each rank a tensor of "
                           "at least one dim)");
      case LocalStatus::kDimOutOfRange:
        throw IndexError(rank_prefix(op_name, r) + "Dimension out of range (expected to be in range of [" +
                         std::to_string(-h.ndim) + ", " + std::to_string(h.ndim - 1) + "], but got " +
                         std::to_string(h.dim) + ")");
      case LocalStatus::kNotFloating:
        throw RuntimeError(rank_prefix(op_name, r) + "dtype " + dtype_name(static_cast<Dtype>(h.dtype)) +
                           " is not floating (float32, float64, float16 or bfloat16)");
      case LocalStatus::kBackwardMismatch:
        throw RuntimeError(rank_prefix(op_name, r) + "grad_output and output differ in shape or dtype");
      default: throw RuntimeError(rank_prefix(op_name, r) + "sent a header smx does not know");
    }
  }
  const ShardHeader& first = all[0];
  const std::int64_t wrapped0 = smx::detail::wrap_dim(first.dim, first.ndim);
  for (int r = 1; r < layout.size; ++r) {
    const ShardHeader& h = all[static_cast<std::size_t>(r)];
    if (h.dtype != first.dtype) {
      throw RuntimeError(rank_prefix(op_name, r) + "dtype " + dtype_name(static_cast<Dtype>(h.dtype)) +
                         " differs from rank 0's " + dtype_name(static_cast<Dtype>(first.dtype)));
    }
    if (h.ndim != first.ndim || smx::detail::wrap_dim(h.dim, h.ndim) != wrapped0) {
      throw RuntimeError(rank_prefix(op_name, r) + "a " + std::to_string(h.ndim) + "-d shard sharded along dim " +
                         std::to_string(h.dim) + ", but rank 0 has a " + std::to_string(first.ndim) +
                         "-d shard sharded along dim " + std::to_string(first.dim) +
                         " (every rank must pass the same dim of the same rank of tensor)");
    }
    if (h.groups != first.groups || h.shape_hash != first.shape_hash) {
      throw RuntimeError(rank_prefix(op_name, r) + "the shard's dims other than dim " + std::to_string(wrapped0) +
                         " differ from rank 0's (only the sharded dim may differ between ranks)");
    }
  }
  layout.dim = wrapped0;
  layout.groups = first.groups;
  for (int r = 0; r < layout.size; ++r) {
    const std::int64_t n = all[static_cast<std::size_t>(r)].n_local;
    if (r < layout.rank) layout.n_before += n;
    layout.n_total += n;
  }
  return layout;
}

}  // namespace smx::dist::detail
