// Element types: four floating types that softmax computes on, and two storage-only types.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace smx {

enum class Dtype : std::uint8_t { kFloat32, kFloat64, kFloat16, kBFloat16, kInt64, kBool };

inline constexpr Dtype kFloat32 = Dtype::kFloat32;
inline constexpr Dtype kFloat64 = Dtype::kFloat64;
inline constexpr Dtype kFloat16 = Dtype::kFloat16;
inline constexpr Dtype kBFloat16 = Dtype::kBFloat16;
inline constexpr Dtype kInt64 = Dtype::kInt64;
inline constexpr Dtype kBool = Dtype::kBool;

// Bytes per element.
std::size_t element_size(Dtype dtype);
// True for the four floating types.
bool is_floating(Dtype dtype);
// PyTorch's Python name: "torch.float32", "torch.bfloat16", ...
std::string dtype_name(Dtype dtype);
// PyTorch's C++ scalar type name as it appears in its kernel errors: "Float", "Long", ...
std::string scalar_type_name(Dtype dtype);
// Parses "float32", "torch.float32", "float", "double", "half", "bfloat16", "int64", "long", "bool".
// Throws smx::ValueError for anything else.
Dtype parse_dtype(const std::string& name);

}  // namespace smx
