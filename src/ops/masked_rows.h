// masked_softmax's fast path over the last dim: per block of rows, x' = (kept ? scale * x : -inf)
// is staged in a small cache-resident buffer (one streaming read of x and the mask), the
// existing row kernel runs from there into y, and rows that kept nothing get the fully-masked
// value. Memory traffic is then plain softmax's: one read of x, one write of y.
#pragma once

#include <optional>

#include "kernels/softmax_kernel_api.h"
#include "ops/masked_layout.h"
#include "smx/masked_softmax.h"
#include "smx/tensor.h"

namespace smx::detail {

// y (contiguous, x's shape and dtype) = the masked op of x over its last dim. Returns false,
// doing nothing, when the path does not apply (a 0-d x, rows longer than the fused kernel
// takes, or the scalar reference kernels selected); the caller then takes the generic path.
bool masked_rows_forward(Op kind, const Tensor& x, const MaskLayout& mask, std::optional<double> scale,
                         FullyMasked policy, const Tensor& y);

}  // namespace smx::detail
