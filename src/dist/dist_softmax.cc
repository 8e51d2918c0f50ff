// smx::dist: the softmax family over a dim sharded across MPI ranks (see smx/dist.h).
//
// Per call: validate (shard_header.cc: one MPI_Allgather of 64 bytes per rank), then
//   forward:  per group, the local (max, sum of exp(x - max)) from the long-row kernels
//             (row_stats on chunks of kFusedRowMax, merged left to right); one MPI_Allgather of
//             the G local pairs (16 bytes each); every rank folds the P pairs of each group in
//             rank order with merge_row_stats - the fold a single process does over a long
//             row's chunks - and writes its slice with row_write;
//   backward: per group, the local sum(g * y) (softmax) or sum(g) (log_softmax) from
//             row_backward_acc; one MPI_Allgather of the G doubles; a rank-ordered sum; then
//             row_backward_write.
// Why MPI_Allgather and not MPI_Allreduce with a (max, sum) user op: MPI lets an Allreduce
// associate a non-commutative op differently on different ranks (recursive doubling does), so
// the floating-point result may differ in the last bit between ranks; gathering the pairs and
// folding them in one fixed order on every rank makes the shared statistics bitwise identical
// everywhere and run to run. The price is (P - 1) x 16 x G bytes received per rank instead of
// ~2 x 16 x G (README, "Distributed softmax (MPI)", has the cost model).
// Layout: the dim is moved last (a transposing copy when it is not already last and
// contiguous), so every group is one contiguous row; the result is moved back.
#include <mpi.h>

#include <algorithm>
#include <limits>
#include <string>
#include <vector>

#include "dist/shard_header.h"
#include "kernels/simd_kernels.h"
#include "runtime/parallel.h"
#include "smx/dist.h"
#include "smx/errors.h"

namespace smx::dist {

namespace {

using smx::Op;
using smx::detail::kFusedRowMax;
using smx::detail::RowStats;
using smx::detail::SimdDtypeKernels;

using smx::detail::kMinElementsPerThread;

const SimdDtypeKernels& kernels_for(Dtype dtype) {
  const smx::detail::SimdKernelTable& t = smx::detail::simd_kernels();
  switch (dtype) {
    case kFloat32: return t.f32;
    case kFloat64: return t.f64;
    case kFloat16: return t.f16;
    case kBFloat16: return t.bf16;
    default: throw RuntimeError("smx.dist: dtype " + dtype_name(dtype) + " is not floating");
  }
}

// The permutation that moves `dim` last, keeping the other dims in order, and its inverse.
std::vector<std::int64_t> dim_last(std::int64_t ndim, std::int64_t dim) {
  std::vector<std::int64_t> perm;
  for (std::int64_t d = 0; d < ndim; ++d) {
    if (d != dim) perm.push_back(d);
  }
  perm.push_back(dim);
  return perm;
}
std::vector<std::int64_t> inverse(const std::vector<std::int64_t>& perm) {
  std::vector<std::int64_t> inv(perm.size());
  for (std::size_t i = 0; i < perm.size(); ++i) inv[static_cast<std::size_t>(perm[i])] = static_cast<std::int64_t>(i);
  return inv;
}

// A host tensor with `dim` last and contiguous: groups rows of n elements.
Tensor as_rows(const Tensor& x, std::int64_t dim) {
  return x.to(Device(kCPU)).permute(dim_last(x.dim(), dim)).contiguous();
}
// The rows back in the input's dim order (contiguous) and on its device.
Tensor from_rows(const Tensor& rows, std::int64_t dim, const Device& device) {
  return rows.permute(inverse(dim_last(rows.dim(), dim))).contiguous().to(device);
}

// Work items: (group, chunk of kFusedRowMax elements) pairs, so that one long row (a sharded
// vocabulary) and many short ones both spread over the threads.
struct Chunks {
  std::int64_t groups, n, per_row;
  std::int64_t items() const { return groups * per_row; }
  std::int64_t begin(std::int64_t item) const { return (item % per_row) * kFusedRowMax; }
  std::int64_t len(std::int64_t item) const { return std::min(kFusedRowMax, n - begin(item)); }
  std::int64_t row(std::int64_t item) const { return item / per_row; }
};

Chunks chunks_of(std::int64_t groups, std::int64_t n) {
  return {groups, n, std::max<std::int64_t>(1, (n + kFusedRowMax - 1) / kFusedRowMax)};
}

template <typename Fn>
void for_each_chunk(const Chunks& c, Fn&& fn) {
  smx::detail::parallel_for(c.items(), c.groups * c.n / kMinElementsPerThread + 1,
                            [&](std::int64_t b, std::int64_t e) {
                              for (std::int64_t i = b; i < e; ++i) fn(i);
                            });
}

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

Tensor forward_impl(Op kind, const Tensor& x, std::int64_t dim, MPI_Comm comm) {
  detail::check_mpi_ready(kind, comm);
  const detail::ShardLayout layout = detail::exchange_headers(kind, detail::describe_shard(kind, x, nullptr, dim), comm);
  // Decided from gathered values only, so every rank skips the statistics exchange together.
  if (layout.groups == 0 || layout.n_total == 0) return empty(x.sizes(), x.dtype(), x.device());

  const Tensor rows = as_rows(x, layout.dim);
  Tensor out = empty(rows.sizes(), rows.dtype());
  const SimdDtypeKernels& k = kernels_for(x.dtype());
  const auto elem = static_cast<std::int64_t>(x.element_size());
  const std::int64_t n = x.size(layout.dim);
  const Chunks c = chunks_of(layout.groups, n);
  const auto* in = static_cast<const char*>(rows.data_ptr());
  auto* dst = static_cast<char*>(out.data_ptr());

  // Local statistics per group; an empty slice contributes (-inf, 0), which merges as nothing.
  std::vector<double> mine(static_cast<std::size_t>(2 * layout.groups));
  {
    std::vector<RowStats> partial(static_cast<std::size_t>(c.items()),
                                  RowStats{-std::numeric_limits<double>::infinity(), 0.0});
    if (n > 0) {
      for_each_chunk(c, [&](std::int64_t i) {
        partial[static_cast<std::size_t>(i)] = k.row_stats(kind, in + (c.row(i) * n + c.begin(i)) * elem, c.len(i));
      });
    }
    for (std::int64_t g = 0; g < layout.groups; ++g) {
      RowStats t = partial[static_cast<std::size_t>(g * c.per_row)];
      for (std::int64_t j = 1; j < c.per_row; ++j) {
        t = smx::detail::merge_row_stats(t, partial[static_cast<std::size_t>(g * c.per_row + j)]);
      }
      mine[static_cast<std::size_t>(2 * g)] = t.max;
      mine[static_cast<std::size_t>(2 * g + 1)] = t.sum;
    }
  }
  const std::vector<double> all = allgather(mine, layout.groups, 2, layout.size, comm);
  if (n == 0) return from_rows(out, layout.dim, x.device());

  // The rank-ordered fold, identical on every rank.
  std::vector<RowStats> total(static_cast<std::size_t>(layout.groups));
  for (std::int64_t g = 0; g < layout.groups; ++g) {
    RowStats t{all[static_cast<std::size_t>(2 * g)], all[static_cast<std::size_t>(2 * g + 1)]};
    for (int r = 1; r < layout.size; ++r) {
      const std::size_t at = static_cast<std::size_t>(2 * (r * layout.groups + g));
      t = smx::detail::merge_row_stats(t, RowStats{all[at], all[at + 1]});
    }
    total[static_cast<std::size_t>(g)] = t;
  }
  for_each_chunk(c, [&](std::int64_t i) {
    const std::int64_t at = (c.row(i) * n + c.begin(i)) * elem;
    k.row_write(kind, in + at, dst + at, c.len(i), total[static_cast<std::size_t>(c.row(i))], false);
  });
  return from_rows(out, layout.dim, x.device());
}

Tensor backward_impl(Op kind, const Tensor& grad, const Tensor& output,
                std::int64_t dim, MPI_Comm comm) {
  detail::check_mpi_ready(kind, comm);
  const detail::ShardLayout layout =
      detail::exchange_headers(kind, detail::describe_shard(kind, grad, &output, dim), comm);
  if (layout.groups == 0 || layout.n_total == 0) return empty(grad.sizes(), grad.dtype(), grad.device());

  const Tensor g_rows = as_rows(grad, layout.dim);
  const Tensor y_rows = as_rows(output, layout.dim);
  Tensor out = empty(g_rows.sizes(), g_rows.dtype());
  const SimdDtypeKernels& k = kernels_for(grad.dtype());
  const auto elem = static_cast<std::int64_t>(grad.element_size());
  const std::int64_t n = grad.size(layout.dim);
  const Chunks c = chunks_of(layout.groups, n);
  const auto* gp = static_cast<const char*>(g_rows.data_ptr());
  const auto* yp = static_cast<const char*>(y_rows.data_ptr());
  auto* dst = static_cast<char*>(out.data_ptr());

  std::vector<double> mine(static_cast<std::size_t>(layout.groups), 0.0);
  if (n > 0) {
    std::vector<double> partial(static_cast<std::size_t>(c.items()));
    for_each_chunk(c, [&](std::int64_t i) {
      const std::int64_t at = (c.row(i) * n + c.begin(i)) * elem;
      partial[static_cast<std::size_t>(i)] = k.row_backward_acc(kind, gp + at, yp + at, c.len(i));
    });
    for (std::int64_t g = 0; g < layout.groups; ++g) {
      double t = 0.0;
      for (std::int64_t j = 0; j < c.per_row; ++j) t += partial[static_cast<std::size_t>(g * c.per_row + j)];
      mine[static_cast<std::size_t>(g)] = t;
    }
  }
  const std::vector<double> all = allgather(mine, layout.groups, 1, layout.size, comm);
  if (n == 0) return from_rows(out, layout.dim, grad.device());

  std::vector<double> total(static_cast<std::size_t>(layout.groups));
  for (std::int64_t g = 0; g < layout.groups; ++g) {
    double t = all[static_cast<std::size_t>(g)];
    for (int r = 1; r < layout.size; ++r) t += all[static_cast<std::size_t>(r * layout.groups + g)];
    total[static_cast<std::size_t>(g)] = t;
  }
  for_each_chunk(c, [&](std::int64_t i) {
    const std::int64_t at = (c.row(i) * n + c.begin(i)) * elem;
    k.row_backward_write(kind, gp + at, yp + at, dst + at, c.len(i), total[static_cast<std::size_t>(c.row(i))], false);
  });
  return from_rows(out, layout.dim, grad.device());
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

Tensor softmax(const Tensor& x_local, std::int64_t dim, MPI_Comm comm) {
  return forward_impl(Op::kSoftmax, x_local, dim, comm);
}
Tensor log_softmax(const Tensor& x_local, std::int64_t dim, MPI_Comm comm) {
  return forward_impl(Op::kLogSoftmax, x_local, dim, comm);
}
Tensor softmin(const Tensor& x_local, std::int64_t dim, MPI_Comm comm) {
  return forward_impl(Op::kSoftmin, x_local, dim, comm);
}
Tensor softmax_backward(const Tensor& grad_local, const Tensor& output_local, std::int64_t dim, MPI_Comm comm) {
  return backward_impl(Op::kSoftmaxBackward, grad_local, output_local, dim,
                  comm);
}
Tensor log_softmax_backward(const Tensor& grad_local, const Tensor& output_local, std::int64_t dim,
                            MPI_Comm comm) {
  return backward_impl(Op::kLogSoftmaxBackward, grad_local,
                  output_local, dim, comm);
}

}  // namespace smx::dist
