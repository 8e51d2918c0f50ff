#include "mpi_dim0.h"

#include <algorithm>
#include <limits>

#include "kernels/simd_kernels.h"
#include "smx/errors.h"
#include "smx/softmax.h"

namespace smx::cli {

namespace {

using detail::kColShortN;
using detail::kColTile;
using detail::kFusedRowMax;
using detail::RowStats;
using detail::SimdDtypeKernels;

const SimdDtypeKernels& kernels_for(Dtype dtype) {
  const detail::SimdKernelTable& t = detail::simd_kernels();
  switch (dtype) {
    case kFloat32: return t.f32;
    case kFloat64: return t.f64;
    case kFloat16: return t.f16;
    case kBFloat16: return t.bf16;
    default: throw RuntimeError("smx: dtype " + dtype_name(dtype) + " is not floating");
  }
}

// Elements per row of dim 0 (from the shape: a rank with no rows still has them).
std::int64_t inner_of(const Tensor& x) {
  std::int64_t inner = 1;
  for (std::int64_t d = 1; d < x.dim(); ++d) inner *= x.size(d);
  return inner;
}

void check(int rc, const char* call) {
  if (rc != MPI_SUCCESS) throw RuntimeError(std::string("smx: ") + call + " failed");
}

// Tall columns: the running per-lane state, passed along the ranks.
Tensor tall_columns(Op kind, const Tensor& x, std::int64_t lanes, MPI_Comm comm, int rank, int size) {
  const SimdDtypeKernels& k = kernels_for(x.dtype());
  const bool f64 = x.dtype() == kFloat64;
  // The max in the compute type (double for float64, float otherwise), the sum in double.
  std::vector<double> max64(f64 ? lanes : 0, -std::numeric_limits<double>::infinity());
  std::vector<float> max32(f64 ? 0 : lanes, -std::numeric_limits<float>::infinity());
  std::vector<double> sum(static_cast<std::size_t>(lanes), 0.0);
  void* m = f64 ? static_cast<void*>(max64.data()) : static_cast<void*>(max32.data());
  MPI_Datatype mt = f64 ? MPI_DOUBLE : MPI_FLOAT;
  const int n = static_cast<int>(lanes);
  if (rank > 0) {
    check(MPI_Recv(m, n, mt, rank - 1, 0, comm, MPI_STATUS_IGNORE), "MPI_Recv");
    check(MPI_Recv(sum.data(), n, MPI_DOUBLE, rank - 1, 1, comm, MPI_STATUS_IGNORE), "MPI_Recv");
  }
  const std::int64_t rows = x.size(0);
  if (rows > 0) k.cols_stats(kind, x.data_ptr(), lanes, rows, lanes, m, sum.data());
  if (rank + 1 < size) {
    check(MPI_Send(m, n, mt, rank + 1, 0, comm), "MPI_Send");
    check(MPI_Send(sum.data(), n, MPI_DOUBLE, rank + 1, 1, comm), "MPI_Send");
  }
  check(MPI_Bcast(m, n, mt, size - 1, comm), "MPI_Bcast");
  check(MPI_Bcast(sum.data(), n, MPI_DOUBLE, size - 1, comm), "MPI_Bcast");
  Tensor y = empty(x.sizes(), x.dtype());
  if (rows > 0) k.cols_write(kind, x.data_ptr(), lanes, y.data_ptr(), lanes, rows, lanes, m, sum.data(), false);
  return y;
}

// Short columns: global max, then the sum of exp(x - max) in row order along the ranks.
Tensor short_columns(Op kind, const Tensor& x, std::int64_t lanes, MPI_Comm comm, int rank, int size) {
  const bool f64 = x.dtype() == kFloat64;
  // The compute-type copy (float16/bfloat16 widen exactly to float32, as the kernels load them).
  const Tensor xc = f64 ? x : x.to(kFloat32).contiguous();
  const SimdDtypeKernels& kc = f64 ? detail::simd_kernels().f64 : detail::simd_kernels().f32;
  const bool negate = kind == Op::kSoftmin;
  const std::int64_t rows = x.size(0);
  const int n = static_cast<int>(lanes);
  std::vector<double> max64(f64 ? lanes : 0, -std::numeric_limits<double>::infinity());
  std::vector<float> max32(f64 ? 0 : lanes, -std::numeric_limits<float>::infinity());
  // (NaN: whatever max a lane holding one gets, its sum and so its whole column end NaN.)
  if (f64) {
    const double* p = xc.data<double>();
    for (std::int64_t i = 0; i < rows; ++i) {
      for (std::int64_t l = 0; l < lanes; ++l) max64[l] = std::max(max64[l], negate ? -p[i * lanes + l] : p[i * lanes + l]);
    }
  } else {
    const float* p = xc.data<float>();
    for (std::int64_t i = 0; i < rows; ++i) {
      for (std::int64_t l = 0; l < lanes; ++l) max32[l] = std::max(max32[l], negate ? -p[i * lanes + l] : p[i * lanes + l]);
    }
  }
  void* m = f64 ? static_cast<void*>(max64.data()) : static_cast<void*>(max32.data());
  check(MPI_Allreduce(MPI_IN_PLACE, m, n, f64 ? MPI_DOUBLE : MPI_FLOAT, MPI_MAX, comm), "MPI_Allreduce");
  // exp(x - max) exactly as the kernels compute it: their write pass with a sum of 1 (y = e * 1).
  std::vector<double> ones(static_cast<std::size_t>(lanes), 1.0);
  Tensor e = empty(xc.sizes(), xc.dtype());
  const Op exp_kind = negate ? Op::kSoftmin : Op::kSoftmax;
  if (rows > 0) kc.cols_write(exp_kind, xc.data_ptr(), lanes, e.data_ptr(), lanes, rows, lanes, m, ones.data(), false);
  std::vector<double> sum(static_cast<std::size_t>(lanes), 0.0);
  if (rank > 0) check(MPI_Recv(sum.data(), n, MPI_DOUBLE, rank - 1, 2, comm, MPI_STATUS_IGNORE), "MPI_Recv");
  // Per lane, in row order, in double: the kernel's order (simd_softmax.cc, ColsShortImpl).
  if (f64) {
    const double* p = e.data<double>();
    for (std::int64_t i = 0; i < rows; ++i) {
      for (std::int64_t l = 0; l < lanes; ++l) sum[l] += p[i * lanes + l];
    }
  } else {
    const float* p = e.data<float>();
    for (std::int64_t i = 0; i < rows; ++i) {
      for (std::int64_t l = 0; l < lanes; ++l) sum[l] += static_cast<double>(p[i * lanes + l]);
    }
  }
  if (rank + 1 < size) check(MPI_Send(sum.data(), n, MPI_DOUBLE, rank + 1, 2, comm), "MPI_Send");
  check(MPI_Bcast(sum.data(), n, MPI_DOUBLE, size - 1, comm), "MPI_Bcast");
  Tensor y = empty(x.sizes(), x.dtype());
  if (rows > 0) {
    kernels_for(x.dtype()).cols_write(kind, x.data_ptr(), lanes, y.data_ptr(), lanes, rows, lanes, m, sum.data(), false);
  }
  return y;
}

// A long row: per-chunk statistics from every rank, folded left to right on every rank.
Tensor long_row(Op kind, const Tensor& x, const std::vector<std::int64_t>& bounds, MPI_Comm comm, int rank,
                int size) {
  const SimdDtypeKernels& k = kernels_for(x.dtype());
  const auto elem = static_cast<std::int64_t>(x.element_size());
  const std::int64_t n = x.numel();
  const auto* in = static_cast<const char*>(x.data_ptr());
  auto chunks = [](std::int64_t len) { return (len + kFusedRowMax - 1) / kFusedRowMax; };
  std::vector<double> mine;
  for (std::int64_t c = 0; c < chunks(n); ++c) {
    const RowStats s = k.row_stats(kind, in + c * kFusedRowMax * elem, std::min(kFusedRowMax, n - c * kFusedRowMax));
    mine.push_back(s.max);
    mine.push_back(s.sum);
  }
  std::vector<int> counts(static_cast<std::size_t>(size)), displs(static_cast<std::size_t>(size));
  int total = 0;
  for (int r = 0; r < size; ++r) {
    counts[r] = static_cast<int>(2 * chunks(bounds[r + 1] - bounds[r]));
    displs[r] = total;
    total += counts[r];
  }
  std::vector<double> all(static_cast<std::size_t>(total));
  check(MPI_Allgatherv(mine.data(), counts[rank], MPI_DOUBLE, all.data(), counts.data(), displs.data(), MPI_DOUBLE,
                       comm), "MPI_Allgatherv");
  RowStats t{all[0], all[1]};
  for (int c = 1; c < total / 2; ++c) t = detail::merge_row_stats(t, RowStats{all[2 * c], all[2 * c + 1]});
  Tensor y = empty(x.sizes(), x.dtype());
  auto* out = static_cast<char*>(y.data_ptr());
  for (std::int64_t c = 0; c < chunks(n); ++c) {
    const std::int64_t at = c * kFusedRowMax * elem;
    k.row_write(kind, in + at, out + at, std::min(kFusedRowMax, n - c * kFusedRowMax), t, false);
  }
  return y;
}

// A short row: rank 0 gathers it (at most kFusedRowMax elements), computes, scatters.
Tensor short_row(Op kind, const Tensor& x, const std::vector<std::int64_t>& bounds, MPI_Comm comm, int rank,
                 int size) {
  const auto elem = static_cast<std::int64_t>(x.element_size());
  std::vector<int> counts(static_cast<std::size_t>(size)), displs(static_cast<std::size_t>(size));
  for (int r = 0; r < size; ++r) {
    counts[r] = static_cast<int>((bounds[r + 1] - bounds[r]) * elem);
    displs[r] = static_cast<int>(bounds[r] * elem);
  }
  std::vector<std::int64_t> shape = x.sizes().vec();
  shape[0] = bounds[size];
  Tensor whole = empty(Size(shape), x.dtype()), result;
  check(MPI_Gatherv(x.data_ptr(), counts[rank], MPI_BYTE, whole.data_ptr(), counts.data(), displs.data(), MPI_BYTE, 0,
                    comm), "MPI_Gatherv");
  if (rank == 0) {
    result = kind == Op::kSoftmax      ? softmax(whole, 0)
             : kind == Op::kLogSoftmax ? log_softmax(whole, 0)
                                                : softmin(whole, 0);
  }
  Tensor y = empty(x.sizes(), x.dtype());
  check(MPI_Scatterv(rank == 0 ? result.data_ptr() : nullptr, counts.data(), displs.data(), MPI_BYTE, y.data_ptr(),
                     counts[rank], MPI_BYTE, 0, comm), "MPI_Scatterv");
  return y;
}

}  // namespace

std::vector<std::int64_t> split_dim0(std::int64_t rows, std::int64_t inner, int size) {
  std::int64_t align = 1;
  if (inner == 1 && rows > kFusedRowMax) align = kFusedRowMax;
  if (inner > 1 && rows > kColShortN) align = kColTile;
  std::vector<std::int64_t> bounds;
  for (int r = 0; r <= size; ++r) {
    const std::int64_t even = rows * r / size;
    bounds.push_back(r == size ? rows : std::min(rows, (even + align / 2) / align * align));
  }
  return bounds;
}

Tensor softmax_dim0_exact(Op kind, const Tensor& x_local, const std::vector<std::int64_t>& bounds,
                          MPI_Comm comm) {
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  const Tensor x = x_local.contiguous();
  const std::int64_t rows = bounds[static_cast<std::size_t>(size)];
  const std::int64_t inner = inner_of(x);
  if (inner > std::numeric_limits<int>::max() / 2) throw RuntimeError("smx: too many elements after dim 0 for MPI");
  if (inner > 1) {
    return rows > kColShortN ? tall_columns(kind, x, inner, comm, rank, size)
                             : short_columns(kind, x, inner, comm, rank, size);
  }
  return rows > kFusedRowMax ? long_row(kind, x, bounds, comm, rank, size) : short_row(kind, x, bounds, comm, rank, size);
}

}  // namespace smx::cli
