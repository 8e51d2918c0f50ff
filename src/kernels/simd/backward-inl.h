// Backward of softmax (dx = y * (g - sum(g * y))) and log_softmax (dx = g - exp(y) * sum(g)):
// rows (fused, or acc + write per chunk of a long row) and columns (all passes, or the resumable
// acc + write). dx is written through a store (simd/sources-inl.h): plain, or through the mask
// of a masked forward. Contracts in kernels/kernel_table.h.
// Highway -inl.h: included once per target by simd_backward.cc (foreach_target), so it has a
// per-target include guard instead of #pragma once.
#if defined(SMX_KERNELS_SIMD_BACKWARD_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef SMX_KERNELS_SIMD_BACKWARD_INL_H_
#undef SMX_KERNELS_SIMD_BACKWARD_INL_H_
#else
#define SMX_KERNELS_SIMD_BACKWARD_INL_H_
#endif

#include <hwy/cache_control.h>
#include <hwy/highway.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/kernel_table.h"
#include "kernels/simd/double_sum-inl.h"
#include "kernels/simd/dtype_io-inl.h"
#include "kernels/simd/exp-inl.h"
#include "kernels/simd/sources-inl.h"

HWY_BEFORE_NAMESPACE();
namespace smx::detail {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

template <class IO>
double RowBackwardAccImpl(Op op, const void* gv, const void* yv, std::int64_t n) {
  using D = typename IO::D;
  const D d;
  const auto N = static_cast<std::int64_t>(hn::Lanes(d));
  const auto* g = static_cast<const typename IO::Storage*>(gv);
  const auto* y = static_cast<const typename IO::Storage*>(yv);
  const bool softmax = op == Op::kSoftmaxBackward;
  SMX_DOUBLE_SUM(D, acc_lo, acc_hi);
  std::int64_t i = 0;
  for (; i + N <= n; i += N) {
    const auto gi = IO::Load(d, g + i);
    SumAdd(d, acc_lo, acc_hi, softmax ? hn::Mul(gi, IO::Load(d, y + i)) : gi);
  }
  if (i < n) {
    const Tail<IO> gt(g + i, n - i, typename IO::Storage{});
    const Tail<IO> yt(y + i, n - i, typename IO::Storage{});
    const auto gi = IO::Load(d, gt.buf);
    SumAdd(d, acc_lo, acc_hi, softmax ? hn::Mul(gi, IO::Load(d, yt.buf)) : gi);
  }
  return SumTotal(d, acc_lo, acc_hi);
}

template <class IO, class Store>
void RowBackwardWriteT(Op op, const typename IO::Storage* g, const typename IO::Storage* y, typename IO::Storage* dx,
                       std::int64_t n, double acc, bool stream, const Store& store) {
  using D = typename IO::D;
  using T = hn::TFromD<D>;
  const D d;
  const auto N = static_cast<std::int64_t>(hn::Lanes(d));
  const bool softmax = op == Op::kSoftmaxBackward;
  const auto vacc = hn::Set(d, static_cast<T>(acc));
  stream = CanStream<IO>(stream, N, dx);
  auto compute = [&](hn::Vec<D> gi, hn::Vec<D> yi) {
    return softmax ? hn::Mul(yi, hn::Sub(gi, vacc)) : hn::NegMulAdd(ExpKeepNaN(d, yi), vacc, gi);
  };
  std::int64_t i = 0;
  for (; i + N <= n; i += N) {
    IO::Store(d, store.Row(d, compute(IO::Load(d, g + i), IO::Load(d, y + i)), i, N), dx + i, stream);
  }
  if (i < n) {
    const Tail<IO> gt(g + i, n - i, typename IO::Storage{});
    const Tail<IO> yt(y + i, n - i, typename IO::Storage{});
    typename IO::Storage out[hn::MaxLanes(D())];
    IO::Store(d, store.Row(d, compute(IO::Load(d, gt.buf), IO::Load(d, yt.buf)), i, n - i), out, false);
    std::memcpy(dx + i, out, static_cast<size_t>(n - i) * sizeof(typename IO::Storage));
  }
  if (stream) hwy::FlushStream();
}

template <class IO>
void RowBackwardWriteImpl(Op op, const void* gv, const void* yv, void* dxv, std::int64_t n, double acc, bool stream,
                          const MaskedLoad* masked) {
  using S = typename IO::Storage;
  const auto* g = static_cast<const S*>(gv);
  const auto* y = static_cast<const S*>(yv);
  auto* dx = static_cast<S*>(dxv);
  if (masked != nullptr) return RowBackwardWriteT<IO>(op, g, y, dx, n, acc, stream, MaskedGradStore<IO>(*masked));
  RowBackwardWriteT<IO>(op, g, y, dx, n, acc, stream, GradStore<IO>{});
}

// `rows` backward rows of n <= kFusedRowMax contiguous elements, evenly spaced (row r of a masked
// call writes through masked->row(r)).
template <class IO>
void RowsBackwardImpl(Op op, const void* gv, std::int64_t g_row_stride, const void* yv, std::int64_t y_row_stride,
                      void* dxv, std::int64_t dx_row_stride, std::int64_t rows, std::int64_t n, bool stream,
                      const MaskedLoad* masked) {
  using S = typename IO::Storage;
  const auto* g = static_cast<const S*>(gv);
  const auto* y = static_cast<const S*>(yv);
  auto* dx = static_cast<S*>(dxv);
  for (std::int64_t r = 0; r < rows; ++r) {
    const double acc = RowBackwardAccImpl<IO>(op, g + r * g_row_stride, y + r * y_row_stride, n);
    if (masked != nullptr) {
      const MaskedLoad row = masked->row(r);
      RowBackwardWriteImpl<IO>(op, g + r * g_row_stride, y + r * y_row_stride, dx + r * dx_row_stride, n, acc, stream,
                               &row);
    } else {
      RowBackwardWriteImpl<IO>(op, g + r * g_row_stride, y + r * y_row_stride, dx + r * dx_row_stride, n, acc, stream,
                               nullptr);
    }
  }
}

// Backward columns, walked row by row like the forward ones. Pass 1 adds per lane (softmax:
// g * y; log_softmax: g) to partial sums over tiles of kColTile rows (counted from the block's
// first row), each tile's partial then added to the double total; the tile is walked row by row
// (one contiguous run per row and operand, which the prefetchers follow), the partial sums kept
// per lane vector between rows (the lo/hi halves of SumAdd): each lane adds the same terms in
// the same order as a walk down one vector's rows.
template <class IO, class D>
void ColsBackwardAccT(D d, Op op, const typename IO::Storage* g, std::int64_t g_row_stride, std::int64_t g_lane_stride,
                      const typename IO::Storage* y, std::int64_t y_row_stride, std::int64_t y_lane_stride,
                      std::int64_t rows, std::int64_t width, double* sum) {
  const auto N = static_cast<std::int64_t>(hn::Lanes(d));
  const bool softmax = op == Op::kSoftmaxBackward;
  const SumTag<D> dd;
  const auto ND = static_cast<std::int64_t>(hn::Lanes(dd));
  double* part = ColState<double, 8>(2 * ND * (width / N));
  for (std::int64_t t0 = 0; t0 < rows; t0 += kColTile) {
    const std::int64_t t1 = std::min(rows, t0 + kColTile);
    for (std::int64_t k = 0; k < 2 * (width / N); ++k) hn::StoreU(hn::Zero(dd), dd, part + k * ND);
    for (std::int64_t i = t0; i < t1; ++i) {
      for (std::int64_t l = 0; l < width; l += N) {
        const auto gi = IO::Load(d, g + i * g_row_stride + l * g_lane_stride);
        double* lo_at = part + 2 * (l / N) * ND;
        auto lo = hn::LoadU(dd, lo_at);
        auto hi = hn::LoadU(dd, lo_at + ND);
        SumAdd(d, lo, hi, softmax ? hn::Mul(gi, IO::Load(d, y + i * y_row_stride + l * y_lane_stride)) : gi);
        hn::StoreU(lo, dd, lo_at);
        hn::StoreU(hi, dd, lo_at + ND);
      }
    }
    for (std::int64_t l = 0; l < width; l += N) {
      const double* lo_at = part + 2 * (l / N) * ND;
      HWY_ALIGN double per_lane[2 * hn::MaxLanes(D())];
      SumPerLane(d, hn::LoadU(dd, lo_at), hn::LoadU(dd, lo_at + ND), per_lane);
      for (std::int64_t k = 0; k < N; ++k) sum[l + k] += per_lane[k];
    }
  }
}

// Pass 2: dx for `rows` rows from the lanes' final accumulators.
template <class IO, class D, class Store>
void ColsBackwardWriteT(D d, Op op, const typename IO::Storage* g, std::int64_t g_row_stride,
                        std::int64_t g_lane_stride, const typename IO::Storage* y, std::int64_t y_row_stride,
                        std::int64_t y_lane_stride, typename IO::Storage* dx, std::int64_t dx_row_stride,
                        std::int64_t dx_lane_stride, std::int64_t rows, std::int64_t width, const double* sum,
                        bool stream, const Store& store) {
  using T = hn::TFromD<D>;
  const auto N = static_cast<std::int64_t>(hn::Lanes(d));
  const bool softmax = op == Op::kSoftmaxBackward;
  T* total = ColState<T, 1>(width);
  for (std::int64_t l = 0; l < width; ++l) total[l] = static_cast<T>(sum[l]);
  const bool can_stream = CanStream<IO>(stream, N, dx, dx_row_stride, dx_lane_stride);
  for (std::int64_t i = 0; i < rows; ++i) {
    for (std::int64_t l = 0; l < width; l += N) {
      const auto gi = IO::Load(d, g + i * g_row_stride + l * g_lane_stride);
      const auto yi = IO::Load(d, y + i * y_row_stride + l * y_lane_stride);
      const auto vacc = hn::LoadU(d, total + l);
      const auto out = softmax ? hn::Mul(yi, hn::Sub(gi, vacc)) : hn::NegMulAdd(ExpKeepNaN(d, yi), vacc, gi);
      IO::Store(d, store.Col(d, out, i, l), dx + i * dx_row_stride + l * dx_lane_stride, can_stream);
    }
  }
  if (can_stream) hwy::FlushStream();
}

template <class IO, class D, class Store>
void ColsBackwardT(D d, Op op, const typename IO::Storage* g, std::int64_t g_row_stride, std::int64_t g_lane_stride,
                   const typename IO::Storage* y, std::int64_t y_row_stride, std::int64_t y_lane_stride,
                   typename IO::Storage* dx, std::int64_t dx_row_stride, std::int64_t dx_lane_stride, std::int64_t n,
                   std::int64_t width, bool stream, const Store& store) {
  if (width == 0) return;
  double* sum = ColState<double, 3>(width);
  for (std::int64_t l = 0; l < width; ++l) sum[l] = 0.0;
  ColsBackwardAccT<IO>(d, op, g, g_row_stride, g_lane_stride, y, y_row_stride, y_lane_stride, n, width, sum);
  ColsBackwardWriteT<IO>(d, op, g, g_row_stride, g_lane_stride, y, y_row_stride, y_lane_stride, dx, dx_row_stride,
                         dx_lane_stride, n, width, sum, stream, store);
}

// The store of a column call: plain, or through the mask (shifted to the lanes a part starts at).
template <class IO, class Fn>
HWY_INLINE void WithGradStore(const MaskedLoad* masked, std::int64_t l0, Fn&& fn) {
  if (masked != nullptr) {
    MaskedLoad shifted = *masked;
    shifted.mask += l0 * masked->mask_lane_stride;
    fn(MaskedGradStore<IO>(shifted));
  } else {
    fn(GradStore<IO>{});
  }
}

template <class IO>
void ColsBackwardContiguous(Op op, const void* gv, std::int64_t g_row_stride, const void* yv, std::int64_t y_row_stride,
                            void* dxv, std::int64_t dx_row_stride, std::int64_t n, std::int64_t lanes, bool stream,
                            const MaskedLoad* masked) {
  using S = typename IO::Storage;
  const auto* g = static_cast<const S*>(gv);
  const auto* y = static_cast<const S*>(yv);
  auto* dx = static_cast<S*>(dxv);
  ForLaneParts<IO>(lanes, [&](auto d, std::int64_t l0, std::int64_t width) {
    WithGradStore<IO>(masked, l0, [&](const auto& store) {
      ColsBackwardT<IO>(d, op, g + l0, g_row_stride, 1, y + l0, y_row_stride, 1, dx + l0, dx_row_stride, 1, n, width,
                        l0 == 0 && stream, store);
    });
  });
}

template <class IO>
void ColsBackwardStrided(Op op, const void* gv, std::int64_t g_row_stride, std::int64_t g_lane_stride, const void* yv,
                         std::int64_t y_row_stride, std::int64_t y_lane_stride, void* dxv, std::int64_t dx_row_stride,
                         std::int64_t dx_lane_stride, std::int64_t n, std::int64_t lanes, const MaskedLoad* masked) {
  using S = typename IO::Storage;
  WithGradStore<IO>(masked, 0, [&](const auto& store) {
    ColsBackwardT<IO>(hn::CappedTag<hn::TFromD<typename IO::D>, 1>(), op, static_cast<const S*>(gv), g_row_stride,
                      g_lane_stride, static_cast<const S*>(yv), y_row_stride, y_lane_stride, static_cast<S*>(dxv),
                      dx_row_stride, dx_lane_stride, n, lanes, false, store);
  });
}

template <class IO>
void ColsBackwardAccContiguous(Op op, const void* gv, std::int64_t g_row_stride, const void* yv,
                               std::int64_t y_row_stride, std::int64_t rows, std::int64_t lanes, double* acc) {
  using S = typename IO::Storage;
  const auto* g = static_cast<const S*>(gv);
  const auto* y = static_cast<const S*>(yv);
  ForLaneParts<IO>(lanes, [&](auto d, std::int64_t l0, std::int64_t width) {
    ColsBackwardAccT<IO>(d, op, g + l0, g_row_stride, 1, y + l0, y_row_stride, 1, rows, width, acc + l0);
  });
}

template <class IO>
void ColsBackwardWriteContiguous(Op op, const void* gv, std::int64_t g_row_stride, const void* yv,
                                 std::int64_t y_row_stride, void* dxv, std::int64_t dx_row_stride, std::int64_t rows,
                                 std::int64_t lanes, const double* acc, bool stream) {
  using S = typename IO::Storage;
  const auto* g = static_cast<const S*>(gv);
  const auto* y = static_cast<const S*>(yv);
  auto* dx = static_cast<S*>(dxv);
  ForLaneParts<IO>(lanes, [&](auto d, std::int64_t l0, std::int64_t width) {
    ColsBackwardWriteT<IO>(d, op, g + l0, g_row_stride, 1, y + l0, y_row_stride, 1, dx + l0, dx_row_stride, 1, rows,
                           width, acc + l0, l0 == 0 && stream, GradStore<IO>{});
  });
}

}  // namespace HWY_NAMESPACE
}  // namespace smx::detail
HWY_AFTER_NAMESPACE();

#endif  // SMX_KERNELS_SIMD_BACKWARD_INL_H_
