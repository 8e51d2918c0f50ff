// PyTorch's maybe_wrap_dim: negative dims count from the end; a 0-d tensor accepts -1 and 0.
#pragma once

#include <cstdint>

namespace smx::detail {

// Throws smx::IndexError("Dimension out of range (expected to be in range of [lo, hi], but got d)").
std::int64_t wrap_dim(std::int64_t dim, std::int64_t ndim);

}  // namespace smx::detail
