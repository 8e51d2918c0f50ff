// Runs a planned softmax (forward or backward) over whole tensors by calling a kernel per slab.
#pragma once

#include <cstdint>

#include "kernels/softmax_kernel_api.h"
#include "smx/tensor.h"

namespace smx::detail {

// y = op(x) along `dim` (wrapped). x and y: same shape, same floating dtype, numel() > 0.
void execute_forward(Op kind, const Tensor& x, const Tensor& y, std::int64_t dim);
// dx from grad and output along `dim`. All three: same shape and floating dtype, numel() > 0.
void execute_backward(Op kind, const Tensor& grad, const Tensor& output,
                      const Tensor& dx, std::int64_t dim);

}  // namespace smx::detail
