// cross_entropy, its gradient, token_logprobs and entropy against a float64 oracle written on
// plain vectors (the textbook log-softmax with a long-double log-sum-exp, then PyTorch 1.13's
// formulas for weights, ignore_index, label smoothing and reductions) - the C++ library alone,
// without Python (tests/python/test_cross_entropy.py compares with PyTorch itself). Tolerances:
// the "oracle" rows of tests/tolerances.h (the loss in log form, gradients relative to the
// largest element).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "smx/smx.h"
#include "test_support.h"
#include "tolerances.h"

namespace smx {
namespace {

using test::values;

// a * t + b for a float64 tensor t, in `dtype`.
Tensor affine(const Tensor& t, double a, double b, Dtype dtype) {
  Tensor out = t.clone();
  for (std::int64_t i = 0; i < out.numel(); ++i) out.data<double>()[i] = a * out.data<double>()[i] + b;
  return out.to(dtype);
}

// log_softmax rows of an (N, C) row-major matrix.
std::vector<double> log_softmax_rows(const std::vector<double>& x, std::int64_t N, std::int64_t C) {
  std::vector<double> out(x.size());
  for (std::int64_t n = 0; n < N; ++n) {
    long double m = -INFINITY, s = 0;
    for (std::int64_t c = 0; c < C; ++c) m = std::max<long double>(m, x[n * C + c]);
    for (std::int64_t c = 0; c < C; ++c) s += std::exp(static_cast<long double>(x[n * C + c]) - m);
    for (std::int64_t c = 0; c < C; ++c) out[n * C + c] = static_cast<double>(x[n * C + c] - m - std::log(s));
  }
  return out;
}

struct Oracle {
  std::vector<double> per_row;  // reduction none
  double reduced;               // mean or sum
  std::vector<double> grad;     // of the reduced loss (grad_loss = 1)
};

// PyTorch 1.13's cross_entropy for index targets on (N, C).
Oracle oracle(const std::vector<double>& x, const std::vector<std::int64_t>& t, std::int64_t N, std::int64_t C,
              const std::vector<double>& w, double eps, Reduction r) {
  const auto lp = log_softmax_rows(x, N, C);
  auto wt = [&](std::int64_t c) { return w.empty() ? 1.0 : w[static_cast<std::size_t>(c)]; };
  double W = 0, kept = 0, total = 0;
  for (std::int64_t c = 0; c < C; ++c) W += wt(c);
  Oracle o{std::vector<double>(static_cast<std::size_t>(N), 0.0), 0.0, std::vector<double>(x.size(), 0.0)};
  for (std::int64_t n = 0; n < N; ++n) {
    if (t[n] == -100) continue;
    kept += wt(t[n]);
    double smooth = 0;
    for (std::int64_t c = 0; c < C; ++c) smooth -= wt(c) * lp[n * C + c];
    o.per_row[n] = (1 - eps) * -wt(t[n]) * lp[n * C + t[n]] + eps / C * smooth;
    total += o.per_row[n];
  }
  o.reduced = r == Reduction::kMean ? total / kept : total;
  const double scale = r == Reduction::kMean ? 1.0 / kept : 1.0;
  for (std::int64_t n = 0; n < N; ++n) {
    if (t[n] == -100) continue;
    const double a = (1 - eps) * wt(t[n]) * scale, b = eps / C * scale;
    for (std::int64_t c = 0; c < C; ++c) {
      o.grad[n * C + c] = std::exp(lp[n * C + c]) * (a + b * W) - (c == t[n] ? a : 0.0) - b * wt(c);
    }
  }
  return o;
}

void expect_close(const std::vector<double>& got, const std::vector<double>& want, Dtype dtype, bool grad,
                  const std::string& what) {
  test::Tolerance tl = test::tolerance(grad ? test::Pass::kBackward : test::Pass::kForward, test::Reference::kOracle, dtype);
  if (grad) {
    double m = 1e-300;
    for (double v : want) m = std::max(m, std::fabs(v));
    tl.atol = tl.rtol * m;
  }
  EXPECT_LE(test::excess(got, want, tl, /*log_form=*/!grad), 1.0) << what;
}

TEST(CrossEntropy, IndexTargetsEveryOptionAgainstTheOracle) {
  const std::int64_t N = 7, C = 300;  // C above a vector's lanes, not a multiple of them
  for (Dtype dtype : {kFloat64, kFloat32, kFloat16, kBFloat16}) {
    const Tensor x = affine(randn({N, C}, 1, kFloat64), 3.0, 0.0, dtype);
    const auto xv = values(x);
    Tensor t = empty({N}, kInt64);
    std::vector<std::int64_t> tv;
    for (std::int64_t n = 0; n < N; ++n) tv.push_back(n == 2 ? -100 : (n * 37) % C);
    for (std::int64_t n = 0; n < N; ++n) t.data<std::int64_t>()[n] = tv[static_cast<std::size_t>(n)];
    const Tensor w = affine(rand({C}, 2, kFloat64), 1.0, 0.5, dtype);
    for (bool weighted : {false, true}) {
      for (double eps : {0.0, 0.1}) {
        for (Reduction r : {Reduction::kMean, Reduction::kSum, Reduction::kNone}) {
          CrossEntropyOptions o;
          if (weighted) o.weight = w;
          o.label_smoothing = eps;
          o.reduction = r;
          const Oracle want = oracle(xv, tv, N, C, weighted ? values(w) : std::vector<double>{}, eps,
                                     r == Reduction::kNone ? Reduction::kSum : r);
          const std::string what = dtype_name(dtype) + (weighted ? " weighted" : "") + " eps " + std::to_string(eps) +
                                   " reduction " + std::to_string(static_cast<int>(r));
          const Tensor loss = cross_entropy(x, t, o);
          EXPECT_EQ(loss.dtype(), dtype);
          if (r == Reduction::kNone) {
            expect_close(values(loss), want.per_row, dtype, false, what);
            continue;
          }
          expect_close(values(loss), {want.reduced}, dtype, false, what);
          auto [loss2, dx] = cross_entropy_with_grad(x, t, o);
          expect_close(values(loss2), {want.reduced}, dtype, false, "with_grad " + what);
          expect_close(values(dx), want.grad, dtype, true, "gradient " + what);
          Tensor buf = x.clone();
          auto [loss3, dx3] = cross_entropy_with_grad(buf, t, o, /*inplace=*/true);
          EXPECT_EQ(dx3.data_ptr(), buf.data_ptr()) << what;
          expect_close(values(buf), want.grad, dtype, true, "in place " + what);
          const Tensor dxb = cross_entropy_backward(full({}, 1.0, dtype), x, t, o);
          expect_close(values(dxb), want.grad, dtype, true, "backward " + what);
        }
      }
    }
  }
}

TEST(CrossEntropy, ClassDimOneOfHigherRankInputs) {
  // (N, C, d) is (N * d) rows of C: the same loss as the transposed (N, d, C) matrix.
  const Tensor x = randn({3, 5, 4}, 3, kFloat64);
  Tensor t = empty({3, 4}, kInt64);
  for (std::int64_t i = 0; i < 12; ++i) t.data<std::int64_t>()[i] = (i * 3) % 5;
  const std::vector<double> rows = values(x.transpose(1, 2).contiguous());
  std::vector<std::int64_t> tv(t.data<std::int64_t>(), t.data<std::int64_t>() + 12);
  const Oracle want = oracle(rows, tv, 12, 5, {}, 0.0, Reduction::kMean);
  expect_close(values(cross_entropy(x, t)), {want.reduced}, kFloat64, false, "(N, C, d)");
}

TEST(CrossEntropy, TokenLogprobsAndEntropy) {
  const Tensor x = randn({4, 9}, 4, kFloat64);
  const auto lp = log_softmax_rows(values(x), 4, 9);
  Tensor ids = empty({4, 2}, kInt64);
  std::vector<double> want_lp, want_h(4, 0.0);
  for (std::int64_t n = 0; n < 4; ++n) {
    for (std::int64_t k = 0; k < 2; ++k) {
      const std::int64_t id = (n * 5 + k * 7) % 9;
      ids.data<std::int64_t>()[n * 2 + k] = id;
      want_lp.push_back(lp[static_cast<std::size_t>(n * 9 + id)]);
    }
    for (std::int64_t c = 0; c < 9; ++c) want_h[n] -= std::exp(lp[n * 9 + c]) * lp[n * 9 + c];
  }
  expect_close(values(token_logprobs(x, ids, 1)), want_lp, kFloat64, false, "token_logprobs");
  expect_close(values(entropy(x, -1)), want_h, kFloat64, false, "entropy");
}

TEST(CrossEntropy, ErrorsAsPyTorch) {
  const Tensor x = randn({3, 4}, 5);
  Tensor t = zeros({3}, kInt64);
  t.data<std::int64_t>()[1] = 5;
  EXPECT_THROW(cross_entropy(x, t), IndexError);
  EXPECT_THROW(cross_entropy(x, zeros({2}, kInt64)), ValueError);
  EXPECT_THROW(cross_entropy(x, zeros({3})), RuntimeError);  // float indices
  CrossEntropyOptions o;
  o.weight = ones({2});
  EXPECT_THROW(cross_entropy(x, zeros({3}, kInt64), o), RuntimeError);
  EXPECT_THROW(parse_reduction("avg"), ValueError);
  try {
    cross_entropy(x, t);
  } catch (const IndexError& e) {
    EXPECT_STREQ(e.what(), "Target 5 is out of bounds.");
  }
}

}  // namespace
}  // namespace smx
