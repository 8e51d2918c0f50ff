// The .npy header: a Python dict literal such as
//   {'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace smx::io {

struct NpyHeader {
  std::string descr;
  bool fortran_order = false;
  std::vector<std::int64_t> shape;
};

// Parses the dict; throws std::invalid_argument describing the first problem.
NpyHeader parse_npy_header(std::string_view text);

}  // namespace smx::io
