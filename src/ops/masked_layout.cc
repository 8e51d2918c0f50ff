#include "ops/masked_layout.h"

#include <string>

#include "smx/errors.h"

namespace smx::detail {

MaskLayout broadcast_mask(const std::optional<Tensor>& mask, const Size& shape, const char* op) {
  MaskLayout layout;
  layout.strides.assign(shape.size(), 0);
  if (!mask || !mask->defined()) return layout;
  const Tensor& m = *mask;
  if (m.dtype() != kBool) {
    throw RuntimeError(std::string(op) + ": expected a bool mask (True = the element takes part), got mask with dtype " +
                       dtype_name(m.dtype()));
  }
  const auto nd = static_cast<std::int64_t>(shape.size());
  if (m.dim() > nd) {
    throw RuntimeError(std::string(op) + ": the mask's shape " + m.sizes().str() + " has more dims than the input's " +
                       "shape " + Size(shape.vec()).str() + "; a mask must broadcast to the input's shape");
  }
  // NumPy's rule, aligned from the right: equal sizes, or a mask size of 1 (stride 0).
  for (std::int64_t d = 0; d < m.dim(); ++d) {
    const std::int64_t xd = nd - m.dim() + d;
    const std::int64_t ms = m.size(d);
    const std::int64_t xs = shape[static_cast<std::size_t>(xd)];
    if (ms == xs) {
      layout.strides[static_cast<std::size_t>(xd)] = ms == 1 ? 0 : m.stride(d);
    } else if (ms == 1) {
      layout.strides[static_cast<std::size_t>(xd)] = 0;
    } else if (xs != 1) {  // PyTorch's words (a = the input, b = the mask; dim counted in the input)
      throw RuntimeError("The size of tensor a (" + std::to_string(xs) + ") must match the size of tensor b (" +
                         std::to_string(ms) + ") at non-singleton dimension " + std::to_string(xd));
    } else {
      throw RuntimeError(std::string(op) + ": the mask's shape " + m.sizes().str() +
                         " does not broadcast to the input's shape " + Size(shape.vec()).str() +
                         " (the mask may not grow the input's size-1 dim " + std::to_string(xd) + ")");
    }
  }
  layout.base = static_cast<const std::uint8_t*>(m.data_ptr());
  return layout;
}

}  // namespace smx::detail
