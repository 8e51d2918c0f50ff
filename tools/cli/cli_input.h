// Turning the command's INPUT argument into a tensor: a .npy path, a literal, or "-" for stdin
// (which may carry .npy bytes or a literal).
#pragma once

#include <optional>
#include <string>

#include "smx/tensor.h"

namespace smx::cli {

enum class InputUse { kCompute, kPrint };

// `dtype` is the literal's element type (float32 when not given); .npy files keep theirs.
// kPrint may return a read-only view of a mapped file. Throws io::DataError for unreadable or
// malformed input.
Tensor read_input(const std::string& input, std::optional<Dtype> dtype, InputUse use = InputUse::kCompute);

}  // namespace smx::cli
