// Runs a softmax (forward or backward) over a group of dims; see ops/dim_group.h for the plan.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/softmax_kernel_api.h"
#include "smx/tensor.h"

namespace smx::detail {

// y = op(x) over the group `dims` (wrapped, no repeats, at least one). x: CPU, floating,
// numel() > 0; y: contiguous, x's shape and dtype.
void execute_forward_dims(Op kind, const Tensor& x, const Tensor& y, const std::vector<std::int64_t>& dims);
// dx from grad and output over the group; dx contiguous, all three of one shape and dtype.
void execute_backward_dims(Op kind, const Tensor& grad, const Tensor& output, const Tensor& dx,
                           const std::vector<std::int64_t>& dims);

}  // namespace smx::detail
