// Helpers shared by the unit tests: an independent float64 softmax oracle working on plain
// vectors (no smx kernel code), and element access for comparisons.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "smx/smx.h"
#include "tensor/element_access.h"

namespace smx::test {

// All elements of `t` in row-major order, as double (any strides, any dtype).
inline std::vector<double> values(const Tensor& t) {
  const Tensor c = t.contiguous();
  std::vector<double> v(static_cast<std::size_t>(c.numel()));
  for (std::int64_t i = 0; i < c.numel(); ++i) v[i] = detail::load_as_double(c.data_ptr(), c.dtype(), i);
  return v;
}

enum class Op { kSoftmax, kLogSoftmax, kSoftmin };

// float64 softmax of `x` (row-major values of shape `sizes`) along wrapped `dim`, written the
// textbook way: shift by the row max, exponentiate, normalise.
inline std::vector<double> oracle(const std::vector<double>& x, const std::vector<std::int64_t>& sizes,
                                  std::int64_t dim, Op op) {
  std::int64_t outer = 1, n = 1, inner = 1;
  for (std::size_t d = 0; d < sizes.size(); ++d) {
    if (static_cast<std::int64_t>(d) < dim) outer *= sizes[d];
    else if (static_cast<std::int64_t>(d) == dim) n = sizes[d];
    else inner *= sizes[d];
  }
  std::vector<double> y(x.size());
  const double sign = op == Op::kSoftmin ? -1.0 : 1.0;
  for (std::int64_t o = 0; o < outer; ++o) {
    for (std::int64_t i = 0; i < inner; ++i) {
      auto at = [&](std::int64_t k) { return static_cast<std::size_t>((o * n + k) * inner + i); };
      double m = -std::numeric_limits<double>::infinity();
      bool has_nan = false;
      for (std::int64_t k = 0; k < n; ++k) {
        has_nan |= std::isnan(x[at(k)]);
        m = std::max(m, sign * x[at(k)]);
      }
      double s = 0.0;
      for (std::int64_t k = 0; k < n; ++k) s += std::exp(sign * x[at(k)] - m);
      for (std::int64_t k = 0; k < n; ++k) {
        const double v = sign * x[at(k)] - m;
        y[at(k)] = has_nan ? std::nan("")
                   : op == Op::kLogSoftmax ? v - std::log(s)
                                           : std::exp(v) / s;
      }
    }
  }
  return y;
}

// Largest |a - b| / max(|b|, floor) over all elements; NaN must match NaN exactly.
inline double max_rel_error(const std::vector<double>& a, const std::vector<double>& b,
                            double floor = 1e-300) {
  EXPECT_EQ(a.size(), b.size());
  double worst = 0.0;
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) {
    if (std::isnan(b[i]) || std::isnan(a[i])) {
      EXPECT_EQ(std::isnan(a[i]), std::isnan(b[i])) << "at " << i << ": " << a[i] << " vs " << b[i];
      continue;
    }
    if (a[i] == b[i]) continue;  // equal infinities too
    worst = std::max(worst, std::fabs(a[i] - b[i]) / std::max(std::fabs(b[i]), floor));
  }
  return worst;
}

}  // namespace smx::test
