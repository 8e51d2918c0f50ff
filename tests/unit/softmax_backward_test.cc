// Backward passes: against central finite differences of the forward pass (float64), and
// float32/16-bit against float64.
#include <gtest/gtest.h>

#include <cmath>

#include "smx/smx.h"
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

TEST(Backward, LowerPrecisionTracksFloat64) {
  const Tensor x = randn({17, 33}, 6, kFloat64);
  const Tensor g = randn({17, 33}, 7, kFloat64);
  for (std::int64_t dim : {0, 1}) {
    const auto ref = values(softmax_backward(g, softmax(x, dim), dim));
    const auto ref_log = values(log_softmax_backward(g, log_softmax(x, dim), dim));
    for (Dtype dtype : {kFloat32, kFloat16, kBFloat16}) {
      const double tol = dtype == kFloat32 ? 1e-6 : dtype == kFloat16 ? 1e-2 : 5e-2;
      const Tensor xd = x.to(dtype);
      const Tensor gd = g.to(dtype);
      const auto got = values(softmax_backward(gd, softmax(xd, dim), dim));
      const auto got_log = values(log_softmax_backward(gd, log_softmax(xd, dim), dim));
      for (std::size_t i = 0; i < ref.size(); ++i) {
        EXPECT_NEAR(got[i], ref[i], tol * (1 + std::fabs(ref[i])));
        EXPECT_NEAR(got_log[i], ref_log[i], tol * (1 + std::fabs(ref_log[i])));
      }
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
