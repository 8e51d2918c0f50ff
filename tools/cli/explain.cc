// Drawing the groups of a softmax. Every element belongs to exactly one group: the elements
// that differ only in their indices along the softmax dim(s). Each group gets a letter; the
// tensor is drawn as PyTorch prints it (2-D slices for rank 3 and up), each cell showing its
// group's letter and its softmax value, then every group is listed with its input values, its
// outputs and their sum.
#include "explain.h"

#include <cmath>
#include <cstdio>
#include <optional>
#include <sstream>
#include <vector>

#include "cli_input.h"
#include "dim_arg.h"
#include "smx/smx.h"

namespace smx::cli {

namespace {

const char* kDtypeHelp = "float32 (default for a literal), float64, float16 or bfloat16: cast the input first";

std::string label(std::int64_t group) {
  static const char* kLetters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  if (group < 52) return std::string(1, kLetters[group]);
  return "g" + std::to_string(group + 1);  // more groups than letters (only with >52 groups)
}

std::string fixed4(double v) {
  if (std::isnan(v)) return "nan";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", v);
  return buf;
}

std::string short_number(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

std::string join_dims(const std::vector<std::int64_t>& dims) {
  std::string s;
  for (std::size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s;
}

bool contains(const std::vector<std::int64_t>& v, std::int64_t d) {
  for (std::int64_t x : v) {
    if (x == d) return true;
  }
  return false;
}

// Row-major multi-index of element i.
std::vector<std::int64_t> index_of(std::int64_t i, const std::vector<std::int64_t>& sizes) {
  std::vector<std::int64_t> idx(sizes.size());
  for (std::size_t d = sizes.size(); d-- > 0;) {
    idx[d] = i % sizes[d];
    i /= sizes[d];
  }
  return idx;
}

// x[:, 0] style: ':' on the group dims, the fixed index elsewhere.
std::string group_expr(const std::vector<std::int64_t>& idx, const std::vector<std::int64_t>& dims) {
  if (idx.empty()) return "x";
  std::string s = "x[";
  for (std::size_t d = 0; d < idx.size(); ++d) {
    s += (d ? ", " : "") + (contains(dims, static_cast<std::int64_t>(d)) ? std::string(":") : std::to_string(idx[d]));
  }
  return s + "]";
}

std::string element_expr(const std::vector<std::int64_t>& idx) {
  if (idx.empty()) return "x";
  std::string s = "x[";
  for (std::size_t d = 0; d < idx.size(); ++d) s += (d ? ", " : "") + std::to_string(idx[d]);
  return s + "]";
}

std::vector<double> as_doubles(const Tensor& t) {
  const Tensor c = t.to(kCPU).to(kFloat64).contiguous();
  const double* p = c.data<double>();
  return std::vector<double>(p, p + c.numel());
}

// The sentence the README uses for a 2-D tensor and one dim.
std::string matrix_words(std::int64_t dim) {
  return dim == 0 ? "dim 0 indexes rows: walk down dim 0, one group per column - each COLUMN sums to 1"
                  : "dim 1 indexes columns: walk along dim 1, one group per row - each ROW sums to 1";
}

// Draws the tensor (2-D slices for rank >= 3) with "<letter> <value>" cells.
void draw(std::ostream& out, const std::vector<std::int64_t>& sizes, const std::vector<std::int64_t>& group,
          const std::vector<double>& y) {
  const auto rank = sizes.size();
  auto cell = [&](std::int64_t i) {
    std::string c = label(group[static_cast<std::size_t>(i)]) + " " + fixed4(y[static_cast<std::size_t>(i)]);
    return c;
  };
  std::size_t width = 0;
  for (std::size_t i = 0; i < y.size(); ++i) width = std::max(width, cell(static_cast<std::int64_t>(i)).size());
  auto pad = [&](const std::string& s, std::size_t w) { return std::string(w > s.size() ? w - s.size() : 0, ' ') + s; };
  if (rank == 0) {
    out << "  " << cell(0) << "\n";
    return;
  }
  const std::int64_t rows = rank >= 2 ? sizes[rank - 2] : 1;
  const std::int64_t cols = sizes[rank - 1];
  const std::int64_t slices = static_cast<std::int64_t>(y.size()) / std::max<std::int64_t>(rows * cols, 1);
  const std::string row_head = rank >= 2 ? "row " + std::to_string(rows - 1) : "";
  for (std::int64_t s = 0; s < slices; ++s) {
    if (rank >= 3) {
      const auto idx = index_of(s * rows * cols, sizes);
      std::string head = "x[";
      for (std::size_t d = 0; d + 2 < rank; ++d) head += std::to_string(idx[d]) + ", ";
      out << (s ? "\n" : "") << head << ":, :]\n";
    }
    out << std::string(row_head.size(), ' ') << "  ";
    for (std::int64_t c = 0; c < cols; ++c) out << "  " << pad((rank >= 2 ? "col " : "i=") + std::to_string(c), width);
    out << "\n";
    for (std::int64_t r = 0; r < rows; ++r) {
      out << pad(rank >= 2 ? "row " + std::to_string(r) : "", row_head.size()) << " |";
      for (std::int64_t c = 0; c < cols; ++c) out << "  " << pad(cell((s * rows + r) * cols + c), width);
      out << " |\n";
    }
  }
}

}  // namespace

void add_explain_command(CLI::App& app, ExplainArgs& args, std::string& chosen) {
  CLI::App* sub = app.add_subcommand(
      "explain", "which elements sum to 1? draws the groups of softmax(INPUT, dim) for a small tensor "
                 "(up to " + std::to_string(kExplainMaxElements) + " elements, any rank), with the softmax values; "
                 "for a larger one, the number of groups and their size");
  sub->add_option("--dim", args.dim,
                  "the dim, or a comma-separated list of dims (softmax over their group), e.g. 0 or 1,2; "
                  "without it, PyTorch's implicit rule and its deprecation warning")
      ->check(dim_list_validator());
  sub->add_option("--dtype", args.dtype, kDtypeHelp)->check(CLI::IsMember({"float32", "float64", "float16", "bfloat16"}));
  sub->add_option("INPUT", args.input,
                  "a .npy file, a literal such as '[[1,2],[4,3],[5,5]]', or - for stdin; default -");
  sub->callback([&chosen] { chosen = "explain"; });
}

void run_explain(const ExplainArgs& args, std::ostream& out) {
  const std::optional<Dtype> dtype = args.dtype.empty() ? std::nullopt : std::optional<Dtype>(parse_dtype(args.dtype));
  const Tensor x = read_input(args.input, dtype);
  std::vector<std::int64_t> dims = parse_dim_list(args.dim);
  // No --dim: PyTorch's implicit rule, with its warning on stderr (as every other subcommand).
  if (dims.empty()) dims = {implicit_softmax_dim_warned(Op::kSoftmax, x.dim())};
  const std::vector<std::int64_t> wrapped = wrap_dim_list(DimList(dims), x.dim());  // PyTorch's errors
  const Tensor y = x.numel() <= kExplainMaxElements ? softmax(x, DimList(dims), dtype) : Tensor();
  const std::vector<std::int64_t> sizes = x.sizes().vec();
  std::int64_t group_size = 1;
  for (std::int64_t d : wrapped) group_size *= x.dim() == 0 ? 1 : sizes[static_cast<std::size_t>(d)];
  const std::int64_t groups = group_size == 0 ? 0 : x.numel() / group_size;
  const std::string dim_words = dims.size() == 1 ? "dim " + std::to_string(dims[0])
                                                 : "dims (" + join_dims(dims) + ")";
  out << "softmax over " << dim_words << " of a tensor of shape [" << join_dims(sizes) << "]: " << groups
      << (groups == 1 ? " group" : " groups") << " of " << group_size << (group_size == 1 ? " element" : " elements")
      << "; each group sums to 1.\n";
  if (x.numel() == 0) {
    out << "The tensor has no elements, so there is nothing to draw.\n";
    return;
  }
  if (x.numel() > kExplainMaxElements) {
    out << "Too large to draw (" << x.numel() << " elements; explain draws up to " << kExplainMaxElements
        << "). Every group is one choice of the indices outside " << dim_words << ", with all "
        << group_size << " indices along " << (dims.size() == 1 ? "it" : "them") << ".\n";
    return;
  }
  // Group of each element: its row-major index over the dims outside the group.
  std::vector<std::int64_t> group(static_cast<std::size_t>(x.numel()));
  std::vector<std::int64_t> first(static_cast<std::size_t>(groups), -1);  // an element of each group
  for (std::int64_t i = 0; i < x.numel(); ++i) {
    const auto idx = index_of(i, sizes);
    std::int64_t id = 0;
    for (std::size_t d = 0; d < sizes.size(); ++d) {
      if (!contains(wrapped, static_cast<std::int64_t>(d))) id = id * sizes[d] + idx[d];
    }
    group[static_cast<std::size_t>(i)] = id;
    if (first[static_cast<std::size_t>(id)] < 0) first[static_cast<std::size_t>(id)] = i;
  }
  if (x.dim() == 2 && wrapped.size() == 1) {
    out << matrix_words(wrapped[0]) << ".\n";
  } else if (groups == 1) {
    out << "The whole tensor is one group.\n";
  } else {
    out << "The elements that differ only in their " << (wrapped.size() == 1 ? "index along " : "indices along ")
        << dim_words << " form one group.\n";
  }
  out << "Each cell shows its group's letter and its softmax value:\n\n";
  const std::vector<double> xv = as_doubles(x);
  const std::vector<double> yv = as_doubles(y);
  draw(out, sizes, group, yv);
  out << "\n";
  for (std::int64_t g = 0; g < groups; ++g) {
    std::string inputs, outputs;
    double sum = 0.0;
    for (std::int64_t i = 0; i < x.numel(); ++i) {
      if (group[static_cast<std::size_t>(i)] != g) continue;
      inputs += (inputs.empty() ? "" : ", ") + short_number(xv[static_cast<std::size_t>(i)]);
      outputs += (outputs.empty() ? "" : " + ") + fixed4(yv[static_cast<std::size_t>(i)]);
      sum += yv[static_cast<std::size_t>(i)];
    }
    const auto idx = index_of(first[static_cast<std::size_t>(g)], sizes);
    out << label(g) << "  " << (group_size == 1 ? element_expr(idx) : group_expr(idx, wrapped)) << " = [" << inputs
        << "]  ->  " << outputs << " = " << fixed4(sum) << "\n";
  }
}

}  // namespace smx::cli
