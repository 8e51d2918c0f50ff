#include "tensor/dim_wrap.h"

#include <string>

#include "smx/errors.h"

namespace smx::detail {

std::int64_t wrap_dim(std::int64_t dim, std::int64_t ndim) {
  const std::int64_t n = ndim <= 0 ? 1 : ndim;  // scalars behave as 1-D for wrapping
  const std::int64_t lo = -n;
  const std::int64_t hi = n - 1;
  if (dim < lo || dim > hi) {
    throw IndexError("Dimension out of range (expected to be in range of [" + std::to_string(lo) +
                     ", " + std::to_string(hi) + "], but got " + std::to_string(dim) + ")");
  }
  return dim < 0 ? dim + n : dim;
}

}  // namespace smx::detail
