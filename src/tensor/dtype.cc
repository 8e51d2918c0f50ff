#include "smx/dtype.h"

#include <algorithm>
#include <cctype>

#include "smx/errors.h"

namespace smx {

std::size_t element_size(Dtype dtype) {
  switch (dtype) {
    case kFloat32: return 4;
    case kFloat64: return 8;
    case kFloat16:
    case kBFloat16: return 2;
    case kInt64: return 8;
    case kBool: return 1;
  }
  return 0;
}

bool is_floating(Dtype dtype) {
  return dtype == kFloat32 || dtype == kFloat64 || dtype == kFloat16 || dtype == kBFloat16;
}

std::string dtype_name(Dtype dtype) {
  switch (dtype) {
    case kFloat32: return "torch.float32";
    case kFloat64: return "torch.float64";
    case kFloat16: return "torch.float16";
    case kBFloat16: return "torch.bfloat16";
    case kInt64: return "torch.int64";
    case kBool: return "torch.bool";
  }
  return "?";
}

std::string scalar_type_name(Dtype dtype) {
  switch (dtype) {
    case kFloat32: return "Float";
    case kFloat64: return "Double";
    case kFloat16: return "Half";
    case kBFloat16: return "BFloat16";
    case kInt64: return "Long";
    case kBool: return "Bool";
  }
  return "?";
}

Dtype parse_dtype(const std::string& name) {
  std::string s = name;
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  if (s.rfind("torch.", 0) == 0) s = s.substr(6);
  if (s == "float32" || s == "float" || s == "f4" || s == "<f4") return kFloat32;
  if (s == "float64" || s == "double" || s == "f8" || s == "<f8") return kFloat64;
  if (s == "float16" || s == "half" || s == "f2" || s == "<f2") return kFloat16;
  if (s == "bfloat16") return kBFloat16;
  if (s == "int64" || s == "long") return kInt64;
  if (s == "bool") return kBool;
  throw ValueError("unknown dtype '" + name +
                   "' (expected float32, float64, float16, bfloat16, int64 or bool)");
}

}  // namespace smx
