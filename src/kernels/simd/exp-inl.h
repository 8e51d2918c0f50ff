// The exp variants of the SIMD kernels and their error bounds, in ulps of the exact value
// (tests/unit/simd_exp_test.cc checks each on every target against a higher-precision exp over
// its whole input range):
//   ExpNonPositiveF32  float32, v in [kExpCutoff, 0] (x - max): within 2 ulp on targets with FMA
//                      (AVX2, AVX3), 2.5 ulp without (SSE4, SSSE3, SCALAR: each MulAdd rounds
//                      twice); below kExpCutoff flushed to 0; NaN stays NaN
//   ExpKeepNaN         float32 or float64, any input: hwy::Exp (1 ulp from the correctly rounded
//                      result, so < 1.5 ulp of the exact value) with NaN kept; the argument is
//                      clamped to Highway's valid range, so inputs above 88 (float) / 709
//                      (double) give +inf although exp is finite up to 88.72 / 709.78 (the
//                      kernels only pass x - max <= 0 and log_softmax outputs)
//   ExpShifted         the one the kernels call on x - max: the first for float, the second for
//                      double
// Highway -inl.h: included once per target by simd_softmax.cc (foreach_target), so it has a
// per-target include guard instead of #pragma once.
#if defined(SMX_KERNELS_SIMD_EXP_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef SMX_KERNELS_SIMD_EXP_INL_H_
#undef SMX_KERNELS_SIMD_EXP_INL_H_
#else
#define SMX_KERNELS_SIMD_EXP_INL_H_
#endif

#include <hwy/contrib/math/math-inl.h>
#include <hwy/highway.h>

#include <limits>

HWY_BEFORE_NAMESPACE();
namespace smx::detail {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

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
// v > 0 and subnormal results. Error: within 2 ulp with FMA, 2.5 without (simd_exp_test).
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

}  // namespace HWY_NAMESPACE
}  // namespace smx::detail
HWY_AFTER_NAMESPACE();

#endif  // SMX_KERNELS_SIMD_EXP_INL_H_
