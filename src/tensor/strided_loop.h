// Visiting every element of a strided tensor in row-major (C) order.
#pragma once

#include <cstdint>
#include <vector>

namespace smx::detail {

// Calls fn(offset) for each element, where offset = sum(index[d] * strides[d]); row-major order.
// Does nothing when any size is 0; calls fn(0) once for a 0-d shape.
template <typename Fn>
void for_each_offset(const std::vector<std::int64_t>& sizes,
                     const std::vector<std::int64_t>& strides, Fn&& fn) {
  const std::size_t nd = sizes.size();
  for (auto s : sizes) {
    if (s == 0) return;
  }
  std::vector<std::int64_t> index(nd, 0);
  std::int64_t offset = 0;
  while (true) {
    fn(offset);
    std::size_t d = nd;
    while (true) {  // odometer increment, innermost dim first
      if (d == 0) return;
      --d;
      if (++index[d] < sizes[d]) {
        offset += strides[d];
        break;
      }
      offset -= strides[d] * (sizes[d] - 1);
      index[d] = 0;
    }
  }
}

}  // namespace smx::detail
