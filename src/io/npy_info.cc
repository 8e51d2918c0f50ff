// Validating a .npy preamble: magic, version, header length, the header dict, the dtype, and
// the data size against the shape - all before anything proportional to the shape is allocated.
#include <algorithm>
#include <bit>
#include <limits>
#include <stdexcept>

#include "io/npy.h"
#include "io/npy_header.h"

namespace smx::io {

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMagicLen = 6;

[[noreturn]] void fail(const std::string& source, const std::string& what) {
  throw DataError(source + ": " + what);
}

std::uint64_t load_le(const char* p, std::size_t size) {
  std::uint64_t v = 0;
  for (std::size_t k = size; k-- > 0;) v = (v << 8) | static_cast<unsigned char>(p[k]);
  return v;
}

NpyElement parse_descr(const std::string& descr, const std::string& source) {
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
  if (digits.empty() || digits.size() > 2 || digits.find_first_not_of("0123456789") != std::string::npos) {
    fail(source, "unsupported dtype '" + descr + "'");
  }
  const auto size = static_cast<std::size_t>(std::stoi(digits));
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
  return {kind, size, size > 1 && big};
}

Dtype dtype_for(const NpyElement& f) {
  if (f.kind == 'f') return f.size == 2 ? kFloat16 : f.size == 4 ? kFloat32 : kFloat64;
  if (f.kind == 'b') return kBool;
  return kInt64;
}

}  // namespace

std::uint64_t npy_preamble_size(std::string_view bytes, std::uint64_t file_size, const std::string& source) {
  if (file_size == 0) fail(source, "empty file (not a .npy file)");
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
  const std::uint64_t header_len = load_le(bytes.data() + 8, len_bytes);
  const std::uint64_t data_start = 8 + len_bytes + header_len;
  if (data_start > file_size) {
    fail(source, "truncated header (header says " + std::to_string(header_len) + " bytes, the file has " +
                     std::to_string(file_size - 8 - len_bytes) + ")");
  }
  return data_start;
}

NpyInfo parse_npy_info(std::string_view head, std::uint64_t file_size, const std::string& source) {
  const std::uint64_t data_start = npy_preamble_size(head, file_size, source);
  if (head.size() < data_start) fail(source, "internal error: the header was not read whole");
  const std::size_t len_bytes = static_cast<unsigned char>(head[6]) == 1 ? 2 : 4;
  NpyHeader header;
  try {
    header = parse_npy_header(head.substr(8 + len_bytes, static_cast<std::size_t>(data_start) - 8 - len_bytes));
  } catch (const std::invalid_argument& e) {
    fail(source, std::string("malformed header: ") + e.what());
  }
  NpyInfo info;
  info.element = parse_descr(header.descr, source);
  info.dtype = dtype_for(info.element);
  info.fortran_order = header.fortran_order;
  info.data_offset = data_start;

  // Element count, checked for overflow before anything is allocated. Zero-size dims are
  // counted as 1 here too, since strides are computed that way and must fit in int64.
  std::uint64_t count = 1;
  std::uint64_t stride_span = 1;
  constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  for (std::int64_t d : header.shape) {
    const auto ud = static_cast<std::uint64_t>(std::max<std::int64_t>(d, 1));
    if (stride_span > kMax / ud / info.element.size) {
      fail(source, "shape overflows: its element count does not fit in 64 bits");
    }
    stride_span *= ud;
    count *= static_cast<std::uint64_t>(d);
  }
  const std::uint64_t need = count * info.element.size;
  const std::uint64_t have = file_size - data_start;
  if (need > have) {
    fail(source, "truncated data: the shape needs " + std::to_string(need) + " bytes, the file has " +
                     std::to_string(have));
  }
  if (need < have) fail(source, std::to_string(have - need) + " unexpected bytes after the data");
  info.count = count;
  info.shape = std::move(header.shape);
  return info;
}

}  // namespace smx::io
