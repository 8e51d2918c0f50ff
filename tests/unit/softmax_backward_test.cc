// Backward passes: against central finite differences of the forward pass (float64), and every
// dtype against the long-double backward oracle (tests/kernel_oracle.h) on its own rounded
// inputs, within per-element bounds.
#include <gtest/gtest.h>

#include <cmath>

#include "smx/smx.h"
#include "kernel_oracle.h"
#include "test_support.h"

namespace smx {
namespace {

using test::values;

// dL/dx by central differences, for L(x) = sum(w * op(x, dim)).
std::vector<double> numeric_grad(bool log, const Tensor& x, const Tensor& w, std::int64_t dim) {
  const double h = 1e-6;
  const auto wv = values(w);
  auto loss = [&](const Tensor& t) {
    const auto y = values(log ? log_softmax(t, dim) : softmax(t, dim));
    double l = 0;
    for (std::size_t i = 0; i < y.size(); ++i) l += wv[i] * y[i];
    return l;
  };
  std::vector<double> g(static_cast<std::size_t>(x.numel()));
  for (std::int64_t i = 0; i < x.numel(); ++i) {
    Tensor plus = x.clone();
    Tensor minus = x.clone();
    plus.data<double>()[i] += h;
    minus.data<double>()[i] -= h;
    g[static_cast<std::size_t>(i)] = (loss(plus) - loss(minus)) / (2 * h);
  }
  return g;
}

TEST(Backward, MatchesFiniteDifferences) {
  const Tensor x = randn({3, 4, 5}, 3, kFloat64);
  const Tensor w = randn({3, 4, 5}, 4, kFloat64);
  for (bool log : {false, true}) {
    for (std::int64_t dim : {0, 1, 2, -1}) {
      const Tensor y = log ? log_softmax(x, dim) : softmax(x, dim);
      const Tensor dx = log ? log_softmax_backward(w, y, dim) : softmax_backward(w, y, dim);
      const auto expected = numeric_grad(log, x, w, dim);
      const auto got = values(dx);
      // Central differences with h = 1e-6: truncation h^2/6 * |L'''| (~1e-12 here, |x| < 4) plus
      // rounding ~ 2.2e-16 * |L| / h (~1e-8, |L| < 50); 1e-7 is above both.
      for (std::size_t i = 0; i < got.size(); ++i) {
        EXPECT_NEAR(got[i], expected[i], 1e-7) << (log ? "log " : "") << "dim " << dim << " i " << i;
      }
    }
  }
}

TEST(Backward, ZeroDimAndOneElementRows) {
  const Tensor y = softmax(scalar_tensor(2, kFloat64), 0);
  EXPECT_EQ(softmax_backward(scalar_tensor(5, kFloat64), y, 0).item<double>(), 0.0);
  EXPECT_EQ(log_softmax_backward(scalar_tensor(5, kFloat64), log_softmax(scalar_tensor(2, kFloat64), 0), 0)
                .item<double>(),
            0.0);
}

// Each dtype's backward on its own inputs (g rounded to the dtype, y the dtype's forward
// output) against the oracle on those same values: no slack beyond the stated bounds.
TEST(Backward, EveryDtypeMeetsTheOracle) {
  for (Dtype dtype : {kFloat64, kFloat32, kFloat16, kBFloat16}) {
    const Tensor x = randn({17, 33}, 6, dtype);
    const Tensor g = randn({17, 33}, 7, dtype);
    for (std::int64_t dim : {0, 1}) {
      EXPECT_TRUE(test::backward_matches_oracle(false, g, softmax(x, dim), dim)) << dtype_name(dtype) << " dim " << dim;
      EXPECT_TRUE(test::backward_matches_oracle(true, g, log_softmax(x, dim), dim))
          << "log " << dtype_name(dtype) << " dim " << dim;
    }
  }
}

TEST(Backward, StridedOperands) {
  const Tensor x = randn({5, 6}, 8);
  const Tensor g = randn({6, 5}, 9).transpose(0, 1);
  for (std::int64_t dim : {0, 1}) {
    const Tensor y = softmax(x, dim);
    EXPECT_EQ(values(softmax_backward(g, y, dim)), values(softmax_backward(g.contiguous(), y, dim)));
    const Tensor ly = log_softmax(x, dim);
    EXPECT_EQ(values(log_softmax_backward(g, ly, dim)),
              values(log_softmax_backward(g.contiguous(), ly, dim)));
  }
}

}  // namespace
}  // namespace smx
