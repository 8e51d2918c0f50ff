// libFuzzer target: the .npy parser must either return a tensor or throw io::DataError, and
// never crash, leak, overflow or allocate beyond what the input bytes justify.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "io/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const smx::Tensor t = smx::io::parse_npy(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz");
    // Re-encoding a parsed tensor must round-trip.
    if (t.dtype() != smx::kBFloat16) {
      const smx::Tensor back = smx::io::parse_npy(smx::io::encode_npy(t), "re-encoded");
      if (!(back.sizes() == t.sizes()) || back.dtype() != t.dtype()) __builtin_trap();
    }
  } catch (const smx::io::DataError&) {
  }
  return 0;
}
