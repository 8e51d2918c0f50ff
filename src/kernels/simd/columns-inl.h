// Forward softmax / log_softmax / softmin over an earlier dim: `lanes` side-by-side columns of
// `n` rows. cols / cols_strided (all passes), cols_stats + cols_write (the resumable passes of tall
// columns, also used by the streaming pieces). Contracts in simd_kernels.h.
// Highway -inl.h: included once per target by simd_softmax.cc (foreach_target), so it has a
// per-target include guard instead of #pragma once.
#if defined(SMX_KERNELS_SIMD_COLUMNS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef SMX_KERNELS_SIMD_COLUMNS_INL_H_
#undef SMX_KERNELS_SIMD_COLUMNS_INL_H_
#else
#define SMX_KERNELS_SIMD_COLUMNS_INL_H_
#endif

#include <hwy/cache_control.h>
#include <hwy/highway.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "kernels/simd/double_sum-inl.h"
#include "kernels/simd/dtype_io-inl.h"
#include "kernels/simd/exp-inl.h"
#include "kernels/simd_kernels.h"

HWY_BEFORE_NAMESPACE();
namespace smx::detail {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Columns: `lanes` side-by-side columns of `n` rows. Memory is walked row by row (long
// contiguous runs the prefetchers follow) in two passes:
//   stats: rows come in tiles of kColTile; per lane, the tile's max updates the running max m
//          (s is rescaled by exp(m_old - m_new) in double when m grows), then the tile - now in
//          L1/L2 - adds exp(x - m) to s;
//   write: y = exp(x - m) / s (log: (x - m) - log(s)).
// The tile boundaries depend on n alone and every lane's arithmetic is the same at any vector
// width (D is the full vector, or one lane for leftovers and strided lanes), so results do not
// depend on the layout or on how lanes are split between threads.
// (kColTile and kColShortN, the tile height and the short-column limit, are in simd_kernels.h:
// the streaming pieces in ops/softmax_pieces.cc must cut columns on the same tile boundaries.)

// sum[k] *= exp(old_m[k] - new_m[k]) for the lanes whose max changed, in double: the rescale
// must not add float rounding to sums that are kept in double.
template <class D, class V>
HWY_INLINE void RescaleSums(D /* tag */, V old_m, V new_m, double* sum) {
  using DD = SumTag<D>;
  const DD dd;
  const auto one = hn::Set(dd, 1.0);
  auto rescale = [&](const auto& o, const auto& nw, double* s) {
    const auto changed = hn::Not(hn::Eq(o, nw));
    const auto factor = hn::IfThenElse(changed, ExpKeepNaN(dd, hn::Sub(o, nw)), one);
    hn::StoreU(hn::Mul(hn::LoadU(dd, s), factor), dd, s);
  };
  if constexpr (sizeof(hn::TFromD<D>) == 8 || kOneLane<D>) {
    if constexpr (sizeof(hn::TFromD<D>) == 8) {
      rescale(old_m, new_m, sum);
    } else {
      rescale(hn::PromoteTo(dd, old_m), hn::PromoteTo(dd, new_m), sum);
    }
  } else {
#if HWY_TARGET != HWY_SCALAR
    const hn::Half<D> dh;
    rescale(hn::PromoteTo(dd, hn::LowerHalf(dh, old_m)), hn::PromoteTo(dd, hn::LowerHalf(dh, new_m)), sum);
    rescale(hn::PromoteTo(dd, hn::UpperHalf(dh, old_m)), hn::PromoteTo(dd, hn::UpperHalf(dh, new_m)),
            sum + hn::Lanes(dd));
#endif
  }
}

// Short columns (n <= kColShortN): max; exp kept in a scratch buffer while summing in double;
// scale. One exp per element. Lanes go in groups of up to kColShortGroup vectors, each pass
// walking the group row by row: a row of the group is 128-512 contiguous bytes, where one vector
// at a time (32-64 bytes, then a jump of a whole row) left the prefetchers nothing to follow and
// made 1024x4096 over dim 0 as slow as 2048x4096. Per-lane state lives in small arrays between
// rows; every lane's arithmetic is the same as one vector at a time (max, then the double sum, in
// row order), so the grouping does not change a bit. The group's x and exp scratch stay in L2.
// NaN and -inf need no special care here: a NaN makes the lane's sum NaN, and a lane of only
// -inf computes exp(-inf - -inf) = NaN, which is PyTorch's answer.
constexpr std::int64_t kColShortGroup = 8;
constexpr std::int64_t kColShortScratchBytes = std::int64_t{256} << 10;

template <class IO, class D>
void ColsShortImpl(D d, Op kind, const typename IO::Storage* x, std::int64_t x_row_stride, std::int64_t x_lane_stride,
                   typename IO::Storage* y, std::int64_t y_row_stride, std::int64_t y_lane_stride, std::int64_t n, std::int64_t width,
                   bool stream) {
  using T = hn::TFromD<D>;
  const SumTag<D> dd;
  const auto N = static_cast<std::int64_t>(hn::Lanes(d));
  const auto ND = static_cast<std::int64_t>(hn::Lanes(dd));
  const bool negate = kind == Op::kSoftmin;
  const bool log = kind == Op::kLogSoftmax;
  const std::int64_t per_vector = n * N * static_cast<std::int64_t>(sizeof(T));
  const std::int64_t group = std::clamp<std::int64_t>(kColShortScratchBytes / per_vector, 1, kColShortGroup);
  T* e = ColState<T, 4>(n * N * group);
  T* m = ColState<T, 5>(N * group);
  double* acc = ColState<double, 6>(2 * ND * group);  // per vector: the lo and hi sums
  T* scale = ColState<T, 7>(N * group);
  const bool can_stream = CanStream<IO>(stream, N, y, y_row_stride, y_lane_stride);
  for (std::int64_t l0 = 0; l0 < width; l0 += group * N) {
    const std::int64_t g = std::min(group, (width - l0) / N);
    const auto* xl = x + l0 * x_lane_stride;
    auto* yl = y + l0 * y_lane_stride;
    auto load_x = [&](std::int64_t i, std::int64_t k) { return LoadSigned<IO>(d, xl + i * x_row_stride + k * N * x_lane_stride, negate); };
    for (std::int64_t k = 0; k < g; ++k) hn::StoreU(hn::Set(d, -std::numeric_limits<T>::infinity()), d, m + k * N);
    for (std::int64_t i = 0; i < n; ++i) {
      for (std::int64_t k = 0; k < g; ++k) hn::StoreU(hn::Max(hn::LoadU(d, m + k * N), load_x(i, k)), d, m + k * N);
    }
    for (std::int64_t k = 0; k < 2 * g; ++k) hn::StoreU(hn::Zero(dd), dd, acc + k * ND);
    for (std::int64_t i = 0; i < n; ++i) {
      for (std::int64_t k = 0; k < g; ++k) {
        const auto ei = ExpShifted(d, hn::Sub(load_x(i, k), hn::LoadU(d, m + k * N)));
        if (!log) hn::StoreU(ei, d, e + (i * g + k) * N);
        auto lo = hn::LoadU(dd, acc + 2 * k * ND);
        auto hi = hn::LoadU(dd, acc + (2 * k + 1) * ND);
        SumAdd(d, lo, hi, ei);
        hn::StoreU(lo, dd, acc + 2 * k * ND);
        hn::StoreU(hi, dd, acc + (2 * k + 1) * ND);
      }
    }
    for (std::int64_t k = 0; k < g; ++k) {
      HWY_ALIGN double per_lane[2 * hn::MaxLanes(D())];
      SumPerLane(d, hn::LoadU(dd, acc + 2 * k * ND), hn::LoadU(dd, acc + (2 * k + 1) * ND), per_lane);
      for (std::int64_t j = 0; j < N; ++j) {
        scale[k * N + j] = static_cast<T>(log ? std::log(per_lane[j]) : 1.0 / per_lane[j]);
      }
    }
    for (std::int64_t i = 0; i < n; ++i) {
      for (std::int64_t k = 0; k < g; ++k) {
        const auto vscale = hn::LoadU(d, scale + k * N);
        const auto out = log ? hn::Sub(hn::Sub(load_x(i, k), hn::LoadU(d, m + k * N)), vscale)
                             : hn::Mul(hn::LoadU(d, e + (i * g + k) * N), vscale);
        IO::Store(d, out, yl + i * y_row_stride + k * N * y_lane_stride, can_stream);
      }
    }
  }
  if (can_stream) hwy::FlushStream();
}

// Pass 1 of tall columns: folds `rows` rows into the per-lane running max m and sum, in tiles of
// kColTile rows counted from x's first row. ColsImpl runs it once over all n rows; the streaming
// pieces run it over consecutive row blocks starting at multiples of kColTile, which walks the
// same tiles with the same state, hence the same bits.
template <class IO, class D>
void ColsStatsImpl(D d, Op kind, const typename IO::Storage* x, std::int64_t x_row_stride, std::int64_t x_lane_stride,
                   std::int64_t rows, std::int64_t width, hn::TFromD<D>* m, double* sum) {
  using T = hn::TFromD<D>;
  const auto N = static_cast<std::int64_t>(hn::Lanes(d));
  const bool negate = kind == Op::kSoftmin;
  const T inf = std::numeric_limits<T>::infinity();
  auto at = [&](std::int64_t i, std::int64_t l) { return x + i * x_row_stride + l * x_lane_stride; };
  // NaN needs no tracking: exp(NaN - m) is NaN, so a lane holding one ends with a NaN sum (and
  // all-NaN output) whatever its max. Entries equal to -inf add exactly 0, also while the lane's
  // max is still -inf (where exp(-inf - -inf) would be NaN).
  const auto neg_inf = hn::Set(d, -inf);
  // Each pass over a tile walks it row by row (one long contiguous run per row, which the
  // prefetchers follow), keeping the per-lane state in small arrays between rows: the tile's max
  // per lane, then the tile's double sums (the lo/hi halves of SumAdd) per lane vector. Each
  // lane sees the same operations in the same order as a walk down one vector's rows, so the
  // bits do not depend on the walk.
  const SumTag<D> dd;
  const auto ND = static_cast<std::int64_t>(hn::Lanes(dd));
  T* tile_max = ColState<T, 2>(width);
  double* part = ColState<double, 8>(2 * ND * (width / N));  // per vector: the lo and hi sums
  for (std::int64_t t0 = 0; t0 < rows; t0 += kColTile) {
    const std::int64_t t1 = std::min(rows, t0 + kColTile);
    // The tile's max per lane (this walk brings the tile into cache)...
    for (std::int64_t l = 0; l < width; l += N) hn::StoreU(neg_inf, d, tile_max + l);
    for (std::int64_t i = t0; i < t1; ++i) {
      for (std::int64_t l = 0; l < width; l += N) {
        hn::StoreU(hn::Max(hn::LoadU(d, tile_max + l), LoadSigned<IO>(d, at(i, l), negate)), d, tile_max + l);
      }
    }
    for (std::int64_t l = 0; l < width; l += N) {
      const auto old_m = hn::LoadU(d, m + l);
      const auto new_m = hn::Max(old_m, hn::LoadU(d, tile_max + l));
      if (!hn::AllTrue(d, hn::Eq(old_m, new_m))) {
        RescaleSums(d, old_m, new_m, sum + l);  // s was relative to the old max
        hn::StoreU(new_m, d, m + l);
      }
    }
    // ...then, from cache, add exp(x - m).
    for (std::int64_t k = 0; k < 2 * (width / N); ++k) hn::StoreU(hn::Zero(dd), dd, part + k * ND);
    for (std::int64_t i = t0; i < t1; ++i) {
      for (std::int64_t l = 0; l < width; l += N) {
        const auto v = LoadSigned<IO>(d, at(i, l), negate);
        double* lo_at = part + 2 * (l / N) * ND;
        auto lo = hn::LoadU(dd, lo_at);
        auto hi = hn::LoadU(dd, lo_at + ND);
        SumAdd(d, lo, hi, hn::IfThenZeroElse(hn::Eq(v, neg_inf), ExpShifted(d, hn::Sub(v, hn::LoadU(d, m + l)))));
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

// Pass 2 of tall columns: y for `rows` rows from the columns' final max and sum.
template <class IO, class D>
void ColsWriteImpl(D d, Op kind, const typename IO::Storage* x, std::int64_t x_row_stride, std::int64_t x_lane_stride,
                   typename IO::Storage* y, std::int64_t y_row_stride, std::int64_t y_lane_stride, std::int64_t rows, std::int64_t width,
                   const hn::TFromD<D>* m, const double* sum, bool stream) {
  using T = hn::TFromD<D>;
  const auto N = static_cast<std::int64_t>(hn::Lanes(d));
  const bool negate = kind == Op::kSoftmin;
  const bool log = kind == Op::kLogSoftmax;
  // Per-lane scale: 1/s, or log(s) for log_softmax.
  T* scale = ColState<T, 1>(width);  // (slot 1: any buffer but m's)
  for (std::int64_t l = 0; l < width; ++l) scale[l] = static_cast<T>(log ? std::log(sum[l]) : 1.0 / sum[l]);
  const bool can_stream = CanStream<IO>(stream, N, y, y_row_stride, y_lane_stride);
  for (std::int64_t i = 0; i < rows; ++i) {
    for (std::int64_t l = 0; l < width; l += N) {
      const auto shifted = hn::Sub(LoadSigned<IO>(d, x + i * x_row_stride + l * x_lane_stride, negate), hn::LoadU(d, m + l));
      const auto vscale = hn::LoadU(d, scale + l);
      const auto out = log ? hn::Sub(shifted, vscale) : hn::Mul(ExpShifted(d, shifted), vscale);
      IO::Store(d, out, y + i * y_row_stride + l * y_lane_stride, can_stream);
    }
  }
  if (can_stream) hwy::FlushStream();
}

template <class IO, class D>
void ColsImpl(D d, Op kind, const typename IO::Storage* x, std::int64_t x_row_stride, std::int64_t x_lane_stride,
              typename IO::Storage* y, std::int64_t y_row_stride, std::int64_t y_lane_stride, std::int64_t n, std::int64_t lanes,
              bool stream) {
  using T = hn::TFromD<D>;
  const auto N = static_cast<std::int64_t>(hn::Lanes(d));
  const std::int64_t width = lanes / N * N;  // the caller sends leftovers through the 1-lane path
  if (width == 0) return;
  if (n <= kColShortN) return ColsShortImpl<IO>(d, kind, x, x_row_stride, x_lane_stride, y, y_row_stride, y_lane_stride, n, width, stream);
  T* m = ColState<T, 0>(width);  // running max per lane
  double* sum = ColState<double, 3>(width);
  for (std::int64_t l = 0; l < width; ++l) {
    m[l] = -std::numeric_limits<T>::infinity();
    sum[l] = 0.0;
  }
  ColsStatsImpl<IO>(d, kind, x, x_row_stride, x_lane_stride, n, width, m, sum);
  ColsWriteImpl<IO>(d, kind, x, x_row_stride, x_lane_stride, y, y_row_stride, y_lane_stride, n, width, m, sum, stream);
}

// Contiguous lanes: full vectors, then the leftover lanes one at a time.
template <class IO>
void ColsContiguous(Op kind, const void* xv, std::int64_t x_row_stride, void* yv, std::int64_t y_row_stride, std::int64_t n,
                    std::int64_t lanes, bool stream) {
  const typename IO::D d;
  const auto* x = static_cast<const typename IO::Storage*>(xv);
  auto* y = static_cast<typename IO::Storage*>(yv);
  const auto N = static_cast<std::int64_t>(hn::Lanes(d));
  const std::int64_t full = lanes / N * N;
  ColsImpl<IO>(d, kind, x, x_row_stride, 1, y, y_row_stride, 1, n, full, stream);
  if (full < lanes) {
    ColsImpl<IO>(hn::CappedTag<hn::TFromD<typename IO::D>, 1>(), kind, x + full, x_row_stride, 1, y + full, y_row_stride, 1, n,
                 lanes - full, false);
  }
}

// Any lane strides: one lane at a time.
template <class IO>
void ColsStrided(Op kind, const void* xv, std::int64_t x_row_stride, std::int64_t x_lane_stride, void* yv, std::int64_t y_row_stride,
                 std::int64_t y_lane_stride, std::int64_t n, std::int64_t lanes) {
  ColsImpl<IO>(hn::CappedTag<hn::TFromD<typename IO::D>, 1>(), kind, static_cast<const typename IO::Storage*>(xv),
               x_row_stride, x_lane_stride, static_cast<typename IO::Storage*>(yv), y_row_stride, y_lane_stride, n, lanes, false);
}

// The tall-column passes on contiguous lanes (full vectors, then leftovers one at a time, as
// ColsContiguous): `m` holds the compute type (double for float64, float otherwise).
template <class IO>
void ColsStatsContiguous(Op kind, const void* xv, std::int64_t x_row_stride, std::int64_t rows, std::int64_t lanes,
                         void* mv, double* sum) {
  using D = typename IO::D;
  using T = hn::TFromD<D>;
  const D d;
  const auto* x = static_cast<const typename IO::Storage*>(xv);
  auto* m = static_cast<T*>(mv);
  const auto N = static_cast<std::int64_t>(hn::Lanes(d));
  const std::int64_t full = lanes / N * N;
  if (full > 0) ColsStatsImpl<IO>(d, kind, x, x_row_stride, 1, rows, full, m, sum);
  if (full < lanes) {
    ColsStatsImpl<IO>(hn::CappedTag<T, 1>(), kind, x + full, x_row_stride, 1, rows, lanes - full, m + full, sum + full);
  }
}

template <class IO>
void ColsWriteContiguous(Op kind, const void* xv, std::int64_t x_row_stride, void* yv, std::int64_t y_row_stride,
                         std::int64_t rows, std::int64_t lanes, const void* mv, const double* sum, bool stream) {
  using D = typename IO::D;
  using T = hn::TFromD<D>;
  const D d;
  const auto* x = static_cast<const typename IO::Storage*>(xv);
  auto* y = static_cast<typename IO::Storage*>(yv);
  const auto* m = static_cast<const T*>(mv);
  const auto N = static_cast<std::int64_t>(hn::Lanes(d));
  const std::int64_t full = lanes / N * N;
  if (full > 0) ColsWriteImpl<IO>(d, kind, x, x_row_stride, 1, y, y_row_stride, 1, rows, full, m, sum, stream);
  if (full < lanes) {
    ColsWriteImpl<IO>(hn::CappedTag<T, 1>(), kind, x + full, x_row_stride, 1, y + full, y_row_stride, 1, rows, lanes - full, m + full,
                      sum + full, false);
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace smx::detail
HWY_AFTER_NAMESPACE();

#endif  // SMX_KERNELS_SIMD_COLUMNS_INL_H_
