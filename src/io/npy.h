// Reading and writing NumPy .npy files (format versions 1, 2 and 3).
//
// Reads: float32/64/16 ('f4', 'f8', 'f2'), bool ('b1'), signed and unsigned integers up to 8
// bytes (as int64), little- or big-endian, C or Fortran order. Everything is validated before
// any allocation proportional to the claimed shape: a header that claims 10^18 elements costs
// nothing. Data is decoded in bulk: read() straight into the tensor when the file's bytes are
// the tensor's bytes, a byte-swapping or widening loop otherwise; Fortran order comes back as a
// strided view (no reordering copy). Writes: C order, little-endian (version 1.0, 2.0 for
// headers too long for it); bfloat16 is written as float32 (NumPy has no bfloat16).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "smx/errors.h"
#include "smx/tensor.h"

namespace smx::io {

// Malformed or unsupported input data; the message names the source and the problem.
class DataError : public Error {
 public:
  using Error::Error;
};

// One element as the file stores it.
struct NpyElement {
  char kind;          // 'f' float, 'i' signed, 'u' unsigned, 'b' bool
  std::size_t size;   // bytes
  bool big_endian;
};

// A validated .npy preamble.
struct NpyInfo {
  std::vector<std::int64_t> shape;
  NpyElement element{};
  Dtype dtype = kFloat32;      // what the elements decode to (integers widen to int64)
  bool fortran_order = false;
  std::uint64_t count = 0;        // elements
  std::uint64_t data_offset = 0;  // bytes before the first element
};

// How many leading bytes parse_npy_info needs: call with the file's first kNpyFixedPrefix
// bytes (or all of them, if fewer). Throws DataError for a bad magic string, version or length.
inline constexpr std::size_t kNpyFixedPrefix = 12;
std::uint64_t npy_preamble_size(std::string_view first_bytes, std::uint64_t file_size, const std::string& source);
// Validates the preamble at the start of `head` (at least npy_preamble_size() bytes) for a file
// of `file_size` bytes: the dtype, the shape, and that the data is exactly what the shape needs.
NpyInfo parse_npy_info(std::string_view head, std::uint64_t file_size, const std::string& source);

// Parses .npy bytes; `source` names them in error messages (a path, or "<stdin>").
Tensor parse_npy(std::string_view bytes, const std::string& source);
// Reads and parses a file (bulk reads straight into the tensor).
Tensor load_npy(const std::string& path);
// For printing: a read-only mapping of the file when its bytes can be used as they are
// (little-endian floats or int64, C or Fortran order), so only the elements printed are ever
// read; load_npy otherwise.
Tensor map_npy(const std::string& path);

// The dtype a tensor of `dtype` is written as (bfloat16 -> float32).
Dtype npy_stored_dtype(Dtype dtype);
// The preamble of a C-order little-endian file: magic, version, header padded with spaces so the
// data starts at a multiple of 64 bytes.
std::string npy_preamble(const std::vector<std::int64_t>& shape, Dtype stored);
// The .npy encoding of `t` (any strides).
std::string encode_npy(const Tensor& t);
// Writes `t` to `path` through a temporary file in the same directory (header, then the tensor's
// bytes straight from memory when contiguous), fsynced, renamed into place only once complete,
// then the directory fsynced: a failure or a crash leaves any existing file untouched and no
// partial file under `path`.
void save_npy_atomic(const std::string& path, const Tensor& t);

}  // namespace smx::io
