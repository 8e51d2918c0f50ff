// Forward softmax / log_softmax / softmin over an earlier dim: `lanes` side-by-side columns of
// `n` rows. cols / cols_strided (all passes), and the resumable passes: cols_stats + cols_write
// (tall columns), cols_max + cols_sum + cols_write (short columns). Every function reads through
// a load (simd/sources-inl.h). Contracts in kernels/kernel_table.h.
// Highway -inl.h: included once per target by simd_columns.cc (foreach_target), so it has a
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

#include "kernels/kernel_table.h"
#include "kernels/simd/double_sum-inl.h"
#include "kernels/simd/dtype_io-inl.h"
#include "kernels/simd/exp-inl.h"
#include "kernels/simd/sources-inl.h"
#include "runtime/tuning.h"

HWY_BEFORE_NAMESPACE();
namespace smx::detail {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Columns: `lanes` side-by-side columns of `n` rows. Memory is walked row by row (long
// contiguous runs the prefetchers follow). Short columns (n <= kColShortN): max, then exp kept in
// a scratch while summing in double, then scale. Tall columns, in two passes:
//   stats: rows come in tiles of kColTile; per lane, the tile's max updates the running max m
//          (s is rescaled by exp(m_old - m_new) in double when m grows), then the tile - now in
//          L1/L2 - adds exp(x - m) to s;
//   write: y = exp(x - m) / s (log: (x - m) - log(s)).
// The tile boundaries depend on n alone and every lane's arithmetic is the same at any vector
// width (D is the full vector, or one lane for leftovers and strided lanes), so results do not
// depend on the layout or on how lanes are split between threads.

// A lane's running double sum, kept per vector of lanes as SumAdd's two halves (double_sum-inl.h):
// loaded from, and stored to, per-lane doubles in lane order.
template <class D, class VD>
HWY_INLINE void SumLoadPerLane(D /* tag */, const double* per_lane, VD& lo, VD& hi) {
  const SumTag<D> dd;
  lo = hn::LoadU(dd, per_lane);
  if constexpr (sizeof(hn::TFromD<D>) == 4 && !kOneLane<D>) hi = hn::LoadU(dd, per_lane + hn::Lanes(dd));
}

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
// at a time (32-64 bytes, then a jump of a whole row) left the prefetchers nothing to follow.
// Per-lane state lives in small arrays between rows; every lane's arithmetic is the same as one
// vector at a time (max, then the double sum, in row order), so the grouping does not change a
// bit - nor does computing the same passes as cols_max, cols_sum and cols_write.
// NaN and -inf need no special care here: a NaN makes the lane's sum NaN, and a lane of only
// -inf computes exp(-inf - -inf) = NaN, which is PyTorch's answer.
constexpr std::int64_t kColShortGroup = 8;

template <class IO, class D, class Src>
void ColsShortT(D d, Op op, const Src src, typename IO::Storage* y, std::int64_t y_row_stride,
                std::int64_t y_lane_stride, std::int64_t n, std::int64_t width, bool stream) {
  using T = hn::TFromD<D>;
  const SumTag<D> dd;
  const auto N = static_cast<std::int64_t>(hn::Lanes(d));
  const auto ND = static_cast<std::int64_t>(hn::Lanes(dd));
  const bool log = op == Op::kLogSoftmax;
  const std::int64_t per_vector = n * N * static_cast<std::int64_t>(sizeof(T));
  const std::int64_t group = std::clamp<std::int64_t>(tuning().column_scratch_bytes / per_vector, 1, kColShortGroup);
  T* e = ColState<T, 4>(n * N * group);
  T* m = ColState<T, 5>(N * group);
  double* acc = ColState<double, 6>(2 * ND * group);  // per vector: the lo and hi sums
  T* scale = ColState<T, 7>(N * group);
  const bool can_stream = CanStream<IO>(stream, N, y, y_row_stride, y_lane_stride);
  for (std::int64_t l0 = 0; l0 < width; l0 += group * N) {
    const std::int64_t g = std::min(group, (width - l0) / N);
    auto* yl = y + l0 * y_lane_stride;
    const Src xl = src.Shifted(l0);
    auto load_x = [&](std::int64_t i, std::int64_t k) { return xl.Load(d, i, k * N); };
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

// The short-column passes one at a time (cols_max, then cols_sum), for callers that see the
// column in row blocks: the same per-lane operations in the same row order as ColsShortT.
template <class IO, class D, class Src>
void ColsMaxT(D d, const Src src, std::int64_t rows, std::int64_t width, hn::TFromD<D>* m) {
  const auto N = static_cast<std::int64_t>(hn::Lanes(d));
  for (std::int64_t i = 0; i < rows; ++i) {
    for (std::int64_t l = 0; l < width; l += N) hn::StoreU(hn::Max(hn::LoadU(d, m + l), src.Load(d, i, l)), d, m + l);
  }
}

template <class IO, class D, class Src>
void ColsSumT(D d, const Src src, std::int64_t rows, std::int64_t width, const hn::TFromD<D>* m, double* sum) {
  const SumTag<D> dd;
  const auto N = static_cast<std::int64_t>(hn::Lanes(d));
  for (std::int64_t l = 0; l < width; l += N) {
    auto lo = hn::Zero(dd), hi = hn::Zero(dd);
    SumLoadPerLane(d, sum + l, lo, hi);
    const auto vm = hn::LoadU(d, m + l);
    for (std::int64_t i = 0; i < rows; ++i) SumAdd(d, lo, hi, ExpShifted(d, hn::Sub(src.Load(d, i, l), vm)));
    HWY_ALIGN double per_lane[2 * hn::MaxLanes(D())];
    SumPerLane(d, lo, hi, per_lane);
    for (std::int64_t k = 0; k < N; ++k) sum[l + k] = per_lane[k];
  }
}

// Pass 1 of tall columns: folds `rows` rows into the per-lane running max m and sum, in tiles of
// kColTile rows counted from the source's first row. ColsT runs it once over all n rows; the
// streaming pieces run it over consecutive row blocks starting at multiples of kColTile, which
// walks the same tiles with the same state, hence the same bits.
template <class IO, class D, class Src>
void ColsStatsT(D d, const Src src, std::int64_t rows, std::int64_t width, hn::TFromD<D>* m, double* sum) {
  using T = hn::TFromD<D>;
  const auto N = static_cast<std::int64_t>(hn::Lanes(d));
  const T inf = std::numeric_limits<T>::infinity();
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
        hn::StoreU(hn::Max(hn::LoadU(d, tile_max + l), src.Load(d, i, l)), d, tile_max + l);
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
        const auto v = src.Load(d, i, l);
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

// y for `rows` rows from the columns' final max and sum (tall columns' pass 2, and the short
// columns' last pass when run in pieces).
template <class IO, class D, class Src>
void ColsWriteT(D d, Op op, const Src src, typename IO::Storage* y, std::int64_t y_row_stride,
                std::int64_t y_lane_stride, std::int64_t rows, std::int64_t width, const hn::TFromD<D>* m,
                const double* sum, bool stream) {
  using T = hn::TFromD<D>;
  const auto N = static_cast<std::int64_t>(hn::Lanes(d));
  const bool log = op == Op::kLogSoftmax;
  // Per-lane scale: 1/s, or log(s) for log_softmax.
  T* scale = ColState<T, 1>(width);  // (slot 1: any buffer but m's)
  for (std::int64_t l = 0; l < width; ++l) scale[l] = static_cast<T>(log ? std::log(sum[l]) : 1.0 / sum[l]);
  const bool can_stream = CanStream<IO>(stream, N, y, y_row_stride, y_lane_stride);
  for (std::int64_t i = 0; i < rows; ++i) {
    for (std::int64_t l = 0; l < width; l += N) {
      const auto shifted = hn::Sub(src.Load(d, i, l), hn::LoadU(d, m + l));
      const auto vscale = hn::LoadU(d, scale + l);
      const auto out = log ? hn::Sub(shifted, vscale) : hn::Mul(ExpShifted(d, shifted), vscale);
      IO::Store(d, out, y + i * y_row_stride + l * y_lane_stride, can_stream);
    }
  }
  if (can_stream) hwy::FlushStream();
}

template <class IO, class D, class Src>
void ColsT(D d, Op op, const Src src, typename IO::Storage* y, std::int64_t y_row_stride, std::int64_t y_lane_stride,
           std::int64_t n, std::int64_t width, bool stream) {
  using T = hn::TFromD<D>;
  if (width == 0) return;
  if (n <= kColShortN) return ColsShortT<IO>(d, op, src, y, y_row_stride, y_lane_stride, n, width, stream);
  T* m = ColState<T, 0>(width);  // running max per lane
  double* sum = ColState<double, 3>(width);
  for (std::int64_t l = 0; l < width; ++l) {
    m[l] = -std::numeric_limits<T>::infinity();
    sum[l] = 0.0;
  }
  ColsStatsT<IO>(d, src, n, width, m, sum);
  ColsWriteT<IO>(d, op, src, y, y_row_stride, y_lane_stride, n, width, m, sum, stream);
}

// A column source: plain, or through the masked load. kUnitLanes: the callers of contiguous lanes
// (lane_stride 1), whose plain load then has the constant stride.
template <class IO, bool kUnitLanes, class Fn>
HWY_INLINE void WithColLoad(Op op, const void* xv, std::int64_t row_stride, std::int64_t lane_stride,
                            const MaskedLoad* masked, Fn&& fn) {
  const auto* x = static_cast<const typename IO::Storage*>(xv);
  const bool negate = op == Op::kSoftmin;
  if (masked != nullptr) {
    fn(MaskedColLoad<IO>(x, row_stride, lane_stride, negate, *masked));
  } else {
    fn(ColLoad<IO, kUnitLanes>{x, row_stride, lane_stride, negate});
  }
}

template <class IO>
void ColsContiguous(Op op, const void* xv, std::int64_t x_row_stride, void* yv, std::int64_t y_row_stride,
                    std::int64_t n, std::int64_t lanes, bool stream, const MaskedLoad* masked) {
  auto* y = static_cast<typename IO::Storage*>(yv);
  WithColLoad<IO, true>(op, xv, x_row_stride, 1, masked, [&](const auto& src) {
    ForLaneParts<IO>(lanes, [&](auto d, std::int64_t l0, std::int64_t width) {
      // (non-temporal stores only for the full vectors)
      ColsT<IO>(d, op, src.Shifted(l0), y + l0, y_row_stride, 1, n, width, l0 == 0 && stream);
    });
  });
}

// Any lane strides: one lane at a time.
template <class IO>
void ColsStrided(Op op, const void* xv, std::int64_t x_row_stride, std::int64_t x_lane_stride, void* yv,
                 std::int64_t y_row_stride, std::int64_t y_lane_stride, std::int64_t n, std::int64_t lanes,
                 const MaskedLoad* masked) {
  auto* y = static_cast<typename IO::Storage*>(yv);
  WithColLoad<IO, false>(op, xv, x_row_stride, x_lane_stride, masked, [&](const auto& src) {
    ColsT<IO>(hn::CappedTag<hn::TFromD<typename IO::D>, 1>(), op, src, y, y_row_stride, y_lane_stride, n, lanes,
              false);
  });
}

// The resumable passes on contiguous lanes (full vectors, then leftovers one at a time, as
// ColsContiguous): `m` holds the compute type (double for float64, float otherwise).
template <class IO>
void ColsStatsContiguous(Op op, const void* xv, std::int64_t x_row_stride, std::int64_t rows, std::int64_t lanes,
                         void* mv, double* sum, const MaskedLoad* masked) {
  auto* m = static_cast<hn::TFromD<typename IO::D>*>(mv);
  WithColLoad<IO, true>(op, xv, x_row_stride, 1, masked, [&](const auto& src) {
    ForLaneParts<IO>(lanes, [&](auto d, std::int64_t l0, std::int64_t width) {
      ColsStatsT<IO>(d, src.Shifted(l0), rows, width, m + l0, sum + l0);
    });
  });
}

template <class IO>
void ColsMaxContiguous(Op op, const void* xv, std::int64_t x_row_stride, std::int64_t rows, std::int64_t lanes,
                       void* mv) {
  auto* m = static_cast<hn::TFromD<typename IO::D>*>(mv);
  WithColLoad<IO, true>(op, xv, x_row_stride, 1, nullptr, [&](const auto& src) {
    ForLaneParts<IO>(lanes, [&](auto d, std::int64_t l0, std::int64_t width) {
      ColsMaxT<IO>(d, src.Shifted(l0), rows, width, m + l0);
    });
  });
}

template <class IO>
void ColsSumContiguous(Op op, const void* xv, std::int64_t x_row_stride, std::int64_t rows, std::int64_t lanes,
                       const void* mv, double* sum) {
  const auto* m = static_cast<const hn::TFromD<typename IO::D>*>(mv);
  WithColLoad<IO, true>(op, xv, x_row_stride, 1, nullptr, [&](const auto& src) {
    ForLaneParts<IO>(lanes, [&](auto d, std::int64_t l0, std::int64_t width) {
      ColsSumT<IO>(d, src.Shifted(l0), rows, width, m + l0, sum + l0);
    });
  });
}

template <class IO>
void ColsWriteContiguous(Op op, const void* xv, std::int64_t x_row_stride, void* yv, std::int64_t y_row_stride,
                         std::int64_t rows, std::int64_t lanes, const void* mv, const double* sum, bool stream,
                         const MaskedLoad* masked) {
  auto* y = static_cast<typename IO::Storage*>(yv);
  const auto* m = static_cast<const hn::TFromD<typename IO::D>*>(mv);
  WithColLoad<IO, true>(op, xv, x_row_stride, 1, masked, [&](const auto& src) {
    ForLaneParts<IO>(lanes, [&](auto d, std::int64_t l0, std::int64_t width) {
      ColsWriteT<IO>(d, op, src.Shifted(l0), y + l0, y_row_stride, 1, rows, width, m + l0, sum + l0,
                     l0 == 0 && stream);
    });
  });
}

}  // namespace HWY_NAMESPACE
}  // namespace smx::detail
HWY_AFTER_NAMESPACE();

#endif  // SMX_KERNELS_SIMD_COLUMNS_INL_H_
