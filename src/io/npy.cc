#include "io/npy.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>

#include "io/npy_header.h"
#include "tensor/element_access.h"
#include "tensor/strided_loop.h"

namespace smx::io {

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMagicLen = 6;

struct ElementFormat {
  char kind;            // 'f' float, 'i' signed, 'u' unsigned, 'b' bool
  std::size_t size;     // bytes
  bool big_endian;
};

[[noreturn]] void fail(const std::string& source, const std::string& what) {
  throw DataError(source + ": " + what);
}

ElementFormat parse_descr(const std::string& descr, const std::string& source) {
  if (descr.size() < 2) fail(source, "unsupported dtype '" + descr + "'");
  std::size_t i = 0;
  bool big = std::endian::native == std::endian::big;
  if (descr[0] == '<' || descr[0] == '>' || descr[0] == '|' || descr[0] == '=') {
    if (descr[0] == '<') big = false;
    if (descr[0] == '>') big = true;
    ++i;
  }
  const char kind = descr[i];
  const std::string digits = descr.substr(i + 1);
  std::size_t size = 0;
  if (digits.empty() || digits.size() > 2 || digits.find_first_not_of("0123456789") != std::string::npos) {
    fail(source, "unsupported dtype '" + descr + "'");
  }
  size = static_cast<std::size_t>(std::stoi(digits));
  const bool ok = (kind == 'f' && (size == 2 || size == 4 || size == 8)) ||
                  ((kind == 'i' || kind == 'u') && (size == 1 || size == 2 || size == 4 || size == 8)) ||
                  (kind == 'b' && size == 1);
  if (!ok) {
    std::string why = "unsupported dtype '" + descr + "'";
    if (kind == 'c') why += " (complex numbers are not supported)";
    if (kind == 'O') why += " (object arrays are not supported)";
    if (kind == 'U' || kind == 'S' || kind == 'a') why += " (strings are not supported)";
    why += "; supported: float16/32/64, integers, bool";
    fail(source, why);
  }
  return {kind, size, big};
}

Dtype dtype_for(const ElementFormat& f) {
  if (f.kind == 'f') return f.size == 2 ? kFloat16 : f.size == 4 ? kFloat32 : kFloat64;
  if (f.kind == 'b') return kBool;
  return kInt64;
}

std::uint64_t load_uint(const unsigned char* p, std::size_t size, bool big_endian) {
  std::uint64_t v = 0;
  for (std::size_t k = 0; k < size; ++k) {
    const std::size_t byte = big_endian ? k : size - 1 - k;
    v = (v << 8) | p[byte];
  }
  return v;
}

// Decodes element `i` of the raw data into the tensor's storage at flat index `out`.
void decode(const unsigned char* raw, const ElementFormat& f, void* dst, Dtype dtype,
            std::int64_t out, const std::string& source) {
  const std::uint64_t bits = load_uint(raw, f.size, f.big_endian);
  switch (f.kind) {
    case 'f':
      if (f.size == 2) static_cast<std::uint16_t*>(dst)[out] = static_cast<std::uint16_t>(bits);
      else if (f.size == 4) static_cast<float*>(dst)[out] = std::bit_cast<float>(static_cast<std::uint32_t>(bits));
      else static_cast<double*>(dst)[out] = std::bit_cast<double>(bits);
      return;
    case 'b':
      if (bits > 1) fail(source, "bool element holds the byte " + std::to_string(bits) + ", not 0 or 1");
      detail::store_from_int64(dst, dtype, out, static_cast<std::int64_t>(bits));
      return;
    case 'i': {
      const unsigned shift = static_cast<unsigned>(64 - 8 * f.size);  // sign-extend
      const auto v = static_cast<std::int64_t>(bits << shift) >> shift;
      detail::store_from_int64(dst, dtype, out, v);
      return;
    }
    default:  // 'u'
      if (bits > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        fail(source, "uint64 element " + std::to_string(bits) + " does not fit in int64");
      }
      detail::store_from_int64(dst, dtype, out, static_cast<std::int64_t>(bits));
  }
}

void append_le(std::string& out, std::uint64_t v, std::size_t bytes) {
  for (std::size_t k = 0; k < bytes; ++k) out += static_cast<char>((v >> (8 * k)) & 0xff);
}

}  // namespace

Tensor parse_npy(std::string_view bytes, const std::string& source) {
  if (bytes.empty()) fail(source, "empty file (not a .npy file)");
  if (bytes.size() < kMagicLen || bytes.substr(0, kMagicLen) != std::string_view(kMagic, kMagicLen)) {
    fail(source, "not a .npy file (wrong magic string)");
  }
  if (bytes.size() < 8) fail(source, "truncated header (no version)");
  const int major = static_cast<unsigned char>(bytes[6]);
  if (major < 1 || major > 3) {
    fail(source, "unsupported .npy format version " + std::to_string(major) + "." +
                     std::to_string(static_cast<unsigned char>(bytes[7])));
  }
  const std::size_t len_bytes = major == 1 ? 2 : 4;
  if (bytes.size() < 8 + len_bytes) fail(source, "truncated header (no header length)");
  const auto header_len = static_cast<std::size_t>(
      load_uint(reinterpret_cast<const unsigned char*>(bytes.data()) + 8, len_bytes, false));
  const std::size_t data_start = 8 + len_bytes + header_len;
  if (header_len > bytes.size() || data_start > bytes.size()) {
    fail(source, "truncated header (header says " + std::to_string(header_len) +
                     " bytes, the file has " + std::to_string(bytes.size() - 8 - len_bytes) + ")");
  }
  NpyHeader header;
  try {
    header = parse_npy_header(bytes.substr(8 + len_bytes, header_len));
  } catch (const std::invalid_argument& e) {
    fail(source, std::string("malformed header: ") + e.what());
  }
  const ElementFormat format = parse_descr(header.descr, source);

  // Element count, checked for overflow before anything is allocated. Zero-size dims are
  // counted as 1 here too, since strides are computed that way and must fit in int64.
  std::uint64_t count = 1;
  std::uint64_t stride_span = 1;
  constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  for (std::int64_t d : header.shape) {
    const auto ud = static_cast<std::uint64_t>(std::max<std::int64_t>(d, 1));
    if (stride_span > kMax / ud / format.size) {
      fail(source, "shape overflows: its element count does not fit in 64 bits");
    }
    stride_span *= ud;
    count *= static_cast<std::uint64_t>(d);
  }
  const std::uint64_t need = count * format.size;
  const std::uint64_t have = bytes.size() - data_start;
  if (need > have) {
    fail(source, "truncated data: the shape needs " + std::to_string(need) + " bytes, the file has " +
                     std::to_string(have));
  }
  if (need < have) {
    fail(source, std::to_string(have - need) + " unexpected bytes after the data");
  }

  const Dtype dtype = dtype_for(format);
  Tensor out = empty(Size(header.shape), dtype);
  // Fortran order: element (i0, i1, ...) is stored at sum(i_k * prod(shape[:k])).
  std::vector<std::int64_t> file_strides = detail::contiguous_strides(header.shape);
  if (header.fortran_order) {
    std::int64_t s = 1;
    for (std::size_t k = 0; k < header.shape.size(); ++k) {
      file_strides[k] = s;
      s *= std::max<std::int64_t>(header.shape[k], 1);
    }
  }
  const auto* raw = reinterpret_cast<const unsigned char*>(bytes.data()) + data_start;
  std::int64_t i = 0;
  void* dst = out.data_ptr();
  detail::for_each_offset(header.shape, file_strides, [&](std::int64_t off) {
    decode(raw + static_cast<std::size_t>(off) * format.size, format, dst, dtype, i++, source);
  });
  return out;
}

Tensor load_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, std::string("cannot open: ") + std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) fail(path, "read error");
  return parse_npy(ss.str(), path);
}

std::string encode_npy(const Tensor& t) {
  const Dtype stored = t.dtype() == kBFloat16 ? kFloat32 : t.dtype();
  const char* descr = stored == kFloat32 ? "<f4" : stored == kFloat64 ? "<f8" : stored == kFloat16 ? "<f2"
                      : stored == kInt64 ? "<i8" : "|b1";
  std::string shape = "(";
  for (std::size_t k = 0; k < t.sizes().size(); ++k) {
    shape += std::to_string(t.sizes()[k]) + (t.sizes().size() == 1 ? "," : k + 1 < t.sizes().size() ? ", " : "");
  }
  shape += ")";
  std::string header = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  // Pad with spaces so the data starts at a multiple of 64 bytes; the header ends in '\n'.
  const std::size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  std::string out(kMagic, kMagicLen);
  out += '\x01';
  out += '\x00';
  append_le(out, header.size(), 2);
  out += header;
  const Tensor c = t.to(stored).contiguous();
  const auto nbytes = static_cast<std::size_t>(c.numel()) * element_size(stored);
  const std::size_t at = out.size();
  out.resize(at + nbytes);
  if (nbytes) std::memcpy(out.data() + at, c.data_ptr(), nbytes);  // this library targets little-endian hosts
  static_assert(std::endian::native == std::endian::little, "encode_npy assumes a little-endian host");
  return out;
}

void save_npy_atomic(const std::string& path, const Tensor& t) {
  const std::string bytes = encode_npy(t);
  const auto slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
  std::string tmpl = dir + "/.smx-tmp-XXXXXX";
  const int fd = ::mkstemp(tmpl.data());
  if (fd < 0) fail(path, std::string("cannot create a temporary file in ") + dir + ": " + std::strerror(errno));
  std::size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n <= 0) {
      const int err = errno;
      ::close(fd);
      ::unlink(tmpl.c_str());
      fail(path, std::string("write failed: ") + std::strerror(err));
    }
    written += static_cast<std::size_t>(n);
  }
  const mode_t mask = ::umask(0);  // mkstemp makes 0600; give the file the usual 0666 & ~umask
  ::umask(mask);
  ::fchmod(fd, 0666 & ~mask);
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmpl.c_str());
    fail(path, std::string("write failed: ") + std::strerror(err));
  }
  if (std::rename(tmpl.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmpl.c_str());
    fail(path, std::string("cannot rename into place: ") + std::strerror(err));
  }
}

}  // namespace smx::io
