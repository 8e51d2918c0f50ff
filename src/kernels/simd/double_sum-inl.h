// Double-precision running sums of float (or double) vectors, with the same per-lane order of
// additions at every vector width (what makes results independent of the target's width, of
// leftover lanes and of strided layouts).
// Highway -inl.h: included once per target by simd_softmax.cc (foreach_target), so it has a
// per-target include guard instead of #pragma once.
#if defined(SMX_KERNELS_SIMD_DOUBLE_SUM_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef SMX_KERNELS_SIMD_DOUBLE_SUM_INL_H_
#undef SMX_KERNELS_SIMD_DOUBLE_SUM_INL_H_
#else
#define SMX_KERNELS_SIMD_DOUBLE_SUM_INL_H_
#endif

#include <hwy/highway.h>

#include <cstddef>
#include <type_traits>

HWY_BEFORE_NAMESPACE();
namespace smx::detail {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

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

}  // namespace HWY_NAMESPACE
}  // namespace smx::detail
HWY_AFTER_NAMESPACE();

#endif  // SMX_KERNELS_SIMD_DOUBLE_SUM_INL_H_
