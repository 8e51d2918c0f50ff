// How masked_softmax sees its mask: a bool mask broadcast to x's shape through stride-0 dims
// (never expanded in memory), AND-ed with the optional causal rule, and a walker that visits
// every element of a shape with its offsets in a few strided operands.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "smx/tensor.h"

namespace smx::detail {

// The effective mask of one op call. `base` is null when there is no mask tensor; `strides`
// has one entry per dim of the shape it was broadcast to (0 where the mask broadcasts).
struct MaskLayout {
  const std::uint8_t* base = nullptr;
  std::vector<std::int64_t> strides;
  bool causal = false;  // also keep only j <= i over the last two dims (i: dim -2, j: dim -1)
};

// Checks `mask` (bool, broadcastable to `shape`) and returns its layout; `op` names the caller
// in messages. A null or undefined mask gives base == nullptr.
MaskLayout broadcast_mask(const std::optional<Tensor>& mask, const Size& shape, const char* op);

// Calls fn(index, offsets) for every element of `shape` in row-major order, where offsets[o]
// is operand o's element offset (strides[o] in elements, one per dim). Single-threaded: the
// generic (slow) paths only.
template <std::size_t N, typename Fn>
void for_each_element(const Size& shape, const std::array<const std::vector<std::int64_t>*, N>& strides, Fn&& fn) {
  const std::size_t nd = shape.size();
  const std::int64_t total = shape.numel();
  std::vector<std::int64_t> index(nd, 0);
  std::array<std::int64_t, N> off{};
  for (std::int64_t e = 0; e < total; ++e) {
    fn(index, off);
    for (std::size_t d = nd; d-- > 0;) {
      if (++index[d] < shape[d]) {
        for (std::size_t o = 0; o < N; ++o) off[o] += (*strides[o])[d];
        break;
      }
      for (std::size_t o = 0; o < N; ++o) off[o] -= (*strides[o])[d] * (shape[d] - 1);
      index[d] = 0;
    }
  }
}

// Whether the element at `index` (with the mask at element offset `mask_offset`) is kept.
inline bool element_kept(const MaskLayout& m, const std::vector<std::int64_t>& index, std::int64_t mask_offset) {
  if (m.causal) {
    const std::size_t nd = index.size();
    if (index[nd - 1] > index[nd - 2]) return false;
  }
  return m.base == nullptr || m.base[mask_offset] != 0;
}

}  // namespace smx::detail
