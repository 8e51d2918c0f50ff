// Reading and writing single elements of any dtype through double or int64 (slow paths:
// printing, casting, factories, test oracles).
#pragma once

#include <cstdint>

#include "smx/dtype.h"

namespace smx::detail {

double load_as_double(const void* base, Dtype dtype, std::int64_t index);
std::int64_t load_as_int64(const void* base, Dtype dtype, std::int64_t index);
// Rounds to the dtype (nearest even for floats; truncation toward zero for int64 like a C cast;
// nonzero for bool).
void store_from_double(void* base, Dtype dtype, std::int64_t index, double value);
void store_from_int64(void* base, Dtype dtype, std::int64_t index, std::int64_t value);

}  // namespace smx::detail
