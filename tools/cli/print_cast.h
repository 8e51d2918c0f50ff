// `smx show --dtype`: the cast of a big array that printing needs, without casting all of it.
#pragma once

#include "smx/tensor.h"

namespace smx::cli {

// x.to(dtype) as far as printing can tell: for arrays PyTorch summarises (over 1000 elements)
// only the elements printed - the first and last 3 indices of every dim longer than 6 - are
// cast; the rest of the result is unread zero pages. Smaller arrays are cast whole.
Tensor cast_for_printing(const Tensor& x, Dtype dtype);

}  // namespace smx::cli
