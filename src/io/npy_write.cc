// Writing .npy files: the preamble, then the tensor's bytes straight from memory.
#include <bit>
#include <cstring>

#include "io/atomic_file.h"
#include "io/npy.h"

namespace smx::io {

static_assert(std::endian::native == std::endian::little, "the .npy writer assumes a little-endian host");

Dtype npy_stored_dtype(Dtype dtype) { return dtype == kBFloat16 ? kFloat32 : dtype; }

std::string npy_preamble(const std::vector<std::int64_t>& shape, Dtype stored) {
  const char* descr = stored == kFloat32 ? "<f4" : stored == kFloat64 ? "<f8" : stored == kFloat16 ? "<f2"
                      : stored == kInt64 ? "<i8" : "|b1";
  std::string dims = "(";
  for (std::size_t k = 0; k < shape.size(); ++k) {
    dims += std::to_string(shape[k]) + (shape.size() == 1 ? "," : k + 1 < shape.size() ? ", " : "");
  }
  dims += ")";
  std::string header = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': " + dims + ", }";
  // Version 1.0 has a 2-byte header length; longer headers (thousands of dims) need 2.0's 4.
  const bool v1 = header.size() + 1 + 63 <= 0xffff;
  const std::size_t prefix = v1 ? 10 : 12;
  // Pad with spaces so the data starts at a multiple of 64 bytes; the header ends in '\n'.
  header.append((64 - (prefix + header.size() + 1) % 64) % 64, ' ');
  header += '\n';
  std::string out("\x93NUMPY", 6);
  out += static_cast<char>(v1 ? 1 : 2);
  out += '\0';
  for (std::size_t k = 0; k < prefix - 8; ++k) out += static_cast<char>((header.size() >> (8 * k)) & 0xff);
  return out + header;
}

std::string encode_npy(const Tensor& t) {
  const Dtype stored = npy_stored_dtype(t.dtype());
  std::string out = npy_preamble(t.sizes().vec(), stored);
  const Tensor c = t.to(stored).contiguous();
  const auto nbytes = static_cast<std::size_t>(c.numel()) * element_size(stored);
  const std::size_t at = out.size();
  out.resize(at + nbytes);
  if (nbytes) std::memcpy(out.data() + at, c.data_ptr(), nbytes);
  return out;
}

void save_npy_atomic(const std::string& path, const Tensor& t) {
  const Dtype stored = npy_stored_dtype(t.dtype());
  AtomicFile file(path);
  const std::string preamble = npy_preamble(t.sizes().vec(), stored);
  file.write_at(preamble.data(), preamble.size(), 0);
  // Contiguous tensors of the stored dtype are written from their own memory; anything else is
  // made so first (one copy).
  const Tensor c = t.dtype() == stored && t.is_contiguous() ? t : t.to(stored).contiguous();
  file.write_at(c.data_ptr(), static_cast<std::size_t>(c.numel()) * element_size(stored), preamble.size());
  file.commit();
}

}  // namespace smx::io
