// Forward values against the float64 oracle in test_support.h: PyTorch's own test inputs,
// strided views, special values, 16-bit types and the accuracy bounds the library promises.
#include <gtest/gtest.h>

#include <cmath>

#include "smx/smx.h"
#include "kernel_oracle.h"
#include "test_support.h"

namespace smx {
namespace {

using test::max_rel_error;
using test::Op;
using test::oracle;
using test::values;

Tensor run(Op op, const Tensor& x, std::int64_t dim) {
  switch (op) {
    case Op::kSoftmax: return softmax(x, dim);
    case Op::kLogSoftmax: return log_softmax(x, dim);
    case Op::kSoftmin: return softmin(x, dim);
  }
  return {};
}

std::int64_t wrapped(std::int64_t dim, std::int64_t ndim) {
  return dim < 0 ? dim + std::max<std::int64_t>(ndim, 1) : dim;
}

// Checks op(x, dim) against the oracle with a relative tolerance (absolute for log outputs near 0).
void expect_close_to_oracle(Op op, const Tensor& x, std::int64_t dim, double tol) {
  const Tensor y = run(op, x, dim);
  EXPECT_EQ(y.sizes(), x.sizes());
  EXPECT_EQ(y.dtype(), x.dtype());
  const auto expected = oracle(values(x), x.sizes().vec(), wrapped(dim, x.dim()), op);
  const double floor = op == Op::kLogSoftmax ? 1.0 : 1e-300;
  EXPECT_LE(max_rel_error(values(y), expected, floor), tol)
      << "shape " << x.sizes() << " dim " << dim;
}

constexpr Op kAllOps[] = {Op::kSoftmax, Op::kLogSoftmax, Op::kSoftmin};

TEST(Values, PyTorchSampleInputs) {
  struct Sample {
    Size shape;
    std::int64_t dim;
  };
  const Sample samples[] = {{{5}, 0},     {{5, 5}, 0},   {{5, 5}, 1}, {{5, 5}, -1},
                            {{5, 10, 5}, 2}, {{5, 0, 0}, -1}, {{}, 0}};
  for (const auto& s : samples) {
    for (Op op : kAllOps) {
      expect_close_to_oracle(op, randn(s.shape, 17), s.dim, 1e-6);
      expect_close_to_oracle(op, randn(s.shape, 18, kFloat64), s.dim, 1e-13);
    }
  }
}

TEST(Values, PyTorchResultSizesOnOffsetSlices) {
  const Size sizes[] = {{0, 10},  {32, 20},   {10, 0},    {31, 20},   {32, 21},
                        {31, 23}, {32, 1536}, {31, 2048}, {33, 2049}, {16, 30576}};
  const std::pair<std::int64_t, std::int64_t> shifts[] = {{0, 0}, {1, 0}, {0, 1}, {1, 1}};
  std::uint64_t seed = 100;
  for (const auto& size : sizes) {
    for (auto [s0, s1] : shifts) {
      Tensor x = rand(size, ++seed);
      if (s0 > size[0] || s1 > size[1]) continue;
      x = x.narrow(0, s0, size[0] - s0).narrow(1, s1, size[1] - s1);  // x[s0:, s1:]
      for (std::int64_t dim : {0, 1}) {
        expect_close_to_oracle(Op::kSoftmax, x, dim, 1e-6);
        expect_close_to_oracle(Op::kLogSoftmax, x, dim, 1e-6);
      }
    }
  }
}

TEST(Values, LogSoftmaxIsShiftInvariantForExactShifts) {
  // Integers below 2^24 - 1e7 stay exact in float32 after adding 1e7 (PyTorch's
  // test_log_softmax_big): the results must be identical, not just close.
  Tensor x = (rand({7, 300}, 5));
  for (std::int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = std::floor(x.data<float>()[i] * 100);
  Tensor big = x.clone();
  for (std::int64_t i = 0; i < big.numel(); ++i) big.data<float>()[i] += 1e7f;
  EXPECT_EQ(values(log_softmax(big, -1)), values(log_softmax(x, -1)));
  EXPECT_EQ(values(softmax(big, 0)), values(softmax(x, 0)));
}

TEST(Values, LargeValuesDoNotOverflow) {
  const Tensor x = tensor({0, 1, 2, 3, 10000, 10001, 10002, 10003}).view({2, 4});
  for (Op op : kAllOps) expect_close_to_oracle(op, x, 1, 1e-6);
  const auto y = values(softmax(x, 1));
  EXPECT_NEAR(y[0], 0.0320586, 1e-6);
  EXPECT_NEAR(y[7], 0.6439143, 1e-6);
  EXPECT_EQ(y[3], y[7]);
  // Inputs in [90, 100] overflow exp() without the max shift.
  Tensor hot = rand({3, 257}, 8);
  for (std::int64_t i = 0; i < hot.numel(); ++i) hot.data<float>()[i] = 90 + 10 * hot.data<float>()[i];
  for (Op op : kAllOps) expect_close_to_oracle(op, hot, 1, 1e-6);
  const Tensor extreme = tensor({3.4e38, -3.4e38, 0, 3.4e38});
  EXPECT_EQ(values(softmax(extreme, 0)), (std::vector<double>{0.5, 0, 0, 0.5}));
}

TEST(Values, NonFiniteRowsFollowPyTorch) {
  const double inf = INFINITY;
  const Tensor x = tensor({inf, 1, 2,            // +inf -> NaN row
                           NAN, 1, 2,            // NaN -> NaN row
                           -inf, -inf, -inf,     // all -inf -> NaN row
                           -inf, 0, 0,           // some -inf -> 0 there
                           -inf, inf, 0})        // both infinities -> NaN row
                       .view({5, 3});
  const auto y = values(softmax(x, 1));
  for (int i = 0; i < 9; ++i) EXPECT_TRUE(std::isnan(y[i])) << i;
  EXPECT_EQ(y[9], 0.0);
  EXPECT_EQ(y[10], 0.5);
  for (int i = 12; i < 15; ++i) EXPECT_TRUE(std::isnan(y[i])) << i;
  const auto ly = values(log_softmax(x, 1));
  EXPECT_TRUE(std::isnan(ly[0]) && std::isnan(ly[3]) && std::isnan(ly[6]));
  EXPECT_EQ(ly[9], -inf);
  EXPECT_NEAR(ly[10], -std::log(2.0), 1e-7);
  // softmin of -inf: the negation makes it +inf, so the row is NaN.
  EXPECT_TRUE(std::isnan(values(softmin(tensor({-inf, 0}), 0))[0]));
  const auto mn = values(softmin(tensor({inf, 0}), 0));
  EXPECT_EQ(mn, (std::vector<double>{0, 1}));
}

TEST(Values, StridedViewsMatchTheirContiguousCopies) {
  const Tensor base = randn({6, 9, 10}, 21);
  float raw[40];
  for (int i = 0; i < 40; ++i) raw[i] = static_cast<float>(std::sin(i));
  const Tensor views[] = {base.transpose(0, 2),       base.narrow(1, 2, 5),
                          base.permute({1, 2, 0}),    base.select(1, 3),
                          base.narrow(2, 1, 8).transpose(1, 2),
                          from_blob(raw, {4, 5}, {2, 8}, kFloat32)};  // every other element
  for (const Tensor& v : views) {
    for (std::int64_t dim = 0; dim < v.dim(); ++dim) {
      for (Op op : kAllOps) {
        EXPECT_EQ(values(run(op, v, dim)), values(run(op, v.contiguous(), dim)))
            << "view " << v.sizes() << " dim " << dim;
      }
    }
  }
}

TEST(Values, SoftminIsSoftmaxOfNegation) {
  const Tensor x = randn({4, 7, 3}, 4);
  for (std::int64_t dim = 0; dim < 3; ++dim) {
    EXPECT_EQ(values(softmin(x, dim)), values(softmax(neg(x), dim)));
  }
}

// 16-bit inputs compute in float32 and round once: within the oracle's bound, whose 16-bit
// term is exactly that one rounding (tests/kernel_oracle.h, store_rounding).
TEST(Values, SixteenBitTypesRoundOnce) {
  for (Dtype dtype : {kFloat16, kBFloat16}) {
    const Tensor x = randn({9, 130}, 31, dtype);
    for (std::int64_t dim : {0, 1}) {
      for (Op op : kAllOps) {
        const Tensor out = run(op, x, dim);
        EXPECT_EQ(out.dtype(), dtype);
        EXPECT_TRUE(test::forward_matches_oracle(op, x, dim, out)) << dtype_name(dtype) << " dim " << dim;
      }
    }
  }
}

TEST(Values, Float32AccuracyOnRowsUpTo10k) {
  for (std::int64_t n : {1, 2, 3, 7, 15, 16, 17, 31, 33, 63, 65, 127, 255, 257, 1000, 4099, 10000}) {
    const Tensor x = randn({3, n}, static_cast<std::uint64_t>(n));
    for (Op op : kAllOps) {
      expect_close_to_oracle(op, x, 1, 1e-6);
      expect_close_to_oracle(op, x.transpose(0, 1).contiguous(), 0, 1e-6);
    }
  }
}

TEST(Values, Float32AccuracyOnA10MillionElementRow) {
  const Tensor x = randn({10'000'000}, 77);
  expect_close_to_oracle(Op::kSoftmax, x, 0, 1e-5);
  expect_close_to_oracle(Op::kLogSoftmax, x, 0, 1e-5);
}

TEST(Values, Float64Accuracy) {
  for (std::int64_t n : {1, 5, 100, 4097}) {
    const Tensor x = randn({4, n}, 90 + static_cast<std::uint64_t>(n), kFloat64);
    for (Op op : kAllOps) {
      expect_close_to_oracle(op, x, 1, 1e-13);
      expect_close_to_oracle(op, x, 0, 1e-13);
    }
  }
}

TEST(Values, SeedExample) {
  const Tensor a = tensor({1, 2, 4, 3, 5, 5}).view({3, 2});
  const Tensor s = nn::Softmax(0)(a);
  EXPECT_EQ(s.repr(),
            "tensor([[0.0132, 0.0420],\n        [0.2654, 0.1142],\n        [0.7214, 0.8438]])");
  EXPECT_EQ(s.sum(0).repr(), "tensor([1., 1.])");
}

}  // namespace
}  // namespace smx
