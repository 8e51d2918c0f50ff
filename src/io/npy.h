// Reading and writing NumPy .npy files (format versions 1, 2 and 3).
//
// Reads: float32/64/16 ('f4', 'f8', 'f2'), bool ('b1'), signed and unsigned integers up to 8
// bytes (as int64), little- or big-endian, C or Fortran order. Everything is validated before
// any allocation proportional to the claimed shape: a header that claims 10^18 elements costs
// nothing. Writes: version 1.0, C order, little-endian; bfloat16 is written as float32 (NumPy
// has no bfloat16).
#pragma once

#include <string>
#include <string_view>

#include "smx/errors.h"
#include "smx/tensor.h"

namespace smx::io {

// Malformed or unsupported input data; the message names the source and the problem.
class DataError : public Error {
 public:
  using Error::Error;
};

// Parses .npy bytes; `source` names them in error messages (a path, or "<stdin>").
Tensor parse_npy(std::string_view bytes, const std::string& source);
// Reads and parses a file.
Tensor load_npy(const std::string& path);
// The .npy encoding of `t` (any strides).
std::string encode_npy(const Tensor& t);
// Writes `t` to `path` through a temporary file in the same directory, renamed into place only
// once complete: a failure leaves any existing file untouched and no partial file behind.
void save_npy_atomic(const std::string& path, const Tensor& t);

}  // namespace smx::io
