// The kernels' loads and stores (kernel_table.h: "load and store are parameters of the kernels"):
// what a kernel reads for element i of a row (or row i of a vector of lanes), and what a backward
// kernel writes. Each is a small value the kernel templates are instantiated on, so the plain
// load compiles to exactly the code it always was and the masked one adds its select.
//   RowLoad / ColLoad          x (softmin: -x)
//   MaskedRowLoad / ColLoad    kept ? x (or scale * x, rounded to the dtype) : -inf
//   GradStore / MaskedGradStore  dx, or (kept ? scale * dx rounded : 0)
// Highway -inl.h: included once per target by the simd_*.cc files (foreach_target), so it has a
// per-target include guard instead of #pragma once.
#if defined(SMX_KERNELS_SIMD_SOURCES_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef SMX_KERNELS_SIMD_SOURCES_INL_H_
#undef SMX_KERNELS_SIMD_SOURCES_INL_H_
#else
#define SMX_KERNELS_SIMD_SOURCES_INL_H_
#endif

#include <hwy/highway.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>

#include "kernels/kernel_table.h"
#include "kernels/simd/dtype_io-inl.h"

HWY_BEFORE_NAMESPACE();
namespace smx::detail {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// The -inf that pads a tail, in storage: -inf after the optional negation.
template <class IO>
typename IO::Storage PadStorage(bool negate) {
  return negate ? PosInfStorage<IO>() : NegInfStorage<IO>();
}

// Lanes [0, count) of a vector, as a mask (count may be <= 0 or >= the lane count).
template <class D>
HWY_INLINE hn::Mask<D> FirstLanes(D d, std::int64_t count) {
  const auto N = static_cast<std::int64_t>(hn::Lanes(d));
  return hn::FirstN(d, static_cast<size_t>(std::clamp<std::int64_t>(count, 0, N)));
}

// Mask bytes of lanes [0, Lanes(d)) at stride `stride` (0: one byte for every lane; 1: packed;
// else gathered), as a mask of D: a lane is kept when its byte is nonzero.
template <class D>
HWY_INLINE hn::Mask<D> KeptLanes(D d, const std::uint8_t* m, std::int64_t stride) {
  const hn::RebindToUnsigned<D> du;
  using U = hn::TFromD<decltype(du)>;
  if (stride == 0) return hn::RebindMask(d, hn::Ne(hn::Set(du, static_cast<U>(m[0])), hn::Zero(du)));
  if constexpr (sizeof(U) == 4) {
    const hn::Rebind<std::uint8_t, D> d8;
    if (stride == 1) return hn::RebindMask(d, hn::Ne(hn::PromoteTo(du, hn::LoadU(d8, m)), hn::Zero(du)));
  }
  HWY_ALIGN U lanes[hn::MaxLanes(D())];
  const auto N = static_cast<std::int64_t>(hn::Lanes(d));
  for (std::int64_t k = 0; k < N; ++k) lanes[k] = m[k * stride];
  return hn::RebindMask(d, hn::Ne(hn::Load(du, lanes), hn::Zero(du)));
}

// fn(tag, first lane, lane count) over the lanes of a contiguous block: the full vectors with
// the target's vector, then the leftovers one lane at a time (every lane's arithmetic is the same
// either way).
template <class IO, class Fn>
HWY_INLINE void ForLaneParts(std::int64_t lanes, Fn&& fn) {
  const typename IO::D d;
  const auto N = static_cast<std::int64_t>(hn::Lanes(d));
  const std::int64_t full = lanes / N * N;
  if (full > 0) fn(d, std::int64_t{0}, full);
  if (full < lanes) fn(hn::CappedTag<hn::TFromD<typename IO::D>, 1>(), full, lanes - full);
}

// ---- rows: element i of one row (or of a chunk of one) ----

template <class IO>
struct RowLoad {
  const typename IO::Storage* x;
  bool negate;

  template <class D>
  HWY_INLINE hn::Vec<D> Load(D d, std::int64_t i) const {
    return LoadSigned<IO>(d, x + i, negate);
  }
  // Elements [i, i + count) and -inf (after negation) in the other lanes; count < Lanes(d).
  template <class D>
  HWY_INLINE hn::Vec<D> LoadTail(D d, std::int64_t i, std::int64_t count) const {
    const Tail<IO> tail(x + i, count, PadStorage<IO>(negate));
    return LoadSigned<IO>(d, tail.buf, negate);
  }
  // The row's elements sit where they are read: the next row can be prefetched.
  const typename IO::Storage* memory() const { return x; }
};

// kept ? value : -inf, where value is x (softmin: -x) or scale * x rounded once to the storage
// dtype (negated after: -(scale * x)), exactly what the staged x' = masked_fill(scale * x) held.
template <class IO>
struct MaskedRowLoad {
  using T = hn::TFromD<typename IO::D>;
  const typename IO::Storage* x;
  bool negate;
  const std::uint8_t* mask;  // null: keep_end alone masks
  std::int64_t mask_stride;
  std::int64_t keep_end;  // relative to x
  bool scaled;
  T scale;

  MaskedRowLoad(const typename IO::Storage* x_in, bool negate_in, const MaskedLoad& m)
      : x(x_in),
        negate(negate_in),
        mask(m.mask),
        mask_stride(m.mask_stride),
        keep_end(m.keep_end),
        scaled(m.scaled),
        scale(static_cast<T>(m.scale)) {}

  template <class D>
  HWY_INLINE hn::Vec<D> Value(D d, hn::Vec<D> v) const {
    if (scaled) v = RoundTrip<IO>(d, hn::Mul(v, hn::Set(d, scale)));
    return negate ? hn::Neg(v) : v;
  }
  template <class D>
  HWY_INLINE hn::Mask<D> Kept(D d, std::int64_t i, std::int64_t valid) const {
    auto kept = FirstLanes(d, std::min(valid, keep_end - i));
    if (mask != nullptr) kept = hn::And(kept, KeptLanes(d, mask + i * mask_stride, mask_stride));
    return kept;
  }
  template <class D>
  HWY_INLINE hn::Vec<D> Load(D d, std::int64_t i) const {
    const auto N = static_cast<std::int64_t>(hn::Lanes(d));
    return hn::IfThenElse(Kept(d, i, N), Value(d, IO::Load(d, x + i)), hn::Set(d, -std::numeric_limits<T>::infinity()));
  }
  template <class D>
  HWY_INLINE hn::Vec<D> LoadTail(D d, std::int64_t i, std::int64_t count) const {
    const Tail<IO> tail(x + i, count, typename IO::Storage{});
    const auto N = static_cast<std::int64_t>(hn::Lanes(d));
    // The mask bytes past the row are not read: the kept lanes are limited to `count` first.
    auto kept = FirstLanes(d, std::min(count, keep_end - i));
    if (mask != nullptr) {
      HWY_ALIGN std::uint8_t bytes[hn::MaxLanes(D())] = {};
      for (std::int64_t k = 0; k < count && k < N; ++k) bytes[k] = mask[(i + k) * mask_stride];
      kept = hn::And(kept, KeptLanes(d, bytes, 1));
    }
    return hn::IfThenElse(kept, Value(d, IO::Load(d, tail.buf)), hn::Set(d, -std::numeric_limits<T>::infinity()));
  }
  const typename IO::Storage* memory() const { return x; }
};

// ---- columns: row i of a vector of lanes starting at lane l ----

// kUnitLanes: the lanes are adjacent (lane_stride is 1, known at compile time, so the address
// arithmetic is the plain walk's: contiguous lanes are the common case and the hot loop).
template <class IO, bool kUnitLanes = false>
struct ColLoad {
  const typename IO::Storage* x;
  std::int64_t row_stride, lane_stride;
  bool negate;

  HWY_INLINE std::int64_t LaneOffset(std::int64_t l) const { return kUnitLanes ? l : l * lane_stride; }
  template <class D>
  HWY_INLINE hn::Vec<D> Load(D d, std::int64_t i, std::int64_t l) const {
    return LoadSigned<IO>(d, x + i * row_stride + LaneOffset(l), negate);
  }
  // The same columns from lane l on.
  ColLoad Shifted(std::int64_t l) const { return {x + LaneOffset(l), row_stride, lane_stride, negate}; }
};

template <class IO>
struct MaskedColLoad {
  using T = hn::TFromD<typename IO::D>;
  const typename IO::Storage* x;
  std::int64_t row_stride, lane_stride;
  bool negate;
  const std::uint8_t* mask;  // never null (columns have no keep_end)
  std::int64_t mask_row_stride, mask_lane_stride;
  bool scaled;
  T scale;

  MaskedColLoad(const typename IO::Storage* x_in, std::int64_t rs, std::int64_t ls, bool negate_in, const MaskedLoad& m)
      : x(x_in),
        row_stride(rs),
        lane_stride(ls),
        negate(negate_in),
        mask(m.mask),
        mask_row_stride(m.mask_stride),
        mask_lane_stride(m.mask_lane_stride),
        scaled(m.scaled),
        scale(static_cast<T>(m.scale)) {}

  template <class D>
  HWY_INLINE hn::Vec<D> Load(D d, std::int64_t i, std::int64_t l) const {
    auto v = IO::Load(d, x + i * row_stride + l * lane_stride);
    if (scaled) v = RoundTrip<IO>(d, hn::Mul(v, hn::Set(d, scale)));
    if (negate) v = hn::Neg(v);
    const auto kept = KeptLanes(d, mask + i * mask_row_stride + l * mask_lane_stride, mask_lane_stride);
    return hn::IfThenElse(kept, v, hn::Set(d, -std::numeric_limits<T>::infinity()));
  }
  MaskedColLoad Shifted(std::int64_t l) const {
    MaskedColLoad s = *this;
    s.x += l * lane_stride;
    s.mask += l * mask_lane_stride;
    return s;
  }
};

// ---- backward stores: dx for element i of a row (or row i of a vector of lanes) ----

template <class IO>
struct GradStore {
  template <class D>
  HWY_INLINE hn::Vec<D> Row(D, hn::Vec<D> dx, std::int64_t /*i*/, std::int64_t /*valid*/) const {
    return dx;
  }
  template <class D>
  HWY_INLINE hn::Vec<D> Col(D, hn::Vec<D> dx, std::int64_t /*i*/, std::int64_t /*l*/) const {
    return dx;
  }
};

// 0 at masked elements; at kept ones scale * dx with dx rounded to the dtype first (autograd's
// order: softmax's backward gives dx in the dtype, masked_fill's zeroes it, scale * x's scales it).
template <class IO>
struct MaskedGradStore {
  using T = hn::TFromD<typename IO::D>;
  const std::uint8_t* mask;
  std::int64_t mask_stride, mask_lane_stride;
  std::int64_t keep_end;
  bool scaled;
  T scale;

  explicit MaskedGradStore(const MaskedLoad& m)
      : mask(m.mask),
        mask_stride(m.mask_stride),
        mask_lane_stride(m.mask_lane_stride),
        keep_end(m.keep_end),
        scaled(m.scaled),
        scale(static_cast<T>(m.scale)) {}

  // Elements [i, i + valid) of a row (valid <= Lanes(d); the mask is read for those alone).
  template <class D>
  HWY_INLINE hn::Vec<D> Row(D d, hn::Vec<D> dx, std::int64_t i, std::int64_t valid) const {
    auto kept = FirstLanes(d, std::min(valid, keep_end - i));
    if (mask != nullptr) {
      if (valid == static_cast<std::int64_t>(hn::Lanes(d))) {
        kept = hn::And(kept, KeptLanes(d, mask + i * mask_stride, mask_stride));
      } else {
        HWY_ALIGN std::uint8_t bytes[hn::MaxLanes(D())] = {};
        for (std::int64_t k = 0; k < valid; ++k) bytes[k] = mask[(i + k) * mask_stride];
        kept = hn::And(kept, KeptLanes(d, bytes, 1));
      }
    }
    return Apply(d, dx, kept);
  }
  // Row i of a column block, lanes [l, l + Lanes(d)).
  template <class D>
  HWY_INLINE hn::Vec<D> Col(D d, hn::Vec<D> dx, std::int64_t i, std::int64_t l) const {
    return Apply(d, dx, KeptLanes(d, mask + i * mask_stride + l * mask_lane_stride, mask_lane_stride));
  }
  template <class D>
  HWY_INLINE hn::Vec<D> Apply(D d, hn::Vec<D> dx, hn::Mask<D> kept) const {
    if (scaled) dx = hn::Mul(RoundTrip<IO>(d, dx), hn::Set(d, scale));
    return hn::IfThenElseZero(kept, dx);
  }
};

}  // namespace HWY_NAMESPACE
}  // namespace smx::detail
HWY_AFTER_NAMESPACE();

#endif  // SMX_KERNELS_SIMD_SOURCES_INL_H_
