// The scalar reference kernels: the test oracle and the fallback, kept forever.
//
// Dtypes: float32, float64, float16, bfloat16 (loaded to double, stored with one rounding).
// Passes over memory: forward 3 reads + 1 write of each row; backward 2 reads + 1 write.
// Error: the math is done in double, so float32/16-bit results are correctly rounded up to
// the double-precision error of exp/log (a few 1e-16 relative); float64 results carry a
// relative error of about n * 1e-16 from the sum.
// Special values follow PyTorch: a row holding NaN or +inf, or only -inf, gives NaN.
#pragma once

#include "kernels/softmax_kernel_api.h"
#include "smx/dtype.h"

namespace smx::detail {

void reference_forward(Dtype dtype, Op kind, const ForwardSlab& slab);
void reference_backward(Dtype dtype, Op kind, const BackwardSlab& slab);

}  // namespace smx::detail
