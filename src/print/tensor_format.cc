// Tensor::repr(): a line-for-line port of PyTorch's torch/_tensor_str.py (v1.13) with the default
// print options. Function names follow the Python ones so the two can be read side by side.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "smx/tensor.h"
#include "tensor/element_access.h"

namespace smx {

namespace {

constexpr int kPrecision = 4;
constexpr std::int64_t kThreshold = 1000;
constexpr std::int64_t kEdgeItems = 3;
constexpr int kLineWidth = 80;

// Python's str.format of a float with a fixed or exponent spec; nan/inf spelled as Python does.
std::string py_format(double v, char conversion, int precision) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[512];
  const char spec[] = {'%', '.', '*', conversion, '\0'};
  std::snprintf(buf, sizeof buf, spec, precision, v);
  return buf;
}

std::string py_int_str(const Tensor& t) {
  if (t.dtype() == kBool) return t.item<bool>() ? "True" : "False";
  return std::to_string(t.item<std::int64_t>());
}

double value_of(const Tensor& t) { return t.item<double>(); }

// The scalars of `t`, as Python's tolist() would give them, in order.
std::vector<Tensor> elements(const Tensor& t) {
  std::vector<Tensor> out;
  if (t.dim() == 0) {
    out.push_back(t);
  } else {
    for (std::int64_t i = 0; i < t.size(0); ++i) {
      for (auto& e : elements(t[i])) out.push_back(e);
    }
  }
  return out;
}

// get_summarized_data: the edge items of every dim, flattened.
void summarized_elements(const Tensor& t, std::vector<Tensor>& out) {
  if (t.dim() == 0) {
    out.push_back(t);
    return;
  }
  const std::int64_t n = t.size(0);
  auto visit = [&](std::int64_t i) {
    if (t.dim() == 1) out.push_back(t[i]);
    else summarized_elements(t[i], out);
  };
  if (n > 2 * kEdgeItems) {
    for (std::int64_t i = 0; i < kEdgeItems; ++i) visit(i);
    for (std::int64_t i = n - kEdgeItems; i < n; ++i) visit(i);
  } else {
    for (std::int64_t i = 0; i < n; ++i) visit(i);
  }
}

class Formatter {
 public:
  Formatter(const std::vector<Tensor>& values, bool floating) : floating_(floating) {
    if (!floating_) {
      for (const auto& v : values) max_width_ = std::max(max_width_, py_int_str(v).size());
      return;
    }
    std::vector<double> nonzero_finite;
    for (const auto& v : values) {
      const double x = value_of(v);
      if (std::isfinite(x) && x != 0.0) nonzero_finite.push_back(x);
    }
    if (nonzero_finite.empty()) return;
    double lo = std::fabs(nonzero_finite[0]);
    double hi = lo;
    for (double x : nonzero_finite) {
      lo = std::min(lo, std::fabs(x));
      hi = std::max(hi, std::fabs(x));
      if (x != std::ceil(x)) int_mode_ = false;
    }
    if (int_mode_) {
      if (hi / lo > 1000.0 || hi > 1.0e8) {
        sci_mode_ = true;
        for (double x : nonzero_finite) widen(py_format(x, 'e', kPrecision).size());
      } else {
        for (double x : nonzero_finite) widen(py_format(x, 'f', 0).size() + 1);
      }
    } else if (hi / lo > 1000.0 || hi > 1.0e8 || lo < 1.0e-4) {
      sci_mode_ = true;
      for (double x : nonzero_finite) widen(py_format(x, 'e', kPrecision).size());
    } else {
      for (double x : nonzero_finite) widen(py_format(x, 'f', kPrecision).size());
    }
  }

  std::size_t width() const { return max_width_; }

  std::string format(const Tensor& scalar) const {
    std::string ret;
    if (floating_) {
      const double x = value_of(scalar);
      if (sci_mode_) {
        ret = py_format(x, 'e', kPrecision);
      } else if (int_mode_) {
        ret = py_format(x, 'f', 0);
        if (std::isfinite(x)) ret += '.';
      } else {
        ret = py_format(x, 'f', kPrecision);
      }
    } else {
      ret = py_int_str(scalar);
    }
    if (ret.size() < max_width_) ret.insert(0, max_width_ - ret.size(), ' ');
    return ret;
  }

 private:
  void widen(std::size_t w) { max_width_ = std::max(max_width_, w); }

  bool floating_;
  bool int_mode_ = true;
  bool sci_mode_ = false;
  std::size_t max_width_ = 1;
};

std::string join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string r;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i) r += sep;
    r += parts[i];
  }
  return r;
}

std::string vector_str(const Tensor& t, int indent, bool summarize, const Formatter& f) {
  const std::size_t element_length = f.width() + 2;  // with ", "
  const std::size_t elements_per_line = std::max<std::size_t>(
      1, static_cast<std::size_t>(kLineWidth - indent) / element_length);
  std::vector<std::string> data;
  const std::int64_t n = t.size(0);
  if (summarize && n > 2 * kEdgeItems) {
    for (std::int64_t i = 0; i < kEdgeItems; ++i) data.push_back(f.format(t[i]));
    data.push_back(" ...");
    for (std::int64_t i = n - kEdgeItems; i < n; ++i) data.push_back(f.format(t[i]));
  } else {
    for (std::int64_t i = 0; i < n; ++i) data.push_back(f.format(t[i]));
  }
  std::vector<std::string> lines;
  for (std::size_t i = 0; i < data.size(); i += elements_per_line) {
    const auto end = std::min(data.size(), i + elements_per_line);
    lines.push_back(join(std::vector<std::string>(data.begin() + static_cast<std::ptrdiff_t>(i),
                                                  data.begin() + static_cast<std::ptrdiff_t>(end)),
                         ", "));
  }
  return "[" + join(lines, ",\n" + std::string(static_cast<std::size_t>(indent) + 1, ' ')) + "]";
}

std::string tensor_str_with_formatter(const Tensor& t, int indent, bool summarize,
                                      const Formatter& f) {
  if (t.dim() == 0) return f.format(t);
  if (t.dim() == 1) return vector_str(t, indent, summarize, f);
  std::vector<std::string> slices;
  const std::int64_t n = t.size(0);
  if (summarize && n > 2 * kEdgeItems) {
    for (std::int64_t i = 0; i < kEdgeItems; ++i)
      slices.push_back(tensor_str_with_formatter(t[i], indent + 1, summarize, f));
    slices.push_back("...");
    for (std::int64_t i = n - kEdgeItems; i < n; ++i)
      slices.push_back(tensor_str_with_formatter(t[i], indent + 1, summarize, f));
  } else {
    for (std::int64_t i = 0; i < n; ++i)
      slices.push_back(tensor_str_with_formatter(t[i], indent + 1, summarize, f));
  }
  const std::string sep = "," + std::string(static_cast<std::size_t>(t.dim() - 1), '\n') +
                          std::string(static_cast<std::size_t>(indent) + 1, ' ');
  return "[" + join(slices, sep) + "]";
}

std::string tensor_str(const Tensor& t, int indent) {
  if (t.numel() == 0) return "[]";
  const bool summarize = t.numel() > kThreshold;
  std::vector<Tensor> values;
  if (summarize) summarized_elements(t, values);
  else values = elements(t);
  const Formatter f(values, is_floating(t.dtype()));
  return tensor_str_with_formatter(t, indent, summarize, f);
}

std::string add_suffixes(const std::string& tensor_str, const std::vector<std::string>& suffixes,
                         int indent) {
  std::string out = tensor_str;
  // Python: len(s) - s.rfind('\n') + 1, where rfind is -1 when there is no newline.
  const auto newline = tensor_str.rfind('\n');
  const std::ptrdiff_t rfind = newline == std::string::npos ? -1 : static_cast<std::ptrdiff_t>(newline);
  auto last_line_len = static_cast<std::size_t>(static_cast<std::ptrdiff_t>(tensor_str.size()) - rfind + 1);
  for (const auto& suffix : suffixes) {
    if (last_line_len + suffix.size() + 2 > static_cast<std::size_t>(kLineWidth)) {
      out += ",\n" + std::string(static_cast<std::size_t>(indent), ' ') + suffix;
      last_line_len = static_cast<std::size_t>(indent) + suffix.size();
    } else {
      out += ", " + suffix;
      last_line_len += suffix.size() + 2;
    }
  }
  return out + ")";
}

}  // namespace

namespace detail {
std::string repr_on_device(const Tensor& t, Device device);
}

std::string Tensor::repr() const {
  if (!defined()) return "tensor(<undefined>)";
  if (is_cuda()) return detail::repr_on_device(to(Device(kCPU)), device());
  return detail::repr_on_device(*this, Device(kCPU));
}

namespace detail {

// PyTorch puts device='cuda:0' first among the suffixes; `t` holds the elements on the host.
std::string repr_on_device(const Tensor& t, Device device) {
  const Size& sizes = t.sizes();
  const Dtype dtype = t.dtype();
  const std::string prefix = "tensor(";
  const int indent = static_cast<int>(prefix.size());
  std::vector<std::string> suffixes;
  if (device.is_cuda()) suffixes.push_back("device='" + device.str() + "'");
  std::string body;
  if (t.numel() == 0) {
    if (t.dim() != 1) {
      std::string shape = "(";
      for (std::size_t i = 0; i < sizes.size(); ++i) {
        shape += (i ? ", " : "") + std::to_string(sizes[i]);
      }
      suffixes.push_back("size=" + shape + ")");
    }
    if (dtype != kFloat32) suffixes.push_back("dtype=" + dtype_name(dtype));
    body = "[]";
  } else {
    const bool default_dtype = dtype == kFloat32 || dtype == kInt64 || dtype == kBool;
    if (!default_dtype) suffixes.push_back("dtype=" + dtype_name(dtype));
    body = tensor_str(t, indent);
  }
  return add_suffixes(prefix + body, suffixes, indent);
}

}  // namespace detail

}  // namespace smx
