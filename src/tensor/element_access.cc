#include "tensor/element_access.h"

#include <cmath>
#include <limits>

#include "smx/half.h"

namespace smx::detail {

double load_as_double(const void* base, Dtype dtype, std::int64_t i) {
  switch (dtype) {
    case kFloat32: return static_cast<const float*>(base)[i];
    case kFloat64: return static_cast<const double*>(base)[i];
    case kFloat16: return half_bits_to_float(static_cast<const std::uint16_t*>(base)[i]);
    case kBFloat16: return bfloat16_bits_to_float(static_cast<const std::uint16_t*>(base)[i]);
    case kInt64: return static_cast<double>(static_cast<const std::int64_t*>(base)[i]);
    case kBool: return static_cast<const bool*>(base)[i] ? 1.0 : 0.0;
  }
  return 0.0;
}

std::int64_t load_as_int64(const void* base, Dtype dtype, std::int64_t i) {
  if (dtype == kInt64) return static_cast<const std::int64_t*>(base)[i];
  if (dtype == kBool) return static_cast<const bool*>(base)[i] ? 1 : 0;
  const double v = load_as_double(base, dtype, i);
  // Out-of-range casts are undefined in C++; saturate instead (PyTorch's result is unspecified).
  if (std::isnan(v)) return 0;
  if (v >= 9.2233720368547758e18) return std::numeric_limits<std::int64_t>::max();
  if (v <= -9.2233720368547758e18) return std::numeric_limits<std::int64_t>::min();
  return static_cast<std::int64_t>(v);
}

void store_from_double(void* base, Dtype dtype, std::int64_t i, double v) {
  switch (dtype) {
    case kFloat32: static_cast<float*>(base)[i] = static_cast<float>(v); return;
    case kFloat64: static_cast<double*>(base)[i] = v; return;
    case kFloat16:
      // double -> float -> half can double-round; PyTorch casts the same way (through float).
      static_cast<std::uint16_t*>(base)[i] = float_to_half_bits(static_cast<float>(v));
      return;
    case kBFloat16:
      static_cast<std::uint16_t*>(base)[i] = float_to_bfloat16_bits(static_cast<float>(v));
      return;
    case kInt64: {
      double t = std::trunc(v);
      std::int64_t r = 0;
      if (std::isnan(t)) r = 0;
      else if (t >= 9.2233720368547758e18) r = std::numeric_limits<std::int64_t>::max();
      else if (t <= -9.2233720368547758e18) r = std::numeric_limits<std::int64_t>::min();
      else r = static_cast<std::int64_t>(t);
      static_cast<std::int64_t*>(base)[i] = r;
      return;
    }
    case kBool: static_cast<bool*>(base)[i] = v != 0.0; return;
  }
}

void store_from_int64(void* base, Dtype dtype, std::int64_t i, std::int64_t v) {
  if (dtype == kInt64) {
    static_cast<std::int64_t*>(base)[i] = v;
  } else if (dtype == kBool) {
    static_cast<bool*>(base)[i] = v != 0;
  } else {
    store_from_double(base, dtype, i, static_cast<double>(v));
  }
}

}  // namespace smx::detail
