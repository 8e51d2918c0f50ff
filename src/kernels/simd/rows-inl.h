// Forward softmax / log_softmax / softmin over contiguous rows (the softmax dim is the last):
// rows_fused (whole rows up to kFusedRowMax), row_stats + row_write (the two passes of a longer
// row, one chunk at a time). Every function reads through a load (simd/sources-inl.h): the plain
// one, or the masked one of the attention-score softmax. Contracts in kernels/kernel_table.h.
// Highway -inl.h: included once per target by simd_rows.cc (foreach_target), so it has a
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

// max of elements [begin, begin + n) (the load negates for softmin); NaN if one of them is NaN.
template <class IO, class Src>
double BlockMax(const Src src, std::int64_t begin, std::int64_t n) {
  using D = typename IO::D;
  const D d;
  const auto N = static_cast<std::int64_t>(hn::Lanes(d));
  auto m0 = hn::Set(d, -std::numeric_limits<hn::TFromD<D>>::infinity());
  auto m1 = m0;
  auto nan = hn::Zero(d);
  std::int64_t i = 0;
  for (; i + 2 * N <= n; i += 2 * N) {
    const auto a = src.Load(d, begin + i);
    const auto b = src.Load(d, begin + i + N);
    m0 = hn::Max(m0, a);
    m1 = hn::Max(m1, b);
    nan = hn::Or(nan, hn::VecFromMask(d, hn::Or(hn::IsNaN(a), hn::IsNaN(b))));
  }
  for (; i + N <= n; i += N) {
    const auto a = src.Load(d, begin + i);
    m0 = hn::Max(m0, a);
    nan = hn::Or(nan, hn::VecFromMask(d, hn::IsNaN(a)));
  }
  if (i < n) {  // padded with -inf, which cannot win
    const auto a = src.LoadTail(d, begin + i, n - i);
    m0 = hn::Max(m0, a);
    nan = hn::Or(nan, hn::VecFromMask(d, hn::IsNaN(a)));
  }
  if (!hn::AllTrue(d, hn::Eq(nan, hn::Zero(d)))) return std::numeric_limits<double>::quiet_NaN();
  return static_cast<double>(hn::GetLane(hn::MaxOfLanes(d, hn::Max(m0, m1))));
}

// max of a row without NaN tracking. The fused row kernel needs no more: a NaN anywhere makes
// its exp NaN, hence the sum and every output NaN, whatever the max is.
template <class IO, class Src>
double RowMaxPlain(const Src src, std::int64_t n) {
  using D = typename IO::D;
  const D d;
  const auto N = static_cast<std::int64_t>(hn::Lanes(d));
  auto m0 = hn::Set(d, -std::numeric_limits<hn::TFromD<D>>::infinity());
  auto m1 = m0, m2 = m0, m3 = m0;
  std::int64_t i = 0;
  for (; i + 4 * N <= n; i += 4 * N) {
    m0 = hn::Max(m0, src.Load(d, i));
    m1 = hn::Max(m1, src.Load(d, i + N));
    m2 = hn::Max(m2, src.Load(d, i + 2 * N));
    m3 = hn::Max(m3, src.Load(d, i + 3 * N));
  }
  for (; i + N <= n; i += N) m0 = hn::Max(m0, src.Load(d, i));
  if (i < n) m1 = hn::Max(m1, src.LoadTail(d, i, n - i));
  return static_cast<double>(hn::GetLane(hn::MaxOfLanes(d, hn::Max(hn::Max(m0, m1), hn::Max(m2, m3)))));
}

// min and max of a row in one pass, without NaN tracking (see RowMaxPlain).
template <class IO, class Src>
std::pair<double, double> RowMinMaxPlain(const Src src, std::int64_t n) {
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
    const auto a = src.Load(d, i);
    const auto b = src.Load(d, i + N);
    lo0 = hn::Min(lo0, a);
    hi0 = hn::Max(hi0, a);
    lo1 = hn::Min(lo1, b);
    hi1 = hn::Max(hi1, b);
  }
  for (; i + N <= n; i += N) {
    const auto a = src.Load(d, i);
    lo0 = hn::Min(lo0, a);
    hi0 = hn::Max(hi0, a);
  }
  if (i < n) {  // padded with the row's first element: it changes neither min nor max
    const auto first = hn::Set(d, hn::GetLane(src.LoadTail(d, 0, 1)));
    const auto a = hn::IfThenElse(FirstLanes(d, n - i), src.LoadTail(d, i, n - i), first);
    lo1 = hn::Min(lo1, a);
    hi1 = hn::Max(hi1, a);
  }
  return {static_cast<double>(hn::GetLane(hn::MinOfLanes(d, hn::Min(lo0, lo1)))),
          static_cast<double>(hn::GetLane(hn::MaxOfLanes(d, hn::Max(hi0, hi1))))};
}

// sum(exp(x - max)) of elements [begin, begin + n), accumulated in double. `next` (optional): the
// next_len elements read next, prefetched meanwhile so that their memory pass overlaps this
// pass's arithmetic.
template <class IO, class Src>
double BlockSumExp(const Src src, std::int64_t begin, std::int64_t n, double max,
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
    SumAdd(d, s0lo, s0hi, ExpShifted(d, hn::Sub(src.Load(d, begin + i), vmax)));
    SumAdd(d, s1lo, s1hi, ExpShifted(d, hn::Sub(src.Load(d, begin + i + N), vmax)));
  }
  for (; i + N <= n; i += N) SumAdd(d, s0lo, s0hi, ExpShifted(d, hn::Sub(src.Load(d, begin + i), vmax)));
  if (i < n) {  // padding is -inf: exp(-inf) = 0 adds nothing
    SumAdd(d, s1lo, s1hi, ExpShifted(d, hn::Sub(src.LoadTail(d, begin + i, n - i), vmax)));
  }
  return SumTotal(d, s0lo, s0hi) + SumTotal(d, s1lo, s1hi);
}

template <class IO, class Src>
RowStats RowStatsT(const Src src, std::int64_t n) {
  RowStats total{-std::numeric_limits<double>::infinity(), 0.0};
  const typename IO::Storage* x = src.memory();
  for (std::int64_t b = 0; b < n; b += kStatsBlock) {
    const std::int64_t len = std::min(kStatsBlock, n - b);
    const double m = BlockMax<IO>(src, b, len);
    // A block of only -inf contributes nothing (and must not contribute exp(-inf - -inf) = NaN).
    // (the next block is prefetched while this one's sum is computed from cache)
    const std::int64_t next_len = std::min(kStatsBlock, n - b - len);
    const double s =
        m == -std::numeric_limits<double>::infinity() ? 0.0 : BlockSumExp<IO>(src, b, len, m, x + b + len, next_len);
    total = b == 0 ? RowStats{m, s} : merge_row_stats(total, RowStats{m, s});
  }
  return total;
}

template <class IO>
RowStats RowStatsImpl(Op op, const void* xv, std::int64_t n, const MaskedLoad* masked) {
  const auto* x = static_cast<const typename IO::Storage*>(xv);
  const bool negate = op == Op::kSoftmin;
  if (masked != nullptr) return RowStatsT<IO>(MaskedRowLoad<IO>(x, negate, *masked), n);
  return RowStatsT<IO>(RowLoad<IO>{x, negate}, n);
}

template <class IO, class Src>
void RowWriteT(Op op, const Src src, typename IO::Storage* y, std::int64_t n, RowStats stats, bool stream) {
  using D = typename IO::D;
  using T = hn::TFromD<D>;
  const D d;
  const auto N = static_cast<std::int64_t>(hn::Lanes(d));
  const bool log = op == Op::kLogSoftmax;
  const auto vmax = hn::Set(d, static_cast<T>(stats.max));
  // A row of only -inf has sum 0 here; exp(-inf - -inf) is NaN, so the row still ends NaN.
  const auto vscale = hn::Set(d, static_cast<T>(log ? std::log(stats.sum) : 1.0 / stats.sum));
  stream = CanStream<IO>(stream, N, y);
  auto compute = [&](hn::Vec<D> v) {
    const auto shifted = hn::Sub(v, vmax);
    return log ? hn::Sub(shifted, vscale) : hn::Mul(ExpShifted(d, shifted), vscale);
  };
  std::int64_t i = 0;
  for (; i + N <= n; i += N) IO::Store(d, compute(src.Load(d, i)), y + i, stream);
  if (i < n) {
    typename IO::Storage out[hn::MaxLanes(D())];
    IO::Store(d, compute(src.LoadTail(d, i, n - i)), out, false);
    std::memcpy(y + i, out, static_cast<size_t>(n - i) * sizeof(typename IO::Storage));
  }
  if (stream) hwy::FlushStream();
}

template <class IO>
void RowWriteImpl(Op op, const void* xv, void* yv, std::int64_t n, RowStats stats, bool stream,
                  const MaskedLoad* masked) {
  const auto* x = static_cast<const typename IO::Storage*>(xv);
  auto* y = static_cast<typename IO::Storage*>(yv);
  const bool negate = op == Op::kSoftmin;
  if (masked != nullptr) return RowWriteT<IO>(op, MaskedRowLoad<IO>(x, negate, *masked), y, n, stats, stream);
  RowWriteT<IO>(op, RowLoad<IO>{x, negate}, y, n, stats, stream);
}

// Whole rows of up to kFusedRowMax elements: max; exp (kept) and sum; scale. One exp per
// element, and the row is read from memory once.
template <class IO, bool kFlush, class Src>
HWY_INLINE void RowFusedExp(const Src src, typename IO::Storage* y, std::int64_t n, bool stream,
                            hn::TFromD<typename IO::D>* e, double max, const typename IO::Storage* next) {
  using D = typename IO::D;
  using T = hn::TFromD<D>;
  const D d;
  const auto N = static_cast<std::int64_t>(hn::Lanes(d));
  const auto vmax = hn::Set(d, static_cast<T>(max));
  auto exp_at = [&](std::int64_t i) {
    const auto v = hn::Sub(src.Load(d, i), vmax);
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
    const auto a = exp_at(i);
    const auto b = exp_at(i + N);
    const auto c = exp_at(i + 2 * N);
    const auto f = exp_at(i + 3 * N);
    hn::StoreU(a, d, e + i);
    hn::StoreU(b, d, e + i + N);
    hn::StoreU(c, d, e + i + 2 * N);
    hn::StoreU(f, d, e + i + 3 * N);
    SumAdd(d, sum_lo, sum_hi, hn::Add(hn::Add(a, b), hn::Add(c, f)));
  }
  for (; i + N <= n; i += N) {
    const auto a = exp_at(i);
    hn::StoreU(a, d, e + i);
    SumAdd(d, sum_lo, sum_hi, a);
  }
  if (i < n) {  // the -inf padding needs the flush (exp(-inf) = 0) in any case
    const auto a = ExpShifted(d, hn::Sub(src.LoadTail(d, i, n - i), vmax));
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

template <class IO, class Src>
HWY_INLINE void RowFusedOne(Op op, const Src src, typename IO::Storage* y, std::int64_t n, bool stream,
                            hn::TFromD<typename IO::D>* e, const typename IO::Storage* next) {
  using T = hn::TFromD<typename IO::D>;
  if (op == Op::kLogSoftmax) {
    const double max = RowMaxPlain<IO>(src, n);
    const double sum = BlockSumExp<IO>(src, 0, n, max, next, next == nullptr ? 0 : n);
    RowWriteT<IO>(op, src, y, n, RowStats{max, sum}, stream);
    return;
  }
  const auto [min, max] = RowMinMaxPlain<IO>(src, n);
  // When no x - max can fall below the flush cutoff (the usual case: it takes a spread of 87
  // within the row), the exp skips its flush-to-zero select. Same values either way.
  if (sizeof(T) == 4 && max - min <= -static_cast<double>(kExpCutoff)) {
    RowFusedExp<IO, false>(src, y, n, stream, e, max, next);
  } else {
    RowFusedExp<IO, true>(src, y, n, stream, e, max, next);
  }
}

// `rows` rows of n <= kFusedRowMax contiguous elements, `x_stride`/`y_stride` apart (row r of a
// masked call reads through masked->row(r)).
template <class IO>
void RowsFusedImpl(Op op, const void* xv, std::int64_t x_stride, void* yv, std::int64_t y_stride, std::int64_t rows,
                   std::int64_t n, bool stream, const MaskedLoad* masked) {
  const auto N = static_cast<std::int64_t>(hn::Lanes(typename IO::D()));
  auto* e = Scratch<hn::TFromD<typename IO::D>>((n + N - 1) / N * N);
  const auto* x = static_cast<const typename IO::Storage*>(xv);
  auto* y = static_cast<typename IO::Storage*>(yv);
  const bool negate = op == Op::kSoftmin;
  // The next row is prefetched while this one computes, when both and the exp scratch fit in
  // L2 with room to spare.
  const bool prefetch = n * static_cast<std::int64_t>(sizeof(typename IO::Storage)) <= tuning().prefetch_row_bytes;
  for (std::int64_t r = 0; r < rows; ++r) {
    const auto* next = prefetch && r + 1 < rows ? x + (r + 1) * x_stride : nullptr;
    if (masked != nullptr) {
      RowFusedOne<IO>(op, MaskedRowLoad<IO>(x + r * x_stride, negate, masked->row(r)), y + r * y_stride, n, stream, e,
                      next);
    } else {
      RowFusedOne<IO>(op, RowLoad<IO>{x + r * x_stride, negate}, y + r * y_stride, n, stream, e, next);
    }
  }
  if (stream) hwy::FlushStream();
}

// y[0, n) = value in the dtype, whole vectors through the store (non-temporal when asked and the
// target allows it), the tail through a buffer.
template <class IO>
void FillImpl(void* yv, std::int64_t n, double value, bool stream) {
  using D = typename IO::D;
  const D d;
  const auto N = static_cast<std::int64_t>(hn::Lanes(d));
  auto* y = static_cast<typename IO::Storage*>(yv);
  const auto v = hn::Set(d, static_cast<hn::TFromD<D>>(value));
  std::int64_t i = 0;
  // Up to the first vector-aligned element one at a time, so that non-temporal stores can run.
  typename IO::Storage one[hn::MaxLanes(D())];
  IO::Store(d, v, one, false);
  if (stream) {
    for (; i < n && reinterpret_cast<std::uintptr_t>(y + i) % (static_cast<std::uintptr_t>(N) * sizeof(*y)) != 0; ++i) {
      y[i] = one[0];
    }
  }
  stream = CanStream<IO>(stream, N, y + i);
  for (; i + N <= n; i += N) IO::Store(d, v, y + i, stream);
  for (; i < n; ++i) y[i] = one[0];
}

template <class IO>
void CopyImpl(void* dstv, const void* srcv, std::int64_t n, bool stream) {
  // Bytes: no conversion, any dtype. With `stream`, the bytes up to the first vector-aligned one
  // are copied plainly, then whole vectors go through non-temporal stores.
  const hn::ScalableTag<std::uint8_t> d8;
  const auto N = static_cast<std::int64_t>(hn::Lanes(d8));
  auto* out = static_cast<std::uint8_t*>(dstv);
  const auto* in = static_cast<const std::uint8_t*>(srcv);
  const std::int64_t bytes = n * static_cast<std::int64_t>(sizeof(typename IO::Storage));
  std::int64_t i = 0;
  if (stream && N > 1 && bytes >= 2 * N) {
    const auto misaligned = static_cast<std::int64_t>(reinterpret_cast<std::uintptr_t>(out) % static_cast<std::uintptr_t>(N));
    i = misaligned == 0 ? 0 : N - misaligned;
    std::memcpy(out, in, static_cast<size_t>(i));
    for (; i + N <= bytes; i += N) hn::Stream(hn::LoadU(d8, in + i), d8, out + i);
  }
  if (i < bytes) std::memcpy(out + i, in + i, static_cast<size_t>(bytes - i));
}

}  // namespace HWY_NAMESPACE
}  // namespace smx::detail
HWY_AFTER_NAMESPACE();

#endif  // SMX_KERNELS_SIMD_ROWS_INL_H_
