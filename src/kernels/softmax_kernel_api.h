// The contract between the operator layer and the kernels (XNNPACK's split): kernels see only
// plain pointers, counts and strides; the operator layer validates, plans and splits work.
//
// A "slab" is `lanes` independent rows of `n` elements each. Element i of lane l of operand o
// lives at o.data + i * o.n_stride + l * o.lane_stride (in elements of the kernel's dtype).
// Last-dim softmax is lanes == 1, n_stride == 1; softmax over an earlier dim has lanes == the
// product of the later dims, so lanes sit side by side in memory (lane_stride == 1).
#pragma once

#include <cstdint>

#include "smx/op.h"

namespace smx::detail {

struct SlabOperand {
  void* data;
  std::int64_t n_stride;
  std::int64_t lane_stride;
};

struct ForwardSlab {
  SlabOperand x;
  SlabOperand y;  // may alias x exactly (in-place)
  std::int64_t n;
  std::int64_t lanes;
};

struct BackwardSlab {
  SlabOperand grad;    // dL/dy
  SlabOperand output;  // y
  SlabOperand dx;      // dL/dx; may alias grad exactly
  std::int64_t n;
  std::int64_t lanes;
};

}  // namespace smx::detail
