// The typed pieces of masked_softmax: staging x' = (kept ? scale * x : -inf) in x's own dtype,
// and the values a fully masked group gets.
//
// Why stage in x's dtype: PyTorch users write (scale * x).masked_fill(~mask, -inf), which
// rounds scale * x once in x's dtype (float opmath for float16/bfloat16) before softmax - so a
// staged float16 x' is bit-for-bit that intermediate, and the existing kernels (which widen
// 16-bit input to float32 and accumulate in double) then see exactly what torch.softmax sees.
// Staging in float32 would skip that rounding and drift from PyTorch by up to half an ulp of
// float16 in the logits.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#include "smx/dtype.h"
#include "smx/errors.h"
#include "smx/half.h"
#include "smx/masked_softmax.h"

namespace smx::detail {

// The type scale * x is computed in: double for float64, float otherwise (PyTorch's opmath).
template <typename S>
using ComputeType = std::conditional_t<std::is_same_v<S, double>, double, float>;

template <typename S>
S from_compute(ComputeType<S> v) {
  if constexpr (std::is_same_v<S, Half> || std::is_same_v<S, BFloat16>) return S(v);
  else return v;
}

template <typename S>
ComputeType<S> to_compute(S v) {
  return static_cast<ComputeType<S>>(v);
}

template <typename S>
S neg_inf() {
  return from_compute<S>(-std::numeric_limits<ComputeType<S>>::infinity());
}

// The output of a group with no kept element.
template <typename S>
S fully_masked_value(FullyMasked policy, bool log) {
  if (policy == FullyMasked::kNan) return from_compute<S>(std::numeric_limits<ComputeType<S>>::quiet_NaN());
  return log ? neg_inf<S>() : from_compute<S>(0);
}

// Calls fn(S{}) with S the storage type of a floating dtype.
template <typename Fn>
decltype(auto) visit_floating(Dtype dtype, Fn&& fn) {
  switch (dtype) {
    case kFloat32: return fn(float{});
    case kFloat64: return fn(double{});
    case kFloat16: return fn(Half{});
    case kBFloat16: return fn(BFloat16{});
    default: throw RuntimeError("masked_softmax: unexpected dtype " + dtype_name(dtype));
  }
}

// One row of x' (n elements, written contiguously to `out`): element j is kept when
// j < keep_end (the causal limit; n without causal) and the mask (null: none; stride ms, 0 for
// a broadcast row) holds True there. Returns whether any element was kept.
template <typename S, bool kScaled>
bool stage_row(const S* x, std::int64_t xs, const std::uint8_t* m, std::int64_t ms, std::int64_t keep_end,
               std::int64_t n, ComputeType<S> scale, S* out) {
  const S ninf = neg_inf<S>();
  auto value = [&](S v) -> S {
    if constexpr (kScaled) return from_compute<S>(to_compute(v) * scale);
    else return v;
  };
  bool any = false;
  if (m != nullptr && ms == 0 && m[0] == 0) keep_end = 0;  // a broadcast False masks the whole row
  if (m == nullptr || ms == 0) {
    if (xs == 1) {
      for (std::int64_t j = 0; j < keep_end; ++j) out[j] = value(x[j]);
    } else {
      for (std::int64_t j = 0; j < keep_end; ++j) out[j] = value(x[j * xs]);
    }
    any = keep_end > 0;
  } else if (xs == 1 && ms == 1) {
    // A branch-free select on the bits (the compiler vectorizes this; a ?: on floats it does not).
    using U = std::conditional_t<sizeof(S) == 8, std::uint64_t, std::conditional_t<sizeof(S) == 4, std::uint32_t, std::uint16_t>>;
    const U ninf_bits = std::bit_cast<U>(ninf);
    unsigned seen = 0;
    for (std::int64_t j = 0; j < keep_end; ++j) {
      const unsigned k = m[j];
      const U keep = static_cast<U>(U(0) - static_cast<U>(k != 0));
      const U v = std::bit_cast<U>(value(x[j]));
      out[j] = std::bit_cast<S>(static_cast<U>((v & keep) | (ninf_bits & static_cast<U>(~keep))));
      seen |= k;
    }
    any = seen != 0;
  } else {
    unsigned seen = 0;
    for (std::int64_t j = 0; j < keep_end; ++j) {
      const unsigned k = m[j * ms];
      out[j] = k != 0 ? value(x[j * xs]) : ninf;
      seen |= k;
    }
    any = seen != 0;
  }
  for (std::int64_t j = keep_end; j < n; ++j) out[j] = ninf;
  return any;
}

// If the kept elements of a row are exactly [0, len) - no mask, a padding mask, causal - returns
// len (0: nothing kept); otherwise -1. Arguments as stage_row's.
inline std::int64_t kept_prefix(const std::uint8_t* m, std::int64_t ms, std::int64_t keep_end) {
  if (m == nullptr) return keep_end;
  if (ms == 0) return m[0] != 0 ? keep_end : 0;
  std::int64_t len = 0;
  if (ms == 1) {
    const void* zero = std::memchr(m, 0, static_cast<std::size_t>(keep_end));
    len = zero ? static_cast<const std::uint8_t*>(zero) - m : keep_end;
    unsigned after = 0;  // any True after the first False (no early exit: this vectorizes)
    for (std::int64_t j = len; j < keep_end; ++j) after |= m[j];
    return after != 0 ? -1 : len;
  }
  while (len < keep_end && m[len * ms] != 0) ++len;
  for (std::int64_t j = len; j < keep_end; ++j) {
    if (m[j * ms] != 0) return -1;
  }
  return len;
}

}  // namespace smx::detail
