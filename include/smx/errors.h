// Exceptions named after the Python exceptions PyTorch raises, carrying PyTorch's messages.
#pragma once

#include <stdexcept>
#include <string>

namespace smx {

// Base of every smx error, so callers can catch them all at once.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// PyTorch raises IndexError for a dim out of range.
class IndexError : public Error {
 public:
  using Error::Error;
};

// PyTorch's RuntimeError: unsupported dtype, shape mismatch, bad view, ...
class RuntimeError : public Error {
 public:
  using Error::Error;
};

// PyTorch's ValueError: e.g. Softmax2d on input that is not 3-D or 4-D.
class ValueError : public Error {
 public:
  using Error::Error;
};

}  // namespace smx
