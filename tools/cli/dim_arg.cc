#include "dim_arg.h"

#include <cerrno>
#include <cstdlib>
#include <stdexcept>

namespace smx::cli {

namespace {

std::string trim(const std::string& s) {
  const auto a = s.find_first_not_of(" \t");
  if (a == std::string::npos) return "";
  return s.substr(a, s.find_last_not_of(" \t") - a + 1);
}

}  // namespace

std::vector<std::int64_t> parse_dim_list(const std::string& text) {
  std::vector<std::int64_t> dims;
  if (trim(text).empty()) return dims;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = text.find(',', start);
    const std::string piece = trim(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    char* end = nullptr;
    errno = 0;
    const long long v = std::strtoll(piece.c_str(), &end, 10);
    if (piece.empty() || *end != '\0' || errno == ERANGE) {
      throw std::invalid_argument("expected a dim or a comma-separated list of dims such as 1,2, got '" + text + "'");
    }
    dims.push_back(v);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return dims;
}

CLI::Validator dim_list_validator() {
  return CLI::Validator(
      [](const std::string& text) {
        try {
          (void)parse_dim_list(text);
          return std::string();
        } catch (const std::invalid_argument& e) {
          return std::string(e.what());
        }
      },
      "D|D1,D2,...");
}

}  // namespace smx::cli
