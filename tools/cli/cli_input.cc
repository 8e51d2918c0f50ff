#include "cli_input.h"

#include <filesystem>
#include <iostream>
#include <iterator>

#include "io/literal.h"
#include "io/npy.h"

namespace smx::cli {

namespace {

bool looks_like_npy(const std::string& bytes) { return bytes.rfind("\x93NUMPY", 0) == 0; }

bool looks_like_literal(const std::string& s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return false;
  const char c = s[first];
  return c == '[' || c == '-' || c == '+' || c == '.' || (c >= '0' && c <= '9') ||
         s.compare(first, 3, "nan") == 0 || s.compare(first, 3, "inf") == 0 ||
         s.compare(first, 4, "True") == 0 || s.compare(first, 5, "False") == 0;
}

Tensor from_bytes(const std::string& bytes, const std::string& source, std::optional<Dtype> dtype) {
  if (looks_like_npy(bytes)) return io::parse_npy(bytes, source);
  if (bytes.empty()) throw io::DataError(source + ": empty input (expected .npy bytes or a literal)");
  return io::parse_literal(bytes, dtype.value_or(kFloat32), source);
}

}  // namespace

Tensor read_input(const std::string& input, std::optional<Dtype> dtype, InputUse use) {
  if (input == "-") {
    std::string bytes((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    return from_bytes(bytes, "<stdin>", dtype);
  }
  std::error_code ec;
  if (std::filesystem::is_regular_file(input, ec)) {
    // Files are .npy; their errors say what is wrong. Printing reads only the summarised
    // corners of a big array, so it maps the file rather than reading all of it.
    return use == InputUse::kPrint ? io::map_npy(input) : io::load_npy(input);
  }
  if (looks_like_literal(input)) return io::parse_literal(input, dtype.value_or(kFloat32), "<literal>");
  if (std::filesystem::exists(input, ec)) throw io::DataError(input + ": not a regular file");
  throw io::DataError(input + ": no such file (and not a tensor literal such as '[[1,2],[3,4]]')");
}

}  // namespace smx::cli
