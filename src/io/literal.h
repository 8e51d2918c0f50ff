// Parsing tensor literals typed at a shell: "[[1,2],[4,3],[5,5]]", "[0.5, -inf, nan]", "3".
//
// Numbers: decimal integers and floats (with exponents), nan, inf, -inf, True, False.
// Nesting gives the shape; a bare number is a 0-d tensor; "[]" is shape (0,).
// Errors (malformed, ragged, too deep) raise io::DataError naming the offset.
#pragma once

#include <string>
#include <string_view>

#include "io/npy.h"

namespace smx::io {

inline constexpr int kMaxLiteralDepth = 64;

Tensor parse_literal(std::string_view text, Dtype dtype, const std::string& source);

}  // namespace smx::io
