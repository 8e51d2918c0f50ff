#include "io/npy_header.h"

#include <cctype>
#include <limits>
#include <stdexcept>

namespace smx::io {

namespace {

// A recursive-descent reader for the small subset of Python literals .npy headers use.
class Reader {
 public:
  explicit Reader(std::string_view s) : s_(s) {}

  void skip_space() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  bool eat(char c) {
    skip_space();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  void expect(char c, const char* what) {
    if (!eat(c)) fail(std::string("expected ") + what);
  }
  [[noreturn]] void fail(const std::string& what) const {
    throw std::invalid_argument(what + " at header offset " + std::to_string(pos_));
  }
  bool at_end() {
    skip_space();
    return pos_ == s_.size();
  }
  char peek() {
    skip_space();
    return pos_ < s_.size() ? s_[pos_] : '\0';
  }

  std::string string_literal() {
    skip_space();
    if (pos_ >= s_.size() || (s_[pos_] != '\'' && s_[pos_] != '"')) fail("expected a string");
    const char quote = s_[pos_++];
    std::string out;
    while (pos_ < s_.size() && s_[pos_] != quote) {
      if (s_[pos_] == '\\') fail("escape sequences are not supported in the header");
      out += s_[pos_++];
    }
    if (pos_ >= s_.size()) fail("unterminated string");
    ++pos_;
    return out;
  }

  bool boolean() {
    skip_space();
    if (s_.substr(pos_, 4) == "True") {
      pos_ += 4;
      return true;
    }
    if (s_.substr(pos_, 5) == "False") {
      pos_ += 5;
      return false;
    }
    fail("expected True or False");
  }

  std::int64_t integer() {
    skip_space();
    bool negative = false;
    if (pos_ < s_.size() && (s_[pos_] == '-' || s_[pos_] == '+')) negative = s_[pos_++] == '-';
    if (pos_ >= s_.size() || !std::isdigit(static_cast<unsigned char>(s_[pos_]))) {
      fail("expected an integer in the shape");
    }
    std::int64_t v = 0;
    while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) {
      const int digit = s_[pos_++] - '0';
      if (v > (std::numeric_limits<std::int64_t>::max() - digit) / 10) fail("shape dimension too large");
      v = v * 10 + digit;
    }
    if (pos_ < s_.size() && s_[pos_] == 'L') ++pos_;  // Python 2 longs
    if (negative) fail("negative dimension " + std::to_string(-v) + " in the shape");
    return v;
  }

  std::vector<std::int64_t> tuple() {
    expect('(', "'(' to open the shape tuple");
    std::vector<std::int64_t> dims;
    if (eat(')')) return dims;
    while (true) {
      dims.push_back(integer());
      if (eat(')')) return dims;
      expect(',', "',' or ')' in the shape tuple");
      if (eat(')')) return dims;
    }
  }

 private:
  std::string_view s_;
  std::size_t pos_ = 0;
};

}  // namespace

NpyHeader parse_npy_header(std::string_view text) {
  Reader r(text);
  NpyHeader h;
  bool has_descr = false, has_order = false, has_shape = false;
  r.expect('{', "the header to be a dict starting with '{'");
  while (!r.eat('}')) {
    const std::string key = r.string_literal();
    r.expect(':', "':' after a key");
    if (key == "descr") {
      if (r.peek() != '\'' && r.peek() != '"') {
        r.fail("unsupported dtype (structured arrays are not supported)");
      }
      h.descr = r.string_literal();
      has_descr = true;
    } else if (key == "fortran_order") {
      h.fortran_order = r.boolean();
      has_order = true;
    } else if (key == "shape") {
      h.shape = r.tuple();
      has_shape = true;
    } else {
      r.fail("unexpected key '" + key + "'");
    }
    if (r.eat('}')) break;
    r.expect(',', "',' or '}' after a value");
  }
  if (!r.at_end()) r.fail("unexpected text after the dict");
  if (!has_descr || !has_order || !has_shape) {
    throw std::invalid_argument("the header must have the keys 'descr', 'fortran_order' and 'shape'");
  }
  return h;
}

}  // namespace smx::io
