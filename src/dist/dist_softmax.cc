// smx::dist: the softmax family over a dim sharded across MPI ranks (see smx/dist.h). A rank's
// slice is one unit of each group whose partial state the engine computes and a collective merges
// (engine/engine.h: group_stats / group_write and the backward pair):
//   forward:  per group, this slice's (max, sum of exp(x - max)) - rows folded over chunks,
//             columns from the column passes; one MPI_Allgather of the G local pairs (16 bytes
//             each); every rank folds the P pairs of each group in rank order with
//             merge_row_stats - the fold a single process does over a long row's chunks - and
//             writes its slice;
//   backward: per group, the local sum(g * y) (softmax) or sum(g) (log_softmax); one
//             MPI_Allgather of the G doubles; a rank-ordered sum; then the write.
// Per call, first: validate (shard_header.cc: one MPI_Allgather of 64 bytes per rank).
// Why MPI_Allgather and not MPI_Allreduce with a (max, sum) user op: MPI lets an Allreduce
// associate a non-commutative op differently on different ranks (recursive doubling does), so
// the floating-point result may differ in the last bit between ranks; gathering the pairs and
// folding them in one fixed order on every rank makes the shared statistics bitwise identical
// everywhere and run to run. The price is (P - 1) x 16 x G bytes received per rank instead of
// ~2 x 16 x G (docs/distributed.md has the cost model).
// The kernels are kernel_table()'s (SMX_ISA honoured, REFERENCE included): the engine chooses.
#include <mpi.h>

#include <limits>
#include <string>
#include <vector>

#include "dist/shard_header.h"
#include "engine/engine.h"
#include "smx/dist.h"
#include "smx/errors.h"

namespace smx::dist {

namespace {

using smx::detail::RowStats;

// One MPI_Allgather of `count` records of `words` doubles per rank (a contiguous datatype, so
// that the int count is the number of groups, not of doubles).
std::vector<double> allgather(const std::vector<double>& mine, std::int64_t groups, int words, int size,
                              MPI_Comm comm) {
  if (groups > std::numeric_limits<int>::max()) {
    throw RuntimeError("smx.dist: " + std::to_string(groups) + " groups exceed MPI's int count (" +
                       std::to_string(std::numeric_limits<int>::max()) + ")");
  }
  MPI_Datatype record;
  detail::check_mpi(MPI_Type_contiguous(words, MPI_DOUBLE, &record), "MPI_Type_contiguous");
  detail::check_mpi(MPI_Type_commit(&record), "MPI_Type_commit");
  std::vector<double> all(static_cast<std::size_t>(size) * mine.size());
  const int rc = MPI_Allgather(mine.data(), static_cast<int>(groups), record, all.data(), static_cast<int>(groups),
                               record, comm);
  MPI_Type_free(&record);
  detail::check_mpi(rc, "MPI_Allgather");
  return all;
}

Tensor forward_impl(Op op, const Tensor& x_in, std::int64_t dim, MPI_Comm comm) {
  detail::check_mpi_ready(op, comm);
  const detail::ShardLayout layout = detail::exchange_headers(op, detail::describe_shard(op, x_in, nullptr, dim), comm);
  // Decided from gathered values only, so every rank skips the statistics exchange together.
  if (layout.groups == 0 || layout.n_total == 0) return empty(x_in.sizes(), x_in.dtype(), x_in.device());

  const Tensor x = x_in.to(Device(kCPU));
  const std::vector<RowStats> local = smx::detail::group_stats(op, x, layout.dim);
  std::vector<double> mine(static_cast<std::size_t>(2 * layout.groups));
  for (std::size_t g = 0; g < local.size(); ++g) {
    mine[2 * g] = local[g].max;
    mine[2 * g + 1] = local[g].sum;
  }
  const std::vector<double> all = allgather(mine, layout.groups, 2, layout.size, comm);
  Tensor y = empty(x.sizes(), x.dtype());
  if (x.numel() == 0) return y.to(x_in.device());
  // The rank-ordered fold, identical on every rank.
  std::vector<RowStats> total(static_cast<std::size_t>(layout.groups));
  for (std::int64_t g = 0; g < layout.groups; ++g) {
    RowStats t{all[static_cast<std::size_t>(2 * g)], all[static_cast<std::size_t>(2 * g + 1)]};
    for (int r = 1; r < layout.size; ++r) {
      const auto at = static_cast<std::size_t>(2 * (r * layout.groups + g));
      t = smx::detail::merge_row_stats(t, RowStats{all[at], all[at + 1]});
    }
    total[static_cast<std::size_t>(g)] = t;
  }
  smx::detail::group_write(op, x, layout.dim, total, y);
  return y.to(x_in.device());
}

Tensor backward_impl(Op op, const Tensor& grad_in, const Tensor& output_in, std::int64_t dim, MPI_Comm comm) {
  detail::check_mpi_ready(op, comm);
  const detail::ShardLayout layout =
      detail::exchange_headers(op, detail::describe_shard(op, grad_in, &output_in, dim), comm);
  if (layout.groups == 0 || layout.n_total == 0) return empty(grad_in.sizes(), grad_in.dtype(), grad_in.device());

  const Tensor grad = grad_in.to(Device(kCPU));
  const Tensor output = output_in.to(Device(kCPU));
  const std::vector<double> mine = smx::detail::group_backward_acc(op, grad, output, layout.dim);
  const std::vector<double> all = allgather(mine, layout.groups, 1, layout.size, comm);
  Tensor dx = empty(grad.sizes(), grad.dtype());
  if (grad.numel() == 0) return dx.to(grad_in.device());
  std::vector<double> total(static_cast<std::size_t>(layout.groups));
  for (std::int64_t g = 0; g < layout.groups; ++g) {
    double t = all[static_cast<std::size_t>(g)];
    for (int r = 1; r < layout.size; ++r) t += all[static_cast<std::size_t>(r * layout.groups + g)];
    total[static_cast<std::size_t>(g)] = t;
  }
  smx::detail::group_backward_write(op, grad, output, layout.dim, total, dx);
  return dx.to(grad_in.device());
}

}  // namespace

Tensor forward(Op op, const Tensor& x_local, std::int64_t dim, MPI_Comm comm) {
  if (is_backward(op)) throw ValueError(std::string("smx.dist.forward: ") + op_name(op) + " is a backward op");
  return forward_impl(op, x_local, dim, comm);
}
Tensor backward(Op op, const Tensor& grad_local, const Tensor& output_local, std::int64_t dim, MPI_Comm comm) {
  if (!is_backward(op)) throw ValueError(std::string("smx.dist.backward: ") + op_name(op) + " is not a backward op");
  return backward_impl(op, grad_local, output_local, dim, comm);
}

Tensor softmax(const Tensor& x_local, std::int64_t dim, MPI_Comm comm) { return forward_impl(Op::kSoftmax, x_local, dim, comm); }
Tensor log_softmax(const Tensor& x_local, std::int64_t dim, MPI_Comm comm) {
  return forward_impl(Op::kLogSoftmax, x_local, dim, comm);
}
Tensor softmin(const Tensor& x_local, std::int64_t dim, MPI_Comm comm) { return forward_impl(Op::kSoftmin, x_local, dim, comm); }
Tensor softmax_backward(const Tensor& grad_local, const Tensor& output_local, std::int64_t dim, MPI_Comm comm) {
  return backward_impl(Op::kSoftmaxBackward, grad_local, output_local, dim, comm);
}
Tensor log_softmax_backward(const Tensor& grad_local, const Tensor& output_local, std::int64_t dim,
                            MPI_Comm comm) {
  return backward_impl(Op::kLogSoftmaxBackward, grad_local, output_local, dim, comm);
}

}  // namespace smx::dist
