// SIMD softmax kernels, compiled once per instruction-set target by Highway's foreach_target.
// See simd_kernels.h for the contract. Naming follows XNNPACK's spirit: what, passes, how.
//
// The math, per row (softmin loads -x instead of x):
//   stats:  m = max(x); s = sum(exp(x - m))     x - m <= 0, so exp never overflows
//   write:  softmax y = exp(x - m) * (1 / s);   log_softmax y = (x - m) - log(s)
// NaN handling: x86's max may drop a NaN operand, but exp(NaN - m) is NaN whatever m is, so a
// NaN reaches the sum and with it every output; only the blocked long-row statistics track NaN
// in the max (a block's sum is skipped when its max is -inf). hwy::Exp maps NaN to 0, so
// ExpKeepNaN puts NaN back. A NaN or +inf anywhere, or a row of only -inf, gives NaN everywhere
// in the row, as in PyTorch.

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/simd_softmax.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include <hwy/cache_control.h>
#include <hwy/contrib/math/math-inl.h>
#include <hwy/highway.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <utility>
#include <vector>

#include "kernels/reference_softmax.h"
#include "kernels/simd_kernels.h"

HWY_BEFORE_NAMESPACE();
namespace smx::detail {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Elements per block in row_stats: max then sum over a block that stays in L1/L2.
constexpr std::int64_t kStatsBlock = 8192;

// ---- loading and storing each dtype as a compute vector ----------------------------------------

// float32 and float64: stored as computed.
template <typename S>
struct PlainIo {
  using Storage = S;
  using D = hn::ScalableTag<S>;
  template <class DV>
  static hn::Vec<DV> Load(DV d, const Storage* p) { return hn::LoadU(d, p); }
  template <class DV>
  static void Store(DV d, hn::Vec<DV> v, Storage* p, bool stream) {
    if (stream) hn::Stream(v, d, p);
    else hn::StoreU(v, d, p);
  }
  static constexpr bool kCanStream = true;
};
using F32Io = PlainIo<float>;
using F64Io = PlainIo<double>;

// IEEE half, converted with integer ops on every target (Highway 1.0's emulated conversions
// neither round to nearest-even nor keep inf/NaN), matching smx::float_to_half_bits exactly.
struct F16Io {
  using Storage = std::uint16_t;
  using D = hn::ScalableTag<float>;
  template <class DV>
  static hn::Vec<DV> Load(DV d, const Storage* p) {
    const hn::RebindToUnsigned<DV> du;
    const hn::RebindToSigned<DV> di;
    const hn::Rebind<std::uint16_t, DV> d16;
    const auto h = hn::PromoteTo(du, hn::LoadU(d16, p));
    const auto sign = hn::ShiftLeft<16>(hn::And(h, hn::Set(du, 0x8000u)));
    const auto e = hn::And(hn::ShiftRight<10>(h), hn::Set(du, 0x1fu));
    const auto m = hn::And(h, hn::Set(du, 0x3ffu));
    const auto normal = hn::Or(hn::ShiftLeft<23>(hn::Add(e, hn::Set(du, 112u))), hn::ShiftLeft<13>(m));
    const auto inf_nan = hn::Or(hn::Set(du, 0x7f800000u), hn::ShiftLeft<13>(m));
    const auto sub = hn::BitCast(du, hn::Mul(hn::ConvertTo(d, hn::BitCast(di, m)), hn::Set(d, 0x1p-24f)));
    const auto ei = hn::BitCast(di, e);
    auto bits = hn::IfThenElse(hn::RebindMask(du, hn::Eq(ei, hn::Set(di, 31))), inf_nan, normal);
    bits = hn::IfThenElse(hn::RebindMask(du, hn::Eq(ei, hn::Zero(di))), sub, bits);
    return hn::BitCast(d, hn::Or(bits, sign));
  }
  template <class DV>
  static void Store(DV d, hn::Vec<DV> v, Storage* p, bool) {
    const hn::RebindToUnsigned<DV> du;
    const hn::RebindToSigned<DV> di;
    const hn::Rebind<std::uint16_t, DV> d16;
    const auto bits = hn::BitCast(du, v);
    const auto sign = hn::And(hn::ShiftRight<16>(bits), hn::Set(du, 0x8000u));
    const auto abs = hn::And(bits, hn::Set(du, 0x7fffffffu));
    const auto abs_i = hn::BitCast(di, abs);
    const auto odd = hn::And(hn::ShiftRight<13>(abs), hn::Set(du, 1u));
    const auto normal = hn::ShiftRight<13>(hn::Add(hn::Add(abs, hn::Set(du, 0xc8000fffu)), odd));
    // Subnormal results: adding 0.5f lets the FPU round at the half's subnormal ulp.
    const auto sub = hn::Sub(hn::BitCast(du, hn::Add(hn::BitCast(d, abs), hn::Set(d, 0.5f))),
                             hn::Set(du, 0x3f000000u));
    auto r = hn::IfThenElse(hn::RebindMask(du, hn::Lt(abs_i, hn::Set(di, 0x38800000))), sub, normal);
    r = hn::IfThenElse(hn::RebindMask(du, hn::Gt(abs_i, hn::Set(di, 0x477fffff))), hn::Set(du, 0x7c00u), r);
    r = hn::IfThenElse(hn::RebindMask(du, hn::Gt(abs_i, hn::Set(di, 0x7f800000))), hn::Set(du, 0x7e00u), r);
    r = hn::Or(r, sign);
    hn::StoreU(hn::DemoteTo(d16, hn::BitCast(di, r)), d16, p);
  }
  static constexpr bool kCanStream = false;
};

// bfloat16: the top half of a float; stores round to nearest-even (Highway 1.0 truncates).
struct BF16Io {
  using Storage = std::uint16_t;
  using D = hn::ScalableTag<float>;
  template <class DV>
  static hn::Vec<DV> Load(DV d, const Storage* p) {
    const hn::RebindToUnsigned<DV> du;
    const hn::Rebind<std::uint16_t, DV> d16;
    return hn::BitCast(d, hn::ShiftLeft<16>(hn::PromoteTo(du, hn::LoadU(d16, p))));
  }
  template <class DV>
  static void Store(DV, hn::Vec<DV> v, Storage* p, bool) {
    const hn::RebindToUnsigned<DV> du;
    const hn::RebindToSigned<DV> di;
    const hn::Rebind<std::uint16_t, DV> d16;
    const auto bits = hn::BitCast(du, v);
    const auto rounding = hn::Add(hn::Set(du, 0x7fffu), hn::And(hn::ShiftRight<16>(bits), hn::Set(du, 1u)));
    auto r = hn::ShiftRight<16>(hn::Add(bits, rounding));
    r = hn::IfThenElse(hn::RebindMask(du, hn::IsNaN(v)), hn::Or(hn::ShiftRight<16>(bits), hn::Set(du, 0x40u)), r);
    hn::StoreU(hn::DemoteTo(d16, hn::BitCast(di, r)), d16, p);
  }
  static constexpr bool kCanStream = false;
};

// ---- helpers -------------------------------------------------------------------------------------

// hwy::Exp for any input: NaN stays NaN and +inf gives +inf (hwy::Exp maps NaN to 0), and the
// argument is clamped first, because Highway's emulated targets convert it to int32 in C++,
// which is undefined for NaN, infinities and huge values.
template <class D, class V>
HWY_INLINE V ExpKeepNaN(D d, V v) {
  using T = hn::TFromD<D>;
  const auto lo = hn::Set(d, static_cast<T>(sizeof(T) == 4 ? -110.0 : -1100.0));  // exp() is 0 below
  const auto hi = hn::Set(d, static_cast<T>(sizeof(T) == 4 ? 88.0 : 709.0));       // and finite up to here
  const auto safe = hn::IfThenElse(hn::IsNaN(v), hn::Zero(d), hn::Min(hn::Max(v, lo), hi));
  auto r = hn::Exp(d, safe);
  r = hn::IfThenElse(hn::Gt(v, hi), hn::Set(d, std::numeric_limits<T>::infinity()), r);
  return hn::IfThenElse(hn::IsNaN(v), v, r);
}

// exp(v) for v = x - max <= 0 (or NaN), float32: the range reduction and degree-5 polynomial of
// XNNPACK's softmax kernels ("rr2_p5"), about half the work of hwy::Exp, which must also serve
// v > 0 and subnormal results. Error: within 2 ulp (tested against the float64 oracle).
// Results below e^-87.34 would be subnormal and are flushed to 0 (|error| < 1.2e-38); NaN in
// gives NaN out, -inf gives 0.
constexpr float kExpCutoff = -0x1.5D589Ep6f;  // below: exp(v) would be subnormal, flushed to 0

template <bool kFlush = true, class D, class V>
HWY_INLINE V ExpNonPositiveF32(D d, V v) {
  const hn::RebindToSigned<D> di;
  const auto magic = hn::Set(d, 0x1.8000FEp23f);  // rounds v*log2(e) and biases it for 2^n
  auto n = hn::MulAdd(v, hn::Set(d, 0x1.715476p+0f), magic);
  const auto scale = hn::BitCast(d, hn::ShiftLeft<23>(hn::BitCast(di, n)));  // 2^n
  n = hn::Sub(n, magic);
  auto r = hn::MulAdd(n, hn::Set(d, -0x1.62E400p-1f), v);  // r = v - n*ln2, in two parts
  r = hn::MulAdd(n, hn::Set(d, -0x1.7F7D1Cp-20f), r);
  auto p = hn::MulAdd(hn::Set(d, 0x1.0F9F9Cp-7f), r, hn::Set(d, 0x1.573A1Ap-5f));
  p = hn::MulAdd(p, r, hn::Set(d, 0x1.555A80p-3f));
  p = hn::MulAdd(p, r, hn::Set(d, 0x1.FFFDC6p-2f));
  p = hn::MulAdd(p, r, hn::Set(d, 0x1.FFFFF6p-1f));
  const auto f = hn::MulAdd(hn::Mul(r, scale), p, scale);  // 2^n * (1 + r*p(r))
  if constexpr (!kFlush) return f;  // the caller knows v >= kExpCutoff (or NaN) everywhere
  return hn::IfThenZeroElse(hn::Lt(v, hn::Set(d, kExpCutoff)), f);
}

// exp of a max-shifted value: the fast path for float, hwy::Exp (NaN kept) for double.
template <class D, class V>
HWY_INLINE V ExpShifted(D d, V v) {
  if constexpr (sizeof(hn::TFromD<D>) == 4) {
    return ExpNonPositiveF32(d, v);
  } else {
    return ExpKeepNaN(d, v);
  }
}

template <class IO, class D>
HWY_INLINE hn::Vec<D> LoadSigned(D d, const typename IO::Storage* p, bool negate) {
  const auto v = IO::Load(d, p);
  return negate ? hn::Neg(v) : v;
}

// Double-precision running sums of float (or double) vectors.
// One lane (HWY_SCALAR, or the 1-lane column kernels) promotes whole; wider vectors split
// into halves. Either way lane i's additions happen in the same order, so per-lane totals are
// identical whatever the vector width.
template <class D>
constexpr bool kOneLane = hn::MaxLanes(D()) == 1;

template <class D>
using SumTag = std::conditional_t<kOneLane<D> || sizeof(hn::TFromD<D>) == 8, hn::Rebind<double, D>,
                                  hn::Repartition<double, D>>;

// A running double sum of float (or double) vectors, kept in two double vectors lo/hi (free
// functions, not a struct: SVE vectors cannot be class members).
#define SMX_DOUBLE_SUM(D, lo, hi) \
  auto lo = hn::Zero(SumTag<D>()); \
  auto hi = lo

template <class D, class VD>
HWY_INLINE void SumAdd(D /* tag */, VD& lo, VD& hi, hn::Vec<D> v) {
  const SumTag<D> dd;
  if constexpr (sizeof(hn::TFromD<D>) == 8) {
    lo = hn::Add(lo, v);
  } else if constexpr (kOneLane<D>) {
    lo = hn::Add(lo, hn::PromoteTo(dd, v));
  } else {
#if HWY_TARGET != HWY_SCALAR  // (HWY_SCALAR vectors are one lane, handled above)
    const hn::Half<D> dh;
    lo = hn::Add(lo, hn::PromoteTo(dd, hn::LowerHalf(dh, v)));
    hi = hn::Add(hi, hn::PromoteTo(dd, hn::UpperHalf(dh, v)));
#endif
  }
  (void)hi;
}

// Lane i's total (the two halves added back), written to out[0..Lanes(D)).
template <class D, class VD>
HWY_INLINE void SumPerLane(D /* tag */, const VD& lo, const VD& hi, double* out) {
  const SumTag<D> dd;
  hn::StoreU(lo, dd, out);
  if constexpr (sizeof(hn::TFromD<D>) == 4 && !kOneLane<D>) hn::StoreU(hi, dd, out + hn::Lanes(dd));
  (void)hi;
}

template <class D, class VD>
HWY_INLINE double SumTotal(D /* tag */, const VD& lo, const VD& hi) {
  const SumTag<D> dd;
  HWY_ALIGN double buf[2 * hn::MaxLanes(SumTag<D>())];
  const size_t n = hn::Lanes(dd);
  hn::StoreU(lo, dd, buf);
  hn::StoreU(hi, dd, buf + n);
  double t = 0.0;
  for (size_t i = 0; i < 2 * n; ++i) t += buf[i];
  return t;
}

// Copies a tail of `count` (< lanes) elements into a full-vector buffer padded with `pad`.
template <class IO>
struct Tail {
  typename IO::Storage buf[hn::MaxLanes(typename IO::D())];
  Tail(const typename IO::Storage* src, std::int64_t count, typename IO::Storage pad) {
    for (auto& b : buf) b = pad;
    std::memcpy(buf, src, static_cast<size_t>(count) * sizeof(typename IO::Storage));
  }
};

template <class IO>
typename IO::Storage NegInfStorage() {
  if constexpr (std::is_same_v<IO, F16Io>) return 0xfc00u;
  else if constexpr (std::is_same_v<IO, BF16Io>) return 0xff80u;
  else return -std::numeric_limits<typename IO::Storage>::infinity();
}

template <class IO>
typename IO::Storage PosInfStorage() {
  if constexpr (std::is_same_v<IO, F16Io>) return 0x7c00u;
  else if constexpr (std::is_same_v<IO, BF16Io>) return 0x7f80u;
  else return std::numeric_limits<typename IO::Storage>::infinity();
}

// Non-temporal stores need whole aligned vectors: rows starting on a vector boundary (and
// row strides that keep them there), contiguous lanes, and a dtype stored at full width.
template <class IO>
bool CanStream(bool wanted, std::int64_t lanes_per_vector, const void* first, std::int64_t row_stride = 0,
               std::int64_t lane_stride = 1) {
  const auto align = static_cast<std::uintptr_t>(lanes_per_vector) * sizeof(typename IO::Storage);
  return wanted && IO::kCanStream && lanes_per_vector > 1 && lane_stride == 1 &&
         reinterpret_cast<std::uintptr_t>(first) % align == 0 &&
         (static_cast<std::uintptr_t>(row_stride) * sizeof(typename IO::Storage)) % align == 0;
}

// ---- forward rows --------------------------------------------------------------------------------

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
double BlockSumExp(bool negate, const typename IO::Storage* x, std::int64_t n, double max) {
  using D = typename IO::D;
  const D d;
  const auto N = static_cast<std::int64_t>(hn::Lanes(d));
  const auto vmax = hn::Set(d, static_cast<hn::TFromD<D>>(max));
  SMX_DOUBLE_SUM(D, s0lo, s0hi);
  SMX_DOUBLE_SUM(D, s1lo, s1hi);
  std::int64_t i = 0;
  for (; i + 2 * N <= n; i += 2 * N) {
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
RowStats RowStatsImpl(SoftmaxKind kind, const void* xv, std::int64_t n) {
  const auto* x = static_cast<const typename IO::Storage*>(xv);
  const bool negate = kind == SoftmaxKind::kSoftmin;
  RowStats total{-std::numeric_limits<double>::infinity(), 0.0};
  for (std::int64_t b = 0; b < n; b += kStatsBlock) {
    const std::int64_t len = std::min(kStatsBlock, n - b);
    const double m = BlockMax<IO>(negate, x + b, len);
    // A block of only -inf contributes nothing (and must not contribute exp(-inf - -inf) = NaN).
    const double s = m == -std::numeric_limits<double>::infinity() ? 0.0 : BlockSumExp<IO>(negate, x + b, len, m);
    total = b == 0 ? RowStats{m, s} : merge_row_stats(total, RowStats{m, s});
  }
  return total;
}

template <class IO>
void RowWriteImpl(SoftmaxKind kind, const void* xv, void* yv, std::int64_t n, RowStats stats, bool stream) {
  using D = typename IO::D;
  using T = hn::TFromD<D>;
  const D d;
  const auto N = static_cast<std::int64_t>(hn::Lanes(d));
  const auto* x = static_cast<const typename IO::Storage*>(xv);
  auto* y = static_cast<typename IO::Storage*>(yv);
  const bool negate = kind == SoftmaxKind::kSoftmin;
  const bool log = kind == SoftmaxKind::kLogSoftmax;
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

// A per-thread buffer for exp values, so each is computed once and read back from L1/L2.
template <typename T>
T* Scratch(std::int64_t n) {
  thread_local std::vector<T> buffer;
  if (static_cast<std::int64_t>(buffer.size()) < n) buffer.resize(static_cast<std::size_t>(n));
  return buffer.data();
}

// Whole rows of up to kFusedRowMax elements: max; exp (kept) and sum; scale. One exp per
// element, and the row is read from memory once.
template <class IO, bool kFlush>
HWY_INLINE void RowFusedExp(bool negate, const typename IO::Storage* x, typename IO::Storage* y, std::int64_t n,
                            bool stream, hn::TFromD<typename IO::D>* e, double max);

template <class IO>
HWY_INLINE void RowFusedOne(SoftmaxKind kind, const typename IO::Storage* x, typename IO::Storage* y, std::int64_t n,
                            bool stream, hn::TFromD<typename IO::D>* e) {
  using T = hn::TFromD<typename IO::D>;
  const bool negate = kind == SoftmaxKind::kSoftmin;
  if (kind == SoftmaxKind::kLogSoftmax) {
    const double max = RowMaxPlain<IO>(negate, x, n);
    RowWriteImpl<IO>(kind, x, y, n, RowStats{max, BlockSumExp<IO>(negate, x, n, max)}, stream);
    return;
  }
  const auto [min, max] = RowMinMaxPlain<IO>(negate, x, n);
  // When no x - max can fall below the flush cutoff (the usual case: it takes a spread of 87
  // within the row), the exp skips its flush-to-zero select. Same values either way.
  if (sizeof(T) == 4 && max - min <= -static_cast<double>(kExpCutoff)) {
    RowFusedExp<IO, false>(negate, x, y, n, stream, e, max);
  } else {
    RowFusedExp<IO, true>(negate, x, y, n, stream, e, max);
  }
}

template <class IO, bool kFlush>
HWY_INLINE void RowFusedExp(bool negate, const typename IO::Storage* x, typename IO::Storage* y, std::int64_t n,
                            bool stream, hn::TFromD<typename IO::D>* e, double max) {
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
  for (; i + 4 * N <= n; i += 4 * N) {
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

// `rows` rows of n <= kFusedRowMax contiguous elements, `x_stride`/`y_stride` apart.
template <class IO>
void RowsFusedImpl(SoftmaxKind kind, const void* xv, std::int64_t x_stride, void* yv, std::int64_t y_stride,
                   std::int64_t rows, std::int64_t n, bool stream) {
  const auto N = static_cast<std::int64_t>(hn::Lanes(typename IO::D()));
  auto* e = Scratch<hn::TFromD<typename IO::D>>((n + N - 1) / N * N);
  const auto* x = static_cast<const typename IO::Storage*>(xv);
  auto* y = static_cast<typename IO::Storage*>(yv);
  for (std::int64_t r = 0; r < rows; ++r) RowFusedOne<IO>(kind, x + r * x_stride, y + r * y_stride, n, stream, e);
  if (stream) hwy::FlushStream();
}

// ---- forward columns -------------------------------------------------------------------------------

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

template <typename T, int kSlot>
T* ColState(std::int64_t n) {
  thread_local std::vector<T> buffer;
  if (static_cast<std::int64_t>(buffer.size()) < n) buffer.resize(static_cast<std::size_t>(n));
  return buffer.data();
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
// at a time (32-64 bytes, then a jump of a whole row) left the prefetchers nothing to follow and
// made 1024x4096 over dim 0 as slow as 2048x4096. Per-lane state lives in small arrays between
// rows; every lane's arithmetic is the same as one vector at a time (max, then the double sum, in
// row order), so the grouping does not change a bit. The group's x and exp scratch stay in L2.
// NaN and -inf need no special care here: a NaN makes the lane's sum NaN, and a lane of only
// -inf computes exp(-inf - -inf) = NaN, which is PyTorch's answer.
constexpr std::int64_t kColShortGroup = 8;
constexpr std::int64_t kColShortScratchBytes = std::int64_t{256} << 10;

template <class IO, class D>
void ColsShortImpl(D d, SoftmaxKind kind, const typename IO::Storage* x, std::int64_t xs, std::int64_t xls,
                   typename IO::Storage* y, std::int64_t ys, std::int64_t yls, std::int64_t n, std::int64_t width,
                   bool stream) {
  using T = hn::TFromD<D>;
  const SumTag<D> dd;
  const auto N = static_cast<std::int64_t>(hn::Lanes(d));
  const auto ND = static_cast<std::int64_t>(hn::Lanes(dd));
  const bool negate = kind == SoftmaxKind::kSoftmin;
  const bool log = kind == SoftmaxKind::kLogSoftmax;
  const std::int64_t per_vector = n * N * static_cast<std::int64_t>(sizeof(T));
  const std::int64_t group = std::clamp<std::int64_t>(kColShortScratchBytes / per_vector, 1, kColShortGroup);
  T* e = ColState<T, 4>(n * N * group);
  T* m = ColState<T, 5>(N * group);
  double* acc = ColState<double, 6>(2 * ND * group);  // per vector: the lo and hi sums
  T* scale = ColState<T, 7>(N * group);
  const bool can_stream = CanStream<IO>(stream, N, y, ys, yls);
  for (std::int64_t l0 = 0; l0 < width; l0 += group * N) {
    const std::int64_t g = std::min(group, (width - l0) / N);
    const auto* xl = x + l0 * xls;
    auto* yl = y + l0 * yls;
    auto load_x = [&](std::int64_t i, std::int64_t k) { return LoadSigned<IO>(d, xl + i * xs + k * N * xls, negate); };
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
        IO::Store(d, out, yl + i * ys + k * N * yls, can_stream);
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
void ColsStatsImpl(D d, SoftmaxKind kind, const typename IO::Storage* x, std::int64_t xs, std::int64_t xls,
                   std::int64_t rows, std::int64_t width, hn::TFromD<D>* m, double* sum) {
  using T = hn::TFromD<D>;
  const auto N = static_cast<std::int64_t>(hn::Lanes(d));
  const bool negate = kind == SoftmaxKind::kSoftmin;
  const T inf = std::numeric_limits<T>::infinity();
  auto at = [&](std::int64_t i, std::int64_t l) { return x + i * xs + l * xls; };
  // NaN needs no tracking: exp(NaN - m) is NaN, so a lane holding one ends with a NaN sum (and
  // all-NaN output) whatever its max. Entries equal to -inf add exactly 0, also while the lane's
  // max is still -inf (where exp(-inf - -inf) would be NaN).
  const auto neg_inf = hn::Set(d, -inf);
  for (std::int64_t t0 = 0; t0 < rows; t0 += kColTile) {
    const std::int64_t t1 = std::min(rows, t0 + kColTile);
    for (std::int64_t l = 0; l < width; l += N) {
      // The tile's max for these lanes (this walk brings the tile into cache)...
      auto tile_max = neg_inf;
      for (std::int64_t i = t0; i < t1; ++i) tile_max = hn::Max(tile_max, LoadSigned<IO>(d, at(i, l), negate));
      const auto old_m = hn::LoadU(d, m + l);
      const auto new_m = hn::Max(old_m, tile_max);
      if (!hn::AllTrue(d, hn::Eq(old_m, new_m))) {
        RescaleSums(d, old_m, new_m, sum + l);  // s was relative to the old max
        hn::StoreU(new_m, d, m + l);
      }
      // ...then, from cache, add exp(x - m).
      SMX_DOUBLE_SUM(D, acc_lo, acc_hi);
      for (std::int64_t i = t0; i < t1; ++i) {
        const auto v = LoadSigned<IO>(d, at(i, l), negate);
        SumAdd(d, acc_lo, acc_hi, hn::IfThenZeroElse(hn::Eq(v, neg_inf), ExpShifted(d, hn::Sub(v, new_m))));
      }
      HWY_ALIGN double part[2 * hn::MaxLanes(D())];
      SumPerLane(d, acc_lo, acc_hi, part);
      for (std::int64_t k = 0; k < N; ++k) sum[l + k] += part[k];
    }
  }
}

// Pass 2 of tall columns: y for `rows` rows from the columns' final max and sum.
template <class IO, class D>
void ColsWriteImpl(D d, SoftmaxKind kind, const typename IO::Storage* x, std::int64_t xs, std::int64_t xls,
                   typename IO::Storage* y, std::int64_t ys, std::int64_t yls, std::int64_t rows, std::int64_t width,
                   const hn::TFromD<D>* m, const double* sum, bool stream) {
  using T = hn::TFromD<D>;
  const auto N = static_cast<std::int64_t>(hn::Lanes(d));
  const bool negate = kind == SoftmaxKind::kSoftmin;
  const bool log = kind == SoftmaxKind::kLogSoftmax;
  // Per-lane scale: 1/s, or log(s) for log_softmax.
  T* scale = ColState<T, 1>(width);  // (slot 1: any buffer but m's)
  for (std::int64_t l = 0; l < width; ++l) scale[l] = static_cast<T>(log ? std::log(sum[l]) : 1.0 / sum[l]);
  const bool can_stream = CanStream<IO>(stream, N, y, ys, yls);
  for (std::int64_t i = 0; i < rows; ++i) {
    for (std::int64_t l = 0; l < width; l += N) {
      const auto shifted = hn::Sub(LoadSigned<IO>(d, x + i * xs + l * xls, negate), hn::LoadU(d, m + l));
      const auto vscale = hn::LoadU(d, scale + l);
      const auto out = log ? hn::Sub(shifted, vscale) : hn::Mul(ExpShifted(d, shifted), vscale);
      IO::Store(d, out, y + i * ys + l * yls, can_stream);
    }
  }
  if (can_stream) hwy::FlushStream();
}

template <class IO, class D>
void ColsImpl(D d, SoftmaxKind kind, const typename IO::Storage* x, std::int64_t xs, std::int64_t xls,
              typename IO::Storage* y, std::int64_t ys, std::int64_t yls, std::int64_t n, std::int64_t lanes,
              bool stream) {
  using T = hn::TFromD<D>;
  const auto N = static_cast<std::int64_t>(hn::Lanes(d));
  const std::int64_t width = lanes / N * N;  // the caller sends leftovers through the 1-lane path
  if (width == 0) return;
  if (n <= kColShortN) return ColsShortImpl<IO>(d, kind, x, xs, xls, y, ys, yls, n, width, stream);
  T* m = ColState<T, 0>(width);  // running max per lane
  double* sum = ColState<double, 3>(width);
  for (std::int64_t l = 0; l < width; ++l) {
    m[l] = -std::numeric_limits<T>::infinity();
    sum[l] = 0.0;
  }
  ColsStatsImpl<IO>(d, kind, x, xs, xls, n, width, m, sum);
  ColsWriteImpl<IO>(d, kind, x, xs, xls, y, ys, yls, n, width, m, sum, stream);
}

// Contiguous lanes: full vectors, then the leftover lanes one at a time.
template <class IO>
void ColsContiguous(SoftmaxKind kind, const void* xv, std::int64_t xs, void* yv, std::int64_t ys, std::int64_t n,
                    std::int64_t lanes, bool stream) {
  const typename IO::D d;
  const auto* x = static_cast<const typename IO::Storage*>(xv);
  auto* y = static_cast<typename IO::Storage*>(yv);
  const auto N = static_cast<std::int64_t>(hn::Lanes(d));
  const std::int64_t full = lanes / N * N;
  ColsImpl<IO>(d, kind, x, xs, 1, y, ys, 1, n, full, stream);
  if (full < lanes) {
    ColsImpl<IO>(hn::CappedTag<hn::TFromD<typename IO::D>, 1>(), kind, x + full, xs, 1, y + full, ys, 1, n,
                 lanes - full, false);
  }
}

// Any lane strides: one lane at a time.
template <class IO>
void ColsStrided(SoftmaxKind kind, const void* xv, std::int64_t xs, std::int64_t xls, void* yv, std::int64_t ys,
                 std::int64_t yls, std::int64_t n, std::int64_t lanes) {
  ColsImpl<IO>(hn::CappedTag<hn::TFromD<typename IO::D>, 1>(), kind, static_cast<const typename IO::Storage*>(xv),
               xs, xls, static_cast<typename IO::Storage*>(yv), ys, yls, n, lanes, false);
}

// The tall-column passes on contiguous lanes (full vectors, then leftovers one at a time, as
// ColsContiguous): `m` holds the compute type (double for float64, float otherwise).
template <class IO>
void ColsStatsContiguous(SoftmaxKind kind, const void* xv, std::int64_t xs, std::int64_t rows, std::int64_t lanes,
                         void* mv, double* sum) {
  using D = typename IO::D;
  using T = hn::TFromD<D>;
  const D d;
  const auto* x = static_cast<const typename IO::Storage*>(xv);
  auto* m = static_cast<T*>(mv);
  const auto N = static_cast<std::int64_t>(hn::Lanes(d));
  const std::int64_t full = lanes / N * N;
  if (full > 0) ColsStatsImpl<IO>(d, kind, x, xs, 1, rows, full, m, sum);
  if (full < lanes) {
    ColsStatsImpl<IO>(hn::CappedTag<T, 1>(), kind, x + full, xs, 1, rows, lanes - full, m + full, sum + full);
  }
}

template <class IO>
void ColsWriteContiguous(SoftmaxKind kind, const void* xv, std::int64_t xs, void* yv, std::int64_t ys,
                         std::int64_t rows, std::int64_t lanes, const void* mv, const double* sum, bool stream) {
  using D = typename IO::D;
  using T = hn::TFromD<D>;
  const D d;
  const auto* x = static_cast<const typename IO::Storage*>(xv);
  auto* y = static_cast<typename IO::Storage*>(yv);
  const auto* m = static_cast<const T*>(mv);
  const auto N = static_cast<std::int64_t>(hn::Lanes(d));
  const std::int64_t full = lanes / N * N;
  if (full > 0) ColsWriteImpl<IO>(d, kind, x, xs, 1, y, ys, 1, rows, full, m, sum, stream);
  if (full < lanes) {
    ColsWriteImpl<IO>(hn::CappedTag<T, 1>(), kind, x + full, xs, 1, y + full, ys, 1, rows, lanes - full, m + full,
                      sum + full, false);
  }
}

// ---- backward --------------------------------------------------------------------------------------

template <class IO>
double RowBackwardAccImpl(BackwardKind kind, const void* gv, const void* yv, std::int64_t n) {
  using D = typename IO::D;
  const D d;
  const auto N = static_cast<std::int64_t>(hn::Lanes(d));
  const auto* g = static_cast<const typename IO::Storage*>(gv);
  const auto* y = static_cast<const typename IO::Storage*>(yv);
  const bool softmax = kind == BackwardKind::kSoftmax;
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

template <class IO>
void RowBackwardWriteImpl(BackwardKind kind, const void* gv, const void* yv, void* dxv, std::int64_t n, double acc,
                          bool stream) {
  using D = typename IO::D;
  using T = hn::TFromD<D>;
  const D d;
  const auto N = static_cast<std::int64_t>(hn::Lanes(d));
  const auto* g = static_cast<const typename IO::Storage*>(gv);
  const auto* y = static_cast<const typename IO::Storage*>(yv);
  auto* dx = static_cast<typename IO::Storage*>(dxv);
  const bool softmax = kind == BackwardKind::kSoftmax;
  const auto vacc = hn::Set(d, static_cast<T>(acc));
  stream = CanStream<IO>(stream, N, dx);
  auto compute = [&](hn::Vec<D> gi, hn::Vec<D> yi) {
    return softmax ? hn::Mul(yi, hn::Sub(gi, vacc)) : hn::NegMulAdd(ExpKeepNaN(d, yi), vacc, gi);
  };
  std::int64_t i = 0;
  for (; i + N <= n; i += N) IO::Store(d, compute(IO::Load(d, g + i), IO::Load(d, y + i)), dx + i, stream);
  if (i < n) {
    const Tail<IO> gt(g + i, n - i, typename IO::Storage{});
    const Tail<IO> yt(y + i, n - i, typename IO::Storage{});
    typename IO::Storage out[hn::MaxLanes(D())];
    IO::Store(d, compute(IO::Load(d, gt.buf), IO::Load(d, yt.buf)), out, false);
    std::memcpy(dx + i, out, static_cast<size_t>(n - i) * sizeof(typename IO::Storage));
  }
  if (stream) hwy::FlushStream();
}

// Backward columns, walked row by row like the forward ones: per-lane double accumulators
// (softmax: sum(g * y); log_softmax: sum(g)) in a per-thread array, then the write pass.
// `rows` backward rows of n <= kFusedRowMax contiguous elements, evenly spaced.
template <class IO>
void RowsBackwardImpl(BackwardKind kind, const void* gv, std::int64_t gs, const void* yv, std::int64_t ys, void* dxv,
                      std::int64_t dxs, std::int64_t rows, std::int64_t n, bool stream) {
  using S = typename IO::Storage;
  const auto* g = static_cast<const S*>(gv);
  const auto* y = static_cast<const S*>(yv);
  auto* dx = static_cast<S*>(dxv);
  for (std::int64_t r = 0; r < rows; ++r) {
    const double acc = RowBackwardAccImpl<IO>(kind, g + r * gs, y + r * ys, n);
    RowBackwardWriteImpl<IO>(kind, g + r * gs, y + r * ys, dx + r * dxs, n, acc, stream);
  }
}

template <class IO, class D>
void ColsBackwardImpl(D d, BackwardKind kind, const typename IO::Storage* g, std::int64_t gs, std::int64_t gls,
                      const typename IO::Storage* y, std::int64_t ys, std::int64_t yls, typename IO::Storage* dx,
                      std::int64_t dxs, std::int64_t dxls, std::int64_t n, std::int64_t lanes, bool stream) {
  using T = hn::TFromD<D>;
  const auto N = static_cast<std::int64_t>(hn::Lanes(d));
  const std::int64_t width = lanes / N * N;
  if (width == 0) return;
  const bool softmax = kind == BackwardKind::kSoftmax;
  // Per lane: partial sums over tiles of kColTile rows (in registers), added to a double total.
  double* sum = ColState<double, 3>(width);
  for (std::int64_t l = 0; l < width; ++l) sum[l] = 0.0;
  for (std::int64_t t0 = 0; t0 < n; t0 += kColTile) {
    const std::int64_t t1 = std::min(n, t0 + kColTile);
    for (std::int64_t l = 0; l < width; l += N) {
      SMX_DOUBLE_SUM(D, a_lo, a_hi);
      for (std::int64_t i = t0; i < t1; ++i) {
        const auto gi = IO::Load(d, g + i * gs + l * gls);
        SumAdd(d, a_lo, a_hi, softmax ? hn::Mul(gi, IO::Load(d, y + i * ys + l * yls)) : gi);
      }
      HWY_ALIGN double part[2 * hn::MaxLanes(D())];
      SumPerLane(d, a_lo, a_hi, part);
      for (std::int64_t k = 0; k < N; ++k) sum[l + k] += part[k];
    }
  }
  T* total = ColState<T, 1>(width);
  for (std::int64_t l = 0; l < width; ++l) total[l] = static_cast<T>(sum[l]);
  const bool can_stream = CanStream<IO>(stream, N, dx, dxs, dxls);
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t l = 0; l < width; l += N) {
      const auto gi = IO::Load(d, g + i * gs + l * gls);
      const auto yi = IO::Load(d, y + i * ys + l * yls);
      const auto vacc = hn::LoadU(d, total + l);
      const auto out = softmax ? hn::Mul(yi, hn::Sub(gi, vacc)) : hn::NegMulAdd(ExpKeepNaN(d, yi), vacc, gi);
      IO::Store(d, out, dx + i * dxs + l * dxls, can_stream);
    }
  }
  if (can_stream) hwy::FlushStream();
}

template <class IO>
void ColsBackwardContiguous(BackwardKind kind, const void* gv, std::int64_t gs, const void* yv, std::int64_t ys,
                            void* dxv, std::int64_t dxs, std::int64_t n, std::int64_t lanes, bool stream) {
  using S = typename IO::Storage;
  const typename IO::D d;
  const auto* g = static_cast<const S*>(gv);
  const auto* y = static_cast<const S*>(yv);
  auto* dx = static_cast<S*>(dxv);
  const auto N = static_cast<std::int64_t>(hn::Lanes(d));
  const std::int64_t full = lanes / N * N;
  ColsBackwardImpl<IO>(d, kind, g, gs, 1, y, ys, 1, dx, dxs, 1, n, full, stream);
  if (full < lanes) {
    ColsBackwardImpl<IO>(hn::CappedTag<hn::TFromD<typename IO::D>, 1>(), kind, g + full, gs, 1, y + full, ys, 1,
                         dx + full, dxs, 1, n, lanes - full, false);
  }
}

template <class IO>
void ColsBackwardStrided(BackwardKind kind, const void* gv, std::int64_t gs, std::int64_t gls, const void* yv,
                         std::int64_t ys, std::int64_t yls, void* dxv, std::int64_t dxs, std::int64_t dxls,
                         std::int64_t n, std::int64_t lanes) {
  using S = typename IO::Storage;
  ColsBackwardImpl<IO>(hn::CappedTag<hn::TFromD<typename IO::D>, 1>(), kind, static_cast<const S*>(gv), gs, gls,
                       static_cast<const S*>(yv), ys, yls, static_cast<S*>(dxv), dxs, dxls, n, lanes, false);
}

template <class IO>
constexpr SimdDtypeKernels MakeKernels() {
  return SimdDtypeKernels{&RowsFusedImpl<IO>,          &RowStatsImpl<IO>,         &RowWriteImpl<IO>,
                          &ColsContiguous<IO>,         &ColsStrided<IO>,          &RowsBackwardImpl<IO>,
                          &RowBackwardAccImpl<IO>,     &RowBackwardWriteImpl<IO>, &ColsBackwardContiguous<IO>,
                          &ColsBackwardStrided<IO>,   &ColsStatsContiguous<IO>,  &ColsWriteContiguous<IO>};
}

const SimdKernelTable* GetTable() {
  static const SimdKernelTable table{hwy::TargetName(HWY_TARGET),
                                     static_cast<std::int64_t>(hn::Lanes(hn::ScalableTag<float>())),
                                     static_cast<std::int64_t>(hn::Lanes(hn::ScalableTag<double>())),
                                     MakeKernels<F32Io>(),
                                     MakeKernels<F64Io>(),
                                     MakeKernels<F16Io>(),
                                     MakeKernels<BF16Io>()};
  return &table;
}

}  // namespace HWY_NAMESPACE
}  // namespace smx::detail
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace smx::detail {

HWY_EXPORT(GetTable);

const SimdKernelTable& dispatched_simd_kernels() { return *HWY_DYNAMIC_DISPATCH(GetTable)(); }

std::int64_t compiled_simd_targets() { return HWY_TARGETS; }

}  // namespace smx::detail
#endif  // HWY_ONCE
