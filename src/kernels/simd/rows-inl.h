// Forward softmax / log_softmax / softmin over contiguous rows (the softmax dim is the last):
// rows_fused (whole rows up to kFusedRowMax), row_stats + row_write (the two passes of a longer
// row, one chunk at a time). Contracts in simd_kernels.h.
// Highway -inl.h: included once per target by simd_softmax.cc (foreach_target), so it has a
// per-target include guard instead of #pragma once.
#if defined(SMX_KERNELS_SIMD_ROWS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef SMX_KERNELS_SIMD_ROWS_INL_H_
#undef SMX_KERNELS_SIMD_ROWS_INL_H_
#else
#define SMX_KERNELS_SIMD_ROWS_INL_H_
#endif

#include <hwy/cache_control.h>
#include <hwy/highway.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <utility>

#include "kernels/simd/double_sum-inl.h"
#include "kernels/simd/dtype_io-inl.h"
#include "kernels/simd/exp-inl.h"
#include "kernels/simd_kernels.h"

HWY_BEFORE_NAMESPACE();
namespace smx::detail {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// max of a block (softmin: of -x); NaN if the block holds one.
template <class IO>
double BlockMax(bool negate, const typename IO::Storage* x, std::int64_t n) {
  using D = typename IO::D;
  const D d;
  const auto N = static_cast<std::int64_t>(hn::Lanes(d));
  auto m0 = hn::Set(d, -std::numeric_limits<hn::TFromD<D>>::infinity());
  auto m1 = m0;
  auto nan = hn::Zero(d);
  std::int64_t i = 0;
  for (; i + 2 * N <= n; i += 2 * N) {
    const auto a = LoadSigned<IO>(d, x + i, negate);
    const auto b = LoadSigned<IO>(d, x + i + N, negate);
    m0 = hn::Max(m0, a);
    m1 = hn::Max(m1, b);
    nan = hn::Or(nan, hn::VecFromMask(d, hn::Or(hn::IsNaN(a), hn::IsNaN(b))));
  }
  for (; i + N <= n; i += N) {
    const auto a = LoadSigned<IO>(d, x + i, negate);
    m0 = hn::Max(m0, a);
    nan = hn::Or(nan, hn::VecFromMask(d, hn::IsNaN(a)));
  }
  if (i < n) {
    // Pad with the value that cannot win: -inf after the optional negation.
    const Tail<IO> tail(x + i, n - i, negate ? PosInfStorage<IO>() : NegInfStorage<IO>());
    const auto a = LoadSigned<IO>(d, tail.buf, negate);
    m0 = hn::Max(m0, a);
    nan = hn::Or(nan, hn::VecFromMask(d, hn::IsNaN(a)));
  }
  if (!hn::AllTrue(d, hn::Eq(nan, hn::Zero(d)))) return std::numeric_limits<double>::quiet_NaN();
  return static_cast<double>(hn::GetLane(hn::MaxOfLanes(d, hn::Max(m0, m1))));
}

// max of a row without NaN tracking (softmin: of -x). The fused row kernel needs no more: a
// NaN anywhere makes its exp NaN, hence the sum and every output NaN, whatever the max is.
template <class IO>
double RowMaxPlain(bool negate, const typename IO::Storage* x, std::int64_t n) {
  using D = typename IO::D;
  const D d;
  const auto N = static_cast<std::int64_t>(hn::Lanes(d));
  auto m0 = hn::Set(d, -std::numeric_limits<hn::TFromD<D>>::infinity());
  auto m1 = m0, m2 = m0, m3 = m0;
  std::int64_t i = 0;
  for (; i + 4 * N <= n; i += 4 * N) {
    m0 = hn::Max(m0, LoadSigned<IO>(d, x + i, negate));
    m1 = hn::Max(m1, LoadSigned<IO>(d, x + i + N, negate));
    m2 = hn::Max(m2, LoadSigned<IO>(d, x + i + 2 * N, negate));
    m3 = hn::Max(m3, LoadSigned<IO>(d, x + i + 3 * N, negate));
  }
  for (; i + N <= n; i += N) m0 = hn::Max(m0, LoadSigned<IO>(d, x + i, negate));
  if (i < n) {
    const Tail<IO> tail(x + i, n - i, negate ? PosInfStorage<IO>() : NegInfStorage<IO>());
    m1 = hn::Max(m1, LoadSigned<IO>(d, tail.buf, negate));
  }
  return static_cast<double>(hn::GetLane(hn::MaxOfLanes(d, hn::Max(hn::Max(m0, m1), hn::Max(m2, m3)))));
}

// min and max of a row in one pass (softmin: of -x), without NaN tracking (see RowMaxPlain).
template <class IO>
std::pair<double, double> RowMinMaxPlain(bool negate, const typename IO::Storage* x, std::int64_t n) {
  using D = typename IO::D;
  using T = hn::TFromD<D>;
  const D d;
  const auto N = static_cast<std::int64_t>(hn::Lanes(d));
  auto lo0 = hn::Set(d, std::numeric_limits<T>::infinity());
  auto lo1 = lo0;
  auto hi0 = hn::Set(d, -std::numeric_limits<T>::infinity());
  auto hi1 = hi0;
  std::int64_t i = 0;
  for (; i + 2 * N <= n; i += 2 * N) {
    const auto a = LoadSigned<IO>(d, x + i, negate);
    const auto b = LoadSigned<IO>(d, x + i + N, negate);
    lo0 = hn::Min(lo0, a);
    hi0 = hn::Max(hi0, a);
    lo1 = hn::Min(lo1, b);
    hi1 = hn::Max(hi1, b);
  }
  for (; i + N <= n; i += N) {
    const auto a = LoadSigned<IO>(d, x + i, negate);
    lo0 = hn::Min(lo0, a);
    hi0 = hn::Max(hi0, a);
  }
  if (i < n) {  // pad with a copy of the first element: it changes neither min nor max
    const Tail<IO> tail(x + i, n - i, x[0]);
    const auto a = LoadSigned<IO>(d, tail.buf, negate);
    lo1 = hn::Min(lo1, a);
    hi1 = hn::Max(hi1, a);
  }
  return {static_cast<double>(hn::GetLane(hn::MinOfLanes(d, hn::Min(lo0, lo1)))),
          static_cast<double>(hn::GetLane(hn::MaxOfLanes(d, hn::Max(hi0, hi1))))};
}

// sum(exp(x - max)) of a block, accumulated in double.
template <class IO>
// `next` (optional): the next_len elements read next, prefetched meanwhile so that their memory
// pass overlaps this pass's arithmetic.
double BlockSumExp(bool negate, const typename IO::Storage* x, std::int64_t n, double max,
                   const typename IO::Storage* next = nullptr, std::int64_t next_len = 0) {
  using D = typename IO::D;
  const D d;
  const auto N = static_cast<std::int64_t>(hn::Lanes(d));
  const auto vmax = hn::Set(d, static_cast<hn::TFromD<D>>(max));
  SMX_DOUBLE_SUM(D, s0lo, s0hi);
  SMX_DOUBLE_SUM(D, s1lo, s1hi);
  std::int64_t i = 0;
  for (; i + 2 * N <= n; i += 2 * N) {
    if (i < next_len) hwy::Prefetch(next + i);
    SumAdd(d, s0lo, s0hi, ExpShifted(d, hn::Sub(LoadSigned<IO>(d, x + i, negate), vmax)));
    SumAdd(d, s1lo, s1hi, ExpShifted(d, hn::Sub(LoadSigned<IO>(d, x + i + N, negate), vmax)));
  }
  for (; i + N <= n; i += N) SumAdd(d, s0lo, s0hi, ExpShifted(d, hn::Sub(LoadSigned<IO>(d, x + i, negate), vmax)));
  if (i < n) {  // padding is -inf after negation: exp(-inf) = 0 adds nothing
    const Tail<IO> tail(x + i, n - i, negate ? PosInfStorage<IO>() : NegInfStorage<IO>());
    SumAdd(d, s1lo, s1hi, ExpShifted(d, hn::Sub(LoadSigned<IO>(d, tail.buf, negate), vmax)));
  }
  return SumTotal(d, s0lo, s0hi) + SumTotal(d, s1lo, s1hi);
}

template <class IO>
RowStats RowStatsImpl(Op kind, const void* xv, std::int64_t n) {
  const auto* x = static_cast<const typename IO::Storage*>(xv);
  const bool negate = kind == Op::kSoftmin;
  RowStats total{-std::numeric_limits<double>::infinity(), 0.0};
  for (std::int64_t b = 0; b < n; b += kStatsBlock) {
    const std::int64_t len = std::min(kStatsBlock, n - b);
    const double m = BlockMax<IO>(negate, x + b, len);
    // A block of only -inf contributes nothing (and must not contribute exp(-inf - -inf) = NaN).
    // (the next block is prefetched while this one's sum is computed from cache)
    const std::int64_t next_len = std::min(kStatsBlock, n - b - len);
    const double s = m == -std::numeric_limits<double>::infinity()
                         ? 0.0
                         : BlockSumExp<IO>(negate, x + b, len, m, x + b + len, next_len);
    total = b == 0 ? RowStats{m, s} : merge_row_stats(total, RowStats{m, s});
  }
  return total;
}

template <class IO>
void RowWriteImpl(Op kind, const void* xv, void* yv, std::int64_t n, RowStats stats, bool stream) {
  using D = typename IO::D;
  using T = hn::TFromD<D>;
  const D d;
  const auto N = static_cast<std::int64_t>(hn::Lanes(d));
  const auto* x = static_cast<const typename IO::Storage*>(xv);
  auto* y = static_cast<typename IO::Storage*>(yv);
  const bool negate = kind == Op::kSoftmin;
  const bool log = kind == Op::kLogSoftmax;
  const auto vmax = hn::Set(d, static_cast<T>(stats.max));
  // A row of only -inf has sum 0 here; exp(-inf - -inf) is NaN, so the row still ends NaN.
  const auto vscale = hn::Set(d, static_cast<T>(log ? std::log(stats.sum) : 1.0 / stats.sum));
  stream = CanStream<IO>(stream, N, y);
  auto compute = [&](hn::Vec<D> v) {
    const auto shifted = hn::Sub(negate ? hn::Neg(v) : v, vmax);
    return log ? hn::Sub(shifted, vscale) : hn::Mul(ExpShifted(d, shifted), vscale);
  };
  std::int64_t i = 0;
  for (; i + N <= n; i += N) IO::Store(d, compute(IO::Load(d, x + i)), y + i, stream);
  if (i < n) {
    const Tail<IO> in(x + i, n - i, typename IO::Storage{});
    typename IO::Storage out[hn::MaxLanes(D())];
    IO::Store(d, compute(IO::Load(d, in.buf)), out, false);
    std::memcpy(y + i, out, static_cast<size_t>(n - i) * sizeof(typename IO::Storage));
  }
  if (stream) hwy::FlushStream();
}

// Whole rows of up to kFusedRowMax elements: max; exp (kept) and sum; scale. One exp per
// element, and the row is read from memory once.
template <class IO, bool kFlush>
HWY_INLINE void RowFusedExp(bool negate, const typename IO::Storage* x, typename IO::Storage* y, std::int64_t n,
                            bool stream, hn::TFromD<typename IO::D>* e, double max,
                            const typename IO::Storage* next);

template <class IO>
HWY_INLINE void RowFusedOne(Op kind, const typename IO::Storage* x, typename IO::Storage* y, std::int64_t n,
                            bool stream, hn::TFromD<typename IO::D>* e, const typename IO::Storage* next) {
  using T = hn::TFromD<typename IO::D>;
  const bool negate = kind == Op::kSoftmin;
  if (kind == Op::kLogSoftmax) {
    const double max = RowMaxPlain<IO>(negate, x, n);
    const double sum = BlockSumExp<IO>(negate, x, n, max, next, next == nullptr ? 0 : n);
    RowWriteImpl<IO>(kind, x, y, n, RowStats{max, sum}, stream);
    return;
  }
  const auto [min, max] = RowMinMaxPlain<IO>(negate, x, n);
  // When no x - max can fall below the flush cutoff (the usual case: it takes a spread of 87
  // within the row), the exp skips its flush-to-zero select. Same values either way.
  if (sizeof(T) == 4 && max - min <= -static_cast<double>(kExpCutoff)) {
    RowFusedExp<IO, false>(negate, x, y, n, stream, e, max, next);
  } else {
    RowFusedExp<IO, true>(negate, x, y, n, stream, e, max, next);
  }
}

template <class IO, bool kFlush>
HWY_INLINE void RowFusedExp(bool negate, const typename IO::Storage* x, typename IO::Storage* y, std::int64_t n,
                            bool stream, hn::TFromD<typename IO::D>* e, double max,
                            const typename IO::Storage* next) {
  using D = typename IO::D;
  using T = hn::TFromD<D>;
  const D d;
  const auto N = static_cast<std::int64_t>(hn::Lanes(d));
  const auto vmax = hn::Set(d, static_cast<T>(max));
  auto exp_at = [&](const typename IO::Storage* p) {
    const auto v = hn::Sub(LoadSigned<IO>(d, p, negate), vmax);
    if constexpr (sizeof(T) == 4) {
      return ExpNonPositiveF32<kFlush>(d, v);
    } else {
      return ExpShifted(d, v);
    }
  };
  // Four exp vectors are added in float (two roundings, relative 1.2e-7) before the double sum.
  SMX_DOUBLE_SUM(D, sum_lo, sum_hi);
  std::int64_t i = 0;
  // While this row's exps are computed (from cache), the next row is fetched from memory, so
  // its max pass does not wait for it: the memory traffic overlaps the arithmetic.
  constexpr std::int64_t kLine = 64 / static_cast<std::int64_t>(sizeof(typename IO::Storage));
  for (; i + 4 * N <= n; i += 4 * N) {
    if (next != nullptr) {
      for (std::int64_t k = 0; k < 4 * N; k += kLine) hwy::Prefetch(next + i + k);
    }
    const auto a = exp_at(x + i);
    const auto b = exp_at(x + i + N);
    const auto c = exp_at(x + i + 2 * N);
    const auto f = exp_at(x + i + 3 * N);
    hn::StoreU(a, d, e + i);
    hn::StoreU(b, d, e + i + N);
    hn::StoreU(c, d, e + i + 2 * N);
    hn::StoreU(f, d, e + i + 3 * N);
    SumAdd(d, sum_lo, sum_hi, hn::Add(hn::Add(a, b), hn::Add(c, f)));
  }
  for (; i + N <= n; i += N) {
    const auto a = exp_at(x + i);
    hn::StoreU(a, d, e + i);
    SumAdd(d, sum_lo, sum_hi, a);
  }
  if (i < n) {  // the -inf padding needs the flush (exp(-inf) = 0) in any case
    const Tail<IO> tail(x + i, n - i, negate ? PosInfStorage<IO>() : NegInfStorage<IO>());
    const auto a = ExpShifted(d, hn::Sub(LoadSigned<IO>(d, tail.buf, negate), vmax));
    hn::StoreU(a, d, e + i);
    SumAdd(d, sum_lo, sum_hi, a);
  }
  const auto vinv = hn::Set(d, static_cast<T>(1.0 / SumTotal(d, sum_lo, sum_hi)));
  stream = CanStream<IO>(stream, N, y);
  for (i = 0; i + N <= n; i += N) IO::Store(d, hn::Mul(hn::LoadU(d, e + i), vinv), y + i, stream);
  if (i < n) {
    typename IO::Storage out[hn::MaxLanes(D())];
    IO::Store(d, hn::Mul(hn::LoadU(d, e + i), vinv), out, false);
    std::memcpy(y + i, out, static_cast<size_t>(n - i) * sizeof(typename IO::Storage));
  }
}

// Rows up to this size have the next row prefetched during their exp pass.
constexpr std::int64_t kPrefetchRowBytes = std::int64_t{64} << 10;

// `rows` rows of n <= kFusedRowMax contiguous elements, `x_stride`/`y_stride` apart.
template <class IO>
void RowsFusedImpl(Op kind, const void* xv, std::int64_t x_stride, void* yv, std::int64_t y_stride,
                   std::int64_t rows, std::int64_t n, bool stream) {
  const auto N = static_cast<std::int64_t>(hn::Lanes(typename IO::D()));
  auto* e = Scratch<hn::TFromD<typename IO::D>>((n + N - 1) / N * N);
  const auto* x = static_cast<const typename IO::Storage*>(xv);
  auto* y = static_cast<typename IO::Storage*>(yv);
  // The next row is prefetched while this one computes, when both and the exp scratch fit in
  // L2 with room to spare.
  const bool prefetch = n * static_cast<std::int64_t>(sizeof(typename IO::Storage)) <= kPrefetchRowBytes;
  for (std::int64_t r = 0; r < rows; ++r) {
    const auto* next = prefetch && r + 1 < rows ? x + (r + 1) * x_stride : nullptr;
    RowFusedOne<IO>(kind, x + r * x_stride, y + r * y_stride, n, stream, e, next);
  }
  if (stream) hwy::FlushStream();
}

}  // namespace HWY_NAMESPACE
}  // namespace smx::detail
HWY_AFTER_NAMESPACE();

#endif  // SMX_KERNELS_SIMD_ROWS_INL_H_
