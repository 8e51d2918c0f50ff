// libFuzzer target: the literal parser must either return a tensor or throw io::DataError.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "io/literal.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (smx::Dtype dtype : {smx::kFloat32, smx::kInt64}) {
    try {
      const smx::Tensor t = smx::io::parse_literal(text, dtype, "fuzz");
      if (t.dtype() != dtype) __builtin_trap();
    } catch (const smx::io::DataError&) {
    }
  }
  return 0;
}
