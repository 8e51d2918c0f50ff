// Softmax over a list of dims against an independent float64 oracle (group by the non-group
// indices, textbook softmax per group): every dtype, ranks 1-5, adjacent / non-adjacent /
// negative dims, strided views, long rows, many lanes, NaN/inf groups, empty tensors, errors,
// the backward passes, bitwise identities and thread-count independence.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <vector>

#include "smx/smx.h"
#include "test_support.h"
#include "tolerances.h"

namespace smx {
namespace {

using test::max_rel_error;
using test::Op;
using test::values;

using Dims = std::vector<std::int64_t>;

// Group id of every element (row-major): its index over the dims outside the group.
std::vector<std::int64_t> group_ids(const std::vector<std::int64_t>& sizes, const Dims& dims) {
  std::int64_t numel = 1;
  for (std::int64_t s : sizes) numel *= s;
  std::vector<std::int64_t> ids(static_cast<std::size_t>(numel));
  std::vector<std::int64_t> index(sizes.size(), 0);
  for (std::int64_t i = 0; i < numel; ++i) {
    std::int64_t id = 0;
    for (std::size_t d = 0; d < sizes.size(); ++d) {
      const bool grouped = std::find(dims.begin(), dims.end(), static_cast<std::int64_t>(d)) != dims.end();
      if (!grouped) id = id * sizes[d] + index[d];
    }
    ids[static_cast<std::size_t>(i)] = id;
    for (std::size_t d = sizes.size(); d-- > 0;) {
      if (++index[d] < sizes[d]) break;
      index[d] = 0;
    }
  }
  return ids;
}

Dims wrap(const Dims& dims, std::int64_t ndim) {
  Dims w;
  for (std::int64_t d : dims) w.push_back(d < 0 ? d + std::max<std::int64_t>(ndim, 1) : d);
  return w;
}

// float64 forward oracle: shift by the group max, exp, normalise (NaN, +inf and all -inf groups
// come out NaN by IEEE arithmetic, as in PyTorch).
std::vector<double> oracle_dims(const std::vector<double>& x, const std::vector<std::int64_t>& sizes, const Dims& dims,
                                Op op) {
  const auto ids = group_ids(sizes, wrap(dims, static_cast<std::int64_t>(sizes.size())));
  const double sign = op == Op::kSoftmin ? -1.0 : 1.0;
  std::map<std::int64_t, double> max, sum;
  for (std::size_t i = 0; i < x.size(); ++i) {
    auto [it, fresh] = max.try_emplace(ids[i], sign * x[i]);
    if (!fresh) it->second = std::isnan(it->second) || std::isnan(x[i]) ? NAN : std::max(it->second, sign * x[i]);
  }
  for (std::size_t i = 0; i < x.size(); ++i) sum[ids[i]] += std::exp(sign * x[i] - max[ids[i]]);
  std::vector<double> y(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double v = sign * x[i] - max[ids[i]];
    y[i] = op == Op::kLogSoftmax ? v - std::log(sum[ids[i]]) : std::exp(v) / sum[ids[i]];
  }
  return y;
}

// float64 backward oracle from the (already rounded) g and y.
std::vector<double> oracle_backward(bool log, const std::vector<double>& g, const std::vector<double>& y,
                                    const std::vector<std::int64_t>& sizes, const Dims& dims) {
  const auto ids = group_ids(sizes, wrap(dims, static_cast<std::int64_t>(sizes.size())));
  std::map<std::int64_t, double> acc;
  for (std::size_t i = 0; i < g.size(); ++i) acc[ids[i]] += log ? g[i] : g[i] * y[i];
  std::vector<double> dx(g.size());
  for (std::size_t i = 0; i < g.size(); ++i) {
    dx[i] = log ? g[i] - std::exp(y[i]) * acc[ids[i]] : y[i] * (g[i] - acc[ids[i]]);
  }
  return dx;
}

Tensor run(Op op, const Tensor& x, const Dims& dims) {
  switch (op) {
    case Op::kSoftmax: return softmax(x, DimList(dims));
    case Op::kLogSoftmax: return log_softmax(x, DimList(dims));
    case Op::kSoftmin: return softmin(x, DimList(dims));
  }
  return {};
}

// Against the float64 oracle: the forward and backward "oracle" rows of tests/tolerances.h.
test::Tolerance forward_tolerance(Dtype dtype) {
  return test::tolerance(test::Pass::kForward, test::Reference::kOracle, dtype);
}

const Dtype kAllDtypes[] = {kFloat32, kFloat64, kFloat16, kBFloat16};
const Op kAllOps[] = {Op::kSoftmax, Op::kLogSoftmax, Op::kSoftmin};

void expect_forward(Op op, const Tensor& x, const Dims& dims, const char* what = "") {
  const Tensor y = run(op, x, dims);
  ASSERT_EQ(y.sizes(), x.sizes());
  ASSERT_EQ(y.dtype(), x.dtype());
  const auto expected = oracle_dims(values(x), x.sizes().vec(), dims, op);
  EXPECT_LE(test::excess(values(y), expected, forward_tolerance(x.dtype()), op == Op::kLogSoftmax), 1.0)
      << what << " shape " << x.sizes() << " dims " << ::testing::PrintToString(dims) << " dtype "
      << dtype_name(x.dtype()) << " op " << static_cast<int>(op);
}

struct Case {
  std::vector<std::int64_t> sizes;
  Dims dims;
};

// Every walk: one run (adjacent dims), rows (group innermost), columns (group not innermost),
// single real dim among size-1 dims, ranks 1-5, negative dims, any order.
const std::vector<Case> kCases = {
    {{7}, {-1}},  // rank 1: a list of one dim (the single-dim op)
    {{3, 2}, {0, 1}},
    {{3, 2}, {1, 0}},
    {{3, 2}, {-1, -2}},
    {{4, 5, 6}, {0, 2}},      // rows: runs of 6 in 4 runs, 5 groups
    {{4, 5, 6}, {0, 1}},      // one run
    {{4, 5, 6}, {2, 0}},      // order does not matter
    {{4, 5, 6}, {0, 1, 2}},   // everything
    {{3, 4, 5, 6}, {1, 2}},   // one run in the middle
    {{3, 4, 5, 6}, {0, 2}},   // columns: 6 lanes
    {{3, 4, 5, 6}, {1, 3}},   // rows
    {{3, 4, 5, 6}, {-4, -2}},
    {{2, 3, 4, 5, 7}, {0, 2, 4}},
    {{2, 3, 4, 5, 7}, {1, 3}},
    {{2, 3, 4, 5, 7}, {0, 1, 3}},
    {{3, 4, 5, 130}, {0, 2}},  // columns over more than one lane block of 64
    {{1, 4, 1, 5}, {0, 2}},    // a group of size-1 dims: groups of one element
    {{1, 4, 1, 5}, {0, 3}},    // one real dim
    {{2, 1, 3, 1, 4}, {1, 2, 4}},
};

TEST(SoftmaxDims, ForwardMatchesOracleForEveryDtypeRankAndWalk) {
  for (const Case& c : kCases) {
    for (Dtype dtype : kAllDtypes) {
      const Tensor x = randn(Size(c.sizes), 11, kFloat64).to(dtype);
      for (Op op : kAllOps) expect_forward(op, x, c.dims);
    }
  }
}

TEST(SoftmaxDims, GroupsSumToOne) {
  const Tensor x = randn({3, 4, 5, 6}, 5, kFloat64);
  const Tensor y = softmax(x, {0, 2});
  // sum over dims 0 and 2 (sum over 2 first, then 0 of the (3, 4, 6) result) is 1 everywhere
  const auto s = values(y.sum(2).sum(0));
  ASSERT_EQ(s.size(), 24u);
  for (double v : s) EXPECT_NEAR(v, 1.0, 1e-13);  // float64 sums of 15 values
}

TEST(SoftmaxDims, LongRowsAndManyRuns) {
  // Rows longer than one kernel chunk (65536) and a single group (all dims) split over threads.
  for (Dtype dtype : {kFloat32, kFloat64}) {
    const Tensor x = randn({2, 3, 70000}, 3, kFloat64).to(dtype);
    expect_forward(Op::kSoftmax, x, {0, 2}, "long rows");
    expect_forward(Op::kLogSoftmax, x, {2, 0}, "long rows");
    const Tensor wide = randn({64, 3, 300}, 4, kFloat64).to(dtype);
    expect_forward(Op::kSoftmax, wide, {0, 1}, "columns, one run");
    expect_forward(Op::kSoftmax, wide, {0, 2}, "rows, 3 groups");
  }
}

TEST(SoftmaxDims, StridedViewsMatchOracleAndTheirContiguousCopy) {
  const Tensor base = randn({6, 5, 4, 7}, 9, kFloat64);
  const std::vector<std::pair<Tensor, const char*>> views = {
      {base.transpose(0, 2), "transpose(0, 2)"},
      {base.permute({3, 1, 0, 2}), "permute"},
      {base.narrow(3, 1, 5), "narrow last"},
      {base.narrow(1, 1, 3).transpose(1, 3), "narrow + transpose"},
  };
  const std::vector<Dims> lists = {{0, 1}, {0, 2}, {1, 3}, {2, 3}, {0, 1, 3}, {-1, 0}};
  for (Dtype dtype : kAllDtypes) {
    for (const auto& [v64, what] : views) {
      // A strided view in the target dtype: cast the base, then take the same view.
      const Tensor v = dtype == kFloat64 ? v64 : v64.to(dtype);
      for (const Dims& dims : lists) {
        for (Op op : kAllOps) expect_forward(op, v, dims, what);
        const auto a = values(softmax(v, DimList(dims)));
        const auto b = values(softmax(v.contiguous(), DimList(dims)));
        for (std::size_t i = 0; i < a.size(); ++i) {
          ASSERT_EQ(a[i], b[i]) << what << " at " << i;  // bitwise: a view gives its copy's bits
        }
      }
    }
  }
  // Views of the base itself (not a cast copy): genuinely strided float64 memory.
  for (const Dims& dims : lists) expect_forward(Op::kSoftmax, base.permute({2, 0, 3, 1}), dims, "permuted base");
}

TEST(SoftmaxDims, OneDimListIsTheSingleDimOpBitwise) {
  const Tensor x = randn({5, 6, 7}, 2, kFloat32);
  for (std::int64_t d : {0, 1, 2, -1}) {
    const std::vector<std::int64_t> one = {d};
    EXPECT_EQ(values(softmax(x, DimList(one))), values(softmax(x, d)));
    EXPECT_EQ(values(log_softmax(x, DimList(one))), values(log_softmax(x, d)));
    EXPECT_EQ(values(softmin(x, DimList(one))), values(softmin(x, d)));
  }
}

TEST(SoftmaxDims, AdjacentDimsAreReshapePlusSoftmaxBitwise) {
  const Tensor x = randn({3, 4, 5, 6}, 8, kFloat32);
  EXPECT_EQ(values(softmax(x, {2, 3})), values(softmax(x.reshape({3, 4, 30}), 2)));
  EXPECT_EQ(values(softmax(x, {1, 2})), values(softmax(x.reshape({3, 20, 6}), 1)));
  EXPECT_EQ(values(log_softmax(x, {0, 1, 2, 3})), values(log_softmax(x.reshape({360}), 0)));
}

// Groups of up to 64Ki elements whose innermost dim is in the group are gathered and run through
// the whole-row kernel: the same bits as the user's permute + reshape + softmax(-1).
TEST(SoftmaxDims, GatheredGroupsArePermuteReshapeSoftmaxBitwise) {
  for (Dtype dtype : kAllDtypes) {
    const Tensor x = randn({6, 5, 7, 9}, 12, kFloat64).to(dtype);
    const Tensor ref = softmax(x.permute({0, 2, 1, 3}).contiguous().reshape({42, 45}), 1);
    const Tensor back = ref.reshape({6, 7, 5, 9}).permute({0, 2, 1, 3});
    EXPECT_EQ(values(softmax(x, {1, 3})), values(back)) << dtype_name(dtype);
    const Tensor g = randn({6, 5, 7, 9}, 13, kFloat64).to(dtype);
    const Tensor y = softmax(x, {1, 3});
    const Tensor dref = log_softmax_backward(g.permute({0, 2, 1, 3}).contiguous().reshape({42, 45}),
                                             y.permute({0, 2, 1, 3}).contiguous().reshape({42, 45}), 1);
    EXPECT_EQ(values(log_softmax_backward(g, y, {1, 3})), values(dref.reshape({6, 7, 5, 9}).permute({0, 2, 1, 3})));
  }
}

TEST(SoftmaxDims, BackwardOverLongGroups) {
  // Groups above 64Ki elements: per-row accumulators summed in order, then the write pass.
  const Tensor x = randn({2, 3, 70000}, 51, kFloat64);
  const Tensor g = randn({2, 3, 70000}, 52, kFloat64);
  for (bool log : {false, true}) {
    const Tensor y = log ? log_softmax(x, {0, 2}) : softmax(x, {0, 2});
    const Tensor dx = log ? log_softmax_backward(g, y, {0, 2}) : softmax_backward(g, y, {0, 2});
    // float64 sums over 140000 terms: relative error ~1e-16 * 140000 in the group sum
    EXPECT_LE(max_rel_error(values(dx), oracle_backward(log, values(g), values(y), {2, 3, 70000}, {0, 2}), 1.0), 1e-11);
  }
}

TEST(SoftmaxDims, SameBitsAtAnyThreadCount) {
  const int saved = get_num_threads();
  const std::vector<std::pair<std::vector<std::int64_t>, Dims>> cases = {
      {{4, 64, 3, 300}, {1, 3}},   // rows, many groups
      {{1, 64, 3, 3000}, {1, 3}},  // rows, one group split over threads
      {{8, 40, 5, 200}, {0, 2}},   // columns
      {{2, 3, 70000}, {0, 2}},     // long rows in chunks
  };
  for (const auto& [sizes, dims] : cases) {
    const Tensor x = randn(Size(sizes), 21, kFloat32);
    const Tensor g = randn(Size(sizes), 22, kFloat32);
    set_num_threads(1);
    const auto y1 = values(softmax(x, DimList(dims)));
    const auto b1 = values(softmax_backward(g, softmax(x, DimList(dims)), DimList(dims)));
    for (int threads : {2, 3, 4}) {
      set_num_threads(threads);
      EXPECT_EQ(values(softmax(x, DimList(dims))), y1) << threads << " threads";
      EXPECT_EQ(values(softmax_backward(g, softmax(x, DimList(dims)), DimList(dims))), b1) << threads << " threads";
    }
  }
  set_num_threads(saved);
}

TEST(SoftmaxDims, SpecialValuesPoisonOnlyTheirGroup) {
  const double inf = std::numeric_limits<double>::infinity();
  for (Dtype dtype : kAllDtypes) {
    for (const Dims& dims : {Dims{0, 2}, Dims{1, 2}, Dims{0, 1}}) {
      // (3, 4, 5): plant NaN, +inf, and a whole group of -inf, plus a group with one -inf.
      std::vector<double> v(60);
      for (std::size_t i = 0; i < v.size(); ++i) v[i] = std::sin(0.7 * static_cast<double>(i)) * 3.0;
      v[7] = NAN;
      v[23] = inf;
      v[41] = -inf;
      const auto ids = group_ids({3, 4, 5}, dims);
      const std::int64_t victim = ids[50];
      for (std::size_t i = 0; i < v.size(); ++i) {
        if (ids[i] == victim) v[i] = -inf;
      }
      const Tensor x = tensor(v, kFloat64).view({3, 4, 5}).to(dtype);
      for (Op op : kAllOps) expect_forward(op, x, dims, "special values");
    }
  }
}

TEST(SoftmaxDims, EmptyAndZeroDimTensors) {
  const Tensor e = empty({3, 0, 4});
  EXPECT_EQ(softmax(e, {0, 2}).sizes(), e.sizes());
  EXPECT_EQ(log_softmax_backward(e, e, {1, 2}).sizes(), e.sizes());
  EXPECT_THROW(softmax(e, {0, 3}), IndexError);  // dims are still checked
  const Tensor s = scalar_tensor(2.5);
  EXPECT_EQ(softmax(s, {0}).item<double>(), 1.0);
  EXPECT_EQ(softmax(s, {-1}).item<double>(), 1.0);
}

TEST(SoftmaxDims, ErrorsUsePyTorchWords) {
  const Tensor x = randn({3, 2}, 1);
  auto message = [](auto&& fn) {
    try {
      fn();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_THROW(softmax(x, {1, 1}), RuntimeError);
  EXPECT_EQ(message([&] { softmax(x, {1, -1}); }), "dim 1 appears multiple times in the list of dims");
  EXPECT_THROW(softmax(x, {1, 5}), IndexError);
  EXPECT_EQ(message([&] { softmax(x, {0, 5}); }),
            "Dimension out of range (expected to be in range of [-2, 1], but got 5)");
  // As torch.sum: every dim is range-checked before repeats are looked for.
  EXPECT_EQ(message([&] { log_softmax(x, {0, 0, 5}); }),
            "Dimension out of range (expected to be in range of [-2, 1], but got 5)");
  EXPECT_EQ(message([&] { log_softmax(x, {0, 1, -2}); }), "dim 0 appears multiple times in the list of dims");
  EXPECT_THROW(softmax(x, {-3, 0}), IndexError);
  EXPECT_THROW(softmax(scalar_tensor(1.0), {0, -1}), RuntimeError);
  EXPECT_THROW(softmax(x, DimList()), RuntimeError);  // the empty list: see smx/softmax_dims.h
  EXPECT_THROW(softmax_backward(x, x, DimList()), RuntimeError);
  EXPECT_EQ(message([&] { softmax(arange(6, kInt64).view({3, 2}), {0, 1}); }),
            "\"softmax_kernel_impl\" not implemented for 'Long'");
  // ...unless a dtype is given, as the single-dim ops
  EXPECT_NEAR(values(softmax(arange(6, kInt64).view({3, 2}), {0, 1}, kFloat64))[5],
              std::exp(5.0) / (std::exp(6.0) - 1.0) * (std::exp(1.0) - 1.0), 1e-15);
  EXPECT_THROW(softmax_backward(x, randn({2, 3}, 1), {0, 1}), RuntimeError);
  EXPECT_THROW(softmax_backward(x, x.to(kFloat64), {0, 1}), RuntimeError);
  EXPECT_THROW(softmax(Tensor(), {0, 1}), RuntimeError);
}

// The overloads compile unambiguously: softmax(x), softmax(x, 1), softmax(x, {1, 2}),
// softmax(x, {1}) and a std::vector all pick what they say.
TEST(SoftmaxDims, OverloadsAreUnambiguous) {
  const Tensor x = randn({2, 3, 4}, 6);
  const std::vector<std::int64_t> dims = {1, 2};
  const std::int64_t d = 1;
  EXPECT_EQ(values(softmax(x, 1)), values(softmax(x, std::optional<std::int64_t>(1))));
  EXPECT_EQ(values(softmax(x, d)), values(softmax(x, {d})));
  EXPECT_EQ(values(softmax(x, {1, 2})), values(softmax(x, dims)));
  EXPECT_EQ(values(softmax(x, {1, 2}, kFloat64)), values(softmax(x.to(kFloat64), DimList(dims))));
  EXPECT_EQ(values(softmax(x, -1, kFloat64)), values(softmax(x.to(kFloat64), 2)));
  EXPECT_EQ(softmax(x).sizes(), x.sizes());  // the implicit dim still compiles (and warns)
  EXPECT_EQ(values(softmax_backward(x, x, 1)), values(softmax_backward(x, x, {1})));
  EXPECT_EQ(values(log_softmax_backward(x, x, {1, 2})), values(log_softmax_backward(x, x, dims)));
}

TEST(SoftmaxDims, BackwardMatchesOracle) {
  for (const Case& c : kCases) {
    for (Dtype dtype : kAllDtypes) {
      const Tensor x = randn(Size(c.sizes), 31, kFloat64).to(dtype);
      const Tensor g = randn(Size(c.sizes), 32, kFloat64).to(dtype);
      for (bool log : {false, true}) {
        const Tensor y = log ? log_softmax(x, DimList(c.dims)) : softmax(x, DimList(c.dims));
        const Tensor dx = log ? log_softmax_backward(g, y, DimList(c.dims)) : softmax_backward(g, y, DimList(c.dims));
        const auto expected = oracle_backward(log, values(g), values(y), c.sizes, c.dims);
        // The oracle takes the same rounded y; gradients cancel towards 0, so their error is
        // measured absolutely below 1 (the log form of excess()).
        EXPECT_LE(test::excess(values(dx), expected, test::tolerance(test::Pass::kBackward, test::Reference::kOracle, dtype),
                               true),
                  1.0)
            << "shape " << Size(c.sizes) << " dims " << ::testing::PrintToString(c.dims) << " "
            << dtype_name(dtype) << (log ? " log" : "");
      }
    }
  }
}

TEST(SoftmaxDims, BackwardOnStridedOperands) {
  const Tensor x = randn({5, 4, 6}, 41, kFloat64);
  const Tensor g = randn({6, 4, 5}, 42, kFloat64).permute({2, 1, 0});  // strided grad
  for (const Dims& dims : {Dims{0, 2}, Dims{0, 1}, Dims{1, 2}}) {
    const Tensor y = softmax(x.transpose(0, 2).contiguous().transpose(0, 2), DimList(dims));  // y of a view
    const Tensor dx = softmax_backward(g, y, DimList(dims));
    EXPECT_LE(max_rel_error(values(dx), oracle_backward(false, values(g), values(y), {5, 4, 6}, dims), 1.0), 1e-13);
    EXPECT_EQ(values(dx), values(softmax_backward(g.contiguous(), y, DimList(dims))));
  }
}

}  // namespace
}  // namespace smx
