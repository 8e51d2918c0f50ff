// Loading and storing each dtype as a compute vector (float32 lanes for the 16-bit dtypes,
// rounded to nearest-even once on store), vector tails, streaming-store eligibility and the
// per-thread scratch buffers the kernels share.
// Highway -inl.h: included once per target by simd_softmax.cc (foreach_target), so it has a
// per-target include guard instead of #pragma once.
#if defined(SMX_KERNELS_SIMD_DTYPE_IO_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef SMX_KERNELS_SIMD_DTYPE_IO_INL_H_
#undef SMX_KERNELS_SIMD_DTYPE_IO_INL_H_
#else
#define SMX_KERNELS_SIMD_DTYPE_IO_INL_H_
#endif

#include <hwy/highway.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

HWY_BEFORE_NAMESPACE();
namespace smx::detail {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;


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


// v rounded to the storage dtype and widened back (what storing and loading gives): nothing for
// float32 and float64, round-to-nearest-even for the 16-bit dtypes.
template <class IO, class D>
HWY_INLINE hn::Vec<D> RoundTrip(D d, hn::Vec<D> v) {
  if constexpr (sizeof(typename IO::Storage) == sizeof(hn::TFromD<D>)) {
    return v;
  } else {
    typename IO::Storage buf[hn::MaxLanes(D())];
    IO::Store(d, v, buf, false);
    return IO::Load(d, buf);
  }
}

template <class IO, class D>
HWY_INLINE hn::Vec<D> LoadSigned(D d, const typename IO::Storage* p, bool negate) {
  const auto v = IO::Load(d, p);
  return negate ? hn::Neg(v) : v;
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

// A per-thread buffer for exp values, so each is computed once and read back from L1/L2.
template <typename T>
T* Scratch(std::int64_t n) {
  thread_local std::vector<T> buffer;
  if (static_cast<std::int64_t>(buffer.size()) < n) buffer.resize(static_cast<std::size_t>(n));
  return buffer.data();
}

// A per-thread buffer per slot (the column kernels hold several at once).
template <typename T, int kSlot>
T* ColState(std::int64_t n) {
  thread_local std::vector<T> buffer;
  if (static_cast<std::int64_t>(buffer.size()) < n) buffer.resize(static_cast<std::size_t>(n));
  return buffer.data();
}

}  // namespace HWY_NAMESPACE
}  // namespace smx::detail
HWY_AFTER_NAMESPACE();

#endif  // SMX_KERNELS_SIMD_DTYPE_IO_INL_H_
