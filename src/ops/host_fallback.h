// The ops without a CUDA kernel (dim lists, the masked forms) run on host copies of CUDA
// operands and return their result on the input's device: these helpers are that round trip,
// in one place.
#pragma once

#include <optional>

#include "smx/tensor.h"

namespace smx::detail {

inline bool on_device(const Tensor& t) { return t.defined() && t.is_cuda(); }
inline bool on_device(const Tensor& t, const std::optional<Tensor>& other) {
  return on_device(t) || (other && on_device(*other));
}
inline Tensor to_host(const Tensor& t) { return t.to(Device(kCPU)); }
inline std::optional<Tensor> to_host(const std::optional<Tensor>& t) {
  if (t && t->defined()) return to_host(*t);
  return t;
}

}  // namespace smx::detail
