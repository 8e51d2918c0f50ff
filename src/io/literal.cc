#include "io/literal.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <vector>

#include "tensor/element_access.h"

namespace smx::io {

namespace {

class LiteralParser {
 public:
  LiteralParser(std::string_view text, Dtype dtype, const std::string& source)
      : s_(text), dtype_(dtype), source_(source) {}

  Tensor parse() {
    value(0);
    skip_space();
    if (pos_ != s_.size()) fail("unexpected '" + std::string(1, s_[pos_]) + "' after the end of the literal");
    if (ndim_ < 0) ndim_ = 0;  // unreachable: value() always sets it
    std::vector<std::int64_t> shape(shape_.begin(), shape_.begin() + ndim_);
    Tensor t = empty(Size(shape), dtype_);
    for (std::size_t i = 0; i < doubles_.size(); ++i) {
      const auto idx = static_cast<std::int64_t>(i);
      if (is_int_[i]) detail::store_from_int64(t.data_ptr(), dtype_, idx, ints_[i]);
      else detail::store_from_double(t.data_ptr(), dtype_, idx, doubles_[i]);
    }
    return t;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw DataError(source_ + ": " + what + " (at offset " + std::to_string(pos_) + ")");
  }

  void skip_space() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }

  // The dims seen so far must agree: every list at depth d has shape_[d] entries and every
  // number sits at depth ndim_.
  void check_dim(int depth, std::int64_t count, std::size_t list_start) {
    if (static_cast<int>(shape_.size()) <= depth) shape_.resize(static_cast<std::size_t>(depth) + 1, -1);
    if (shape_[static_cast<std::size_t>(depth)] < 0) {
      shape_[static_cast<std::size_t>(depth)] = count;
    } else if (shape_[static_cast<std::size_t>(depth)] != count) {
      pos_ = list_start;
      fail("ragged: this list has " + std::to_string(count) + " elements, expected " +
           std::to_string(shape_[static_cast<std::size_t>(depth)]));
    }
  }

  void set_ndim(int ndim, std::size_t where) {
    if (ndim_ < 0) {
      ndim_ = ndim;
    } else if (ndim_ != ndim) {
      pos_ = where;
      fail("ragged: mixes numbers and lists at the same depth");
    }
  }

  void value(int depth) {
    skip_space();
    if (pos_ >= s_.size()) fail(depth == 0 ? "empty literal" : "unexpected end of the literal");
    if (s_[pos_] == '[') {
      if (depth >= kMaxLiteralDepth) fail("literal nested deeper than " + std::to_string(kMaxLiteralDepth));
      const std::size_t start = pos_++;
      std::int64_t count = 0;
      skip_space();
      if (pos_ < s_.size() && s_[pos_] == ']') {
        ++pos_;
        set_ndim(depth + 1, start);  // an empty list ends the nesting here
      } else {
        while (true) {
          value(depth + 1);
          ++count;
          skip_space();
          if (pos_ >= s_.size()) fail("missing ']'");
          if (s_[pos_] == ',') {
            ++pos_;
            skip_space();
            if (pos_ < s_.size() && s_[pos_] == ']') {  // trailing comma, as Python allows
              ++pos_;
              break;
            }
            continue;
          }
          if (s_[pos_] == ']') {
            ++pos_;
            break;
          }
          fail("expected ',' or ']' but found '" + std::string(1, s_[pos_]) + "'");
        }
      }
      if (ndim_ >= 0 && depth >= ndim_) {
        pos_ = start;
        fail("ragged: mixes numbers and lists at the same depth");
      }
      check_dim(depth, count, start);
      return;
    }
    number(depth);
  }

  void number(int depth) {
    const std::size_t start = pos_;
    while (pos_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '.' ||
                                s_[pos_] == '+' || s_[pos_] == '-')) {
      ++pos_;
    }
    std::string_view token = s_.substr(start, pos_ - start);
    if (token.empty()) {
      fail("expected a number but found '" + std::string(1, s_[pos_]) + "'");
    }
    set_ndim(depth, start);
    std::string_view body = token;
    bool negative = false;
    if (body[0] == '+' || body[0] == '-') {
      negative = body[0] == '-';
      body.remove_prefix(1);
    }
    if (!body.empty() && (body[0] == '+' || body[0] == '-')) fail("invalid number '" + std::string(token) + "'");
    std::string lower(body);
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    double v = 0.0;
    if (lower == "nan") {
      v = std::numeric_limits<double>::quiet_NaN();
    } else if (lower == "inf" || lower == "infinity") {
      v = std::numeric_limits<double>::infinity();
    } else if (body == "True" || body == "False") {
      if (token.size() != body.size()) { pos_ = start; fail("invalid number '" + std::string(token) + "'"); }
      v = body == "True" ? 1.0 : 0.0;
    } else {
      // Exact integers stay exact for int64 tensors (a double holds only 53 bits).
      if (dtype_ == kInt64 && body.find_first_not_of("0123456789") == std::string_view::npos) {
        std::int64_t iv = 0;
        const auto r = std::from_chars(token.data() + (token[0] == '+' ? 1 : 0), token.data() + token.size(), iv);
        if (r.ec == std::errc() && r.ptr == token.data() + token.size()) {
          push(0.0, true, iv);
          return;
        }
      }
      const auto r = std::from_chars(body.data(), body.data() + body.size(), v);
      if (r.ptr != body.data() + body.size() || (r.ec != std::errc() && r.ec != std::errc::result_out_of_range)) {
        pos_ = start;
        fail("invalid number '" + std::string(token) + "'");
      }
      if (r.ec == std::errc::result_out_of_range) {  // Python: float('1e999') == inf, float('1e-999') == 0
        v = lower.find("e-") != std::string::npos ? 0.0 : std::numeric_limits<double>::infinity();
      }
    }
    push(negative ? -v : v, false, 0);
  }

  void push(double d, bool is_int, std::int64_t i) {
    doubles_.push_back(d);
    is_int_.push_back(is_int);
    ints_.push_back(i);
  }

  std::string_view s_;
  Dtype dtype_;
  const std::string& source_;
  std::size_t pos_ = 0;
  int ndim_ = -1;
  std::vector<std::int64_t> shape_;
  std::vector<double> doubles_;
  std::vector<bool> is_int_;
  std::vector<std::int64_t> ints_;
};

}  // namespace

Tensor parse_literal(std::string_view text, Dtype dtype, const std::string& source) {
  return LiteralParser(text, dtype, source).parse();
}

}  // namespace smx::io
