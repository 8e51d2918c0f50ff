// PyTorch's _get_softmax_dim: the dim used when none is given, and its deprecation warning.
#pragma once

#include <cstdint>
#include <string>

namespace smx::detail {

// The warning text PyTorch gives for op `name` ("softmax", "log_softmax", "softmin").
std::string implicit_dim_warning(const std::string& name);
// implicit_softmax_dim(ndim), printing the warning on stderr the first time each op asks.
std::int64_t implicit_dim_with_warning(const std::string& name, std::int64_t ndim);

}  // namespace smx::detail
