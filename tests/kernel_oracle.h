// The test oracle for the kernels: softmax, log_softmax, softmin and both backward passes
// written straight from their definitions in long double with compensated (Neumaier) sums, on
// plain vectors (no smx kernel code), and a per-element error bound for each dtype's kernels
// derived from the operations they round. The repo's reference kernels are an implementation
// like the SIMD ones; this is what both are judged against.
//
// Special values follow PyTorch (checked against torch 1.13): a group holding a NaN, or whose
// max (of -x for softmin) is not finite - +inf present, or only -inf - is NaN throughout.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "smx/smx.h"
#include "test_support.h"

namespace smx::test {

// A running sum in long double with Neumaier's compensation: error ~ 2^-64 relative whatever n.
class CompensatedSum {
 public:
  void add(long double v) {
    const long double t = sum_ + v;
    comp_ += std::fabs(sum_) >= std::fabs(v) ? (sum_ - t) + v : (v - t) + sum_;
    sum_ = t;
  }
  long double total() const { return sum_ + comp_; }

 private:
  long double sum_ = 0.0L;
  long double comp_ = 0.0L;
};

// Groups of a row-major tensor of `sizes` along `dim`: group (o, i) is elements
// (o * n + k) * inner + i for k in [0, n).
struct GroupLayout {
  std::int64_t outer = 1, n = 1, inner = 1;
  GroupLayout(const std::vector<std::int64_t>& sizes, std::int64_t dim) {
    for (std::size_t d = 0; d < sizes.size(); ++d) {
      if (static_cast<std::int64_t>(d) < dim) outer *= sizes[d];
      else if (static_cast<std::int64_t>(d) == dim) n = sizes[d];
      else inner *= sizes[d];
    }
  }
  template <typename Fn>  // fn(at) for each group, at(k) = the k-th element's index
  void for_each_group(Fn&& fn) const {
    for (std::int64_t o = 0; o < outer; ++o) {
      for (std::int64_t i = 0; i < inner; ++i) {
        fn([&, o, i](std::int64_t k) { return static_cast<std::size_t>((o * n + k) * inner + i); });
      }
    }
  }
};

// The exact result of each element, plus what its error bound depends on.
struct ForwardExact {
  std::vector<double> y;
  std::vector<double> shifted;  // x - max (softmin: -x - max(-x)): exp's condition number
  std::vector<double> log_sum;  // log(sum(exp(shifted))) of the element's group
};

inline ForwardExact forward_oracle(const std::vector<double>& x, const std::vector<std::int64_t>& sizes,
                                   std::int64_t dim, Op op) {
  const GroupLayout layout(sizes, dim);
  ForwardExact out{std::vector<double>(x.size()), std::vector<double>(x.size()), std::vector<double>(x.size())};
  const long double sign = op == Op::kSoftmin ? -1.0L : 1.0L;
  layout.for_each_group([&](auto at) {
    long double m = -std::numeric_limits<long double>::infinity();
    bool nan = false;
    for (std::int64_t k = 0; k < layout.n; ++k) {
      nan |= std::isnan(x[at(k)]);
      m = std::max(m, sign * x[at(k)]);
    }
    if (nan || !std::isfinite(m)) {  // PyTorch's rule for the whole group
      for (std::int64_t k = 0; k < layout.n; ++k) out.y[at(k)] = out.shifted[at(k)] = out.log_sum[at(k)] = NAN;
      return;
    }
    CompensatedSum s;
    for (std::int64_t k = 0; k < layout.n; ++k) s.add(std::exp(sign * x[at(k)] - m));
    const long double log_s = std::log(s.total());
    for (std::int64_t k = 0; k < layout.n; ++k) {
      const long double v = sign * x[at(k)] - m;
      out.shifted[at(k)] = static_cast<double>(v);
      out.log_sum[at(k)] = static_cast<double>(log_s);
      out.y[at(k)] = static_cast<double>(op == Op::kLogSoftmax ? v - log_s : std::exp(v) / s.total());
    }
  });
  return out;
}

// dL/dx from dL/dy = g and the forward output y (both as stored, i.e. already rounded to the
// dtype): softmax dx = y * (g - sum(g * y)); log_softmax dx = g - exp(y) * sum(g).
struct BackwardExact {
  std::vector<double> dx;
  std::vector<double> acc;      // the group's sum(g * y) (softmax) or sum(g) (log_softmax)
  std::vector<double> acc_abs;  // the same sum of absolute values: the sum's condition
};

inline BackwardExact backward_oracle(const std::vector<double>& g, const std::vector<double>& y,
                                     const std::vector<std::int64_t>& sizes, std::int64_t dim, bool log) {
  const GroupLayout layout(sizes, dim);
  BackwardExact out{std::vector<double>(g.size()), std::vector<double>(g.size()), std::vector<double>(g.size())};
  layout.for_each_group([&](auto at) {
    CompensatedSum acc, acc_abs;
    for (std::int64_t k = 0; k < layout.n; ++k) {
      const long double term = log ? static_cast<long double>(g[at(k)])
                                   : static_cast<long double>(g[at(k)]) * static_cast<long double>(y[at(k)]);
      acc.add(term);
      acc_abs.add(std::fabs(term));
    }
    const long double a = acc.total();
    for (std::int64_t k = 0; k < layout.n; ++k) {
      const long double gk = g[at(k)], yk = y[at(k)];
      out.dx[at(k)] = static_cast<double>(log ? gk - std::exp(yk) * a : yk * (gk - a));
      out.acc[at(k)] = static_cast<double>(a);
      out.acc_abs[at(k)] = static_cast<double>(acc_abs.total());
    }
  });
  return out;
}

// ---- error bounds -------------------------------------------------------------------------------
// Units: u = the unit roundoff (half an ulp) of the type the kernels compute in - float64 for
// float64, float32 for the others (16-bit dtypes are widened exactly to float32 and rounded once
// on store). Sums are kept in double whatever the dtype.

inline double compute_unit_roundoff(Dtype dtype) { return dtype == kFloat64 ? 0x1p-53 : 0x1p-24; }
inline constexpr double kDoubleUnitRoundoff = 0x1p-53;

// The spacing of `dtype` at |v| (an ulp; the subnormal spacing below the normal range).
inline double dtype_ulp(Dtype dtype, double v) {
  int digits = 53, min_exp = -1022;  // significand bits, least normal exponent
  switch (dtype) {
    case kFloat32: digits = 24; min_exp = -126; break;
    case kFloat16: digits = 11; min_exp = -14; break;
    case kBFloat16: digits = 8; min_exp = -126; break;
    default: break;
  }
  const double a = std::fabs(v);
  const int e = a == 0.0 || !std::isfinite(a) ? min_exp : std::max(std::ilogb(a), min_exp);
  return std::ldexp(1.0, e - digits + 1);
}

// Half an ulp of the dtype for the final rounding of a 16-bit result (float32 and float64
// results are the last compute operation's rounding, counted in the bounds below).
inline double store_rounding(Dtype dtype, double v) {
  return dtype == kFloat16 || dtype == kBFloat16 ? 0.5 * dtype_ulp(dtype, v) : 0.0;
}

// The oracle's long-double result is handed over rounded to double: half an ulp of float64.
inline double oracle_rounding(double want) { return kDoubleUnitRoundoff * std::fabs(want); }

// The exp the kernels use, in units of u: float32's ExpNonPositiveF32 is within 2 ulp (4 u),
// hwy::Exp (float64, and the backward's float32 exp) within 1 ulp (2 u).
inline double exp_error_u(Dtype dtype) { return dtype == kFloat64 ? 2.0 : 4.0; }

// Absolute bound for one forward output, element `i` of `e` over a group of `n`:
//  softmax/softmin, relative to y:
//    u * |x - max|     the shift x - max is rounded once; exp turns that absolute error into a
//                      relative one (exp's condition number at v is |v|)
//    + u * exp_err     the exp of this element
//    + u * (exp_err + 2)   the sum: each positive term's exp error, plus float adds of four exp
//                      vectors before the double sum (rows_fused)
//    + 2 u             1/sum rounded to the compute type, and the final product
//    + 2 n u_double    the double sum's rounding over n terms, and up to one 1-ulp rescale per
//                      column tile in the tall-column kernel (both at most n)
//   plus an absolute floor: float32's exp flushes results below e^-87.3 (< 2^-126) to 0, and
//   float64's below the normal range are not promised either.
//  log_softmax, absolute: u * (|x - max| + |log sum| + |y|) for the three roundings of
//   (x - max) - log(sum), plus the relative error of the sum (see above), which log turns
//   into an absolute one.
//  Either way a 16-bit result adds its one rounding on store, and the oracle's value its
//  rounding to double.
inline double forward_bound(Dtype dtype, Op op, std::int64_t n, const ForwardExact& e, std::size_t i) {
  const double u = compute_unit_roundoff(dtype);
  const double sum_rel = u * (exp_error_u(dtype) + 2.0) + 2.0 * static_cast<double>(n) * kDoubleUnitRoundoff;
  const double v = std::fabs(e.shifted[i]);
  const double y = e.y[i];
  if (std::isinf(v)) return 0.0;  // a -inf input in a finite group: exactly 0 (log: -inf)
  double bound;
  if (op == Op::kLogSoftmax) {
    bound = u * (v + std::fabs(e.log_sum[i]) + std::fabs(y)) + sum_rel;
  } else {
    const double rel = u * (v + exp_error_u(dtype) + 2.0) + sum_rel;
    const double flush_floor = dtype == kFloat64 ? 0x1p-1022 : 0x1p-126;
    bound = rel * std::fabs(y) + flush_floor;
  }
  return bound + store_rounding(dtype, y) + oracle_rounding(y);
}

// Absolute bound for one backward output over a group of `n`:
//  softmax, dx = y * (g - acc), acc = sum(g * y):
//    |y| * u * sum|g y|      each product g * y rounded in the compute type
//    |y| * n u_double sum|g y|   the double sum (its condition: sum|g y| / |acc|)
//    |y| * u * |acc|         acc rounded to the compute type
//    |y| * u * |g - acc|     the subtraction
//    u * |dx|                the product
//  log_softmax, dx = g - exp(y) * acc, acc = sum(g):
//    exp(y) * n u_double sum|g|   the double sum (g is exact in the compute type)
//    exp(y) * u * |acc| * (1 + 2 + 1)   acc rounded; exp within 1 ulp (2 u); the product
//                            (targets without FMA round it separately)
//    u * |dx|                the subtraction
//  A 16-bit result adds its one rounding on store, and the oracle's value its rounding to double.
inline double backward_bound(Dtype dtype, bool log, std::int64_t n, const std::vector<double>& g,
                             const std::vector<double>& y, const BackwardExact& e, std::size_t i) {
  const double u = compute_unit_roundoff(dtype);
  const double sum_err = static_cast<double>(n) * kDoubleUnitRoundoff * e.acc_abs[i];
  const double acc = std::fabs(e.acc[i]);
  double bound;
  if (log) {
    const double ey = std::exp(y[i]);
    bound = ey * (sum_err + 4.0 * u * acc) + u * std::fabs(e.dx[i]);
  } else {
    const double ay = std::fabs(y[i]);
    bound = ay * (u * e.acc_abs[i] + sum_err + u * acc + u * std::fabs(g[i] - e.acc[i])) + u * std::fabs(e.dx[i]);
  }
  return bound + store_rounding(dtype, e.dx[i]) + oracle_rounding(e.dx[i]);
}

// Compares `got` with `want` element by element within `bound(i)`: NaN only where NaN is
// wanted, equal infinities, and the first few violations named.
template <typename Bound>
::testing::AssertionResult within_bounds(const std::vector<double>& got, const std::vector<double>& want,
                                         Bound&& bound) {
  if (got.size() != want.size()) {
    return ::testing::AssertionFailure() << "size " << got.size() << " vs " << want.size();
  }
  std::ostringstream errors;
  int bad = 0;
  double worst = 0.0;  // largest |diff| / bound: how much of the bound the kernels use
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double a = got[i], b = want[i];
    bool ok;
    double limit = 0.0;
    if (std::isnan(b) || std::isnan(a)) {
      ok = std::isnan(a) && std::isnan(b);
    } else if (std::isinf(b) || std::isinf(a)) {
      ok = a == b;
    } else {
      limit = bound(i);
      ok = std::fabs(a - b) <= limit;
      if (limit > 0.0) worst = std::max(worst, std::fabs(a - b) / limit);
    }
    if (!ok && ++bad <= 5) {
      errors.precision(17);
      errors << "\n  element " << i << ": got " << a << ", want " << b << " (|diff| " << std::fabs(a - b)
             << ", bound " << limit << ")";
    }
  }
  // SMX_TEST_PRINT_MARGIN=1 prints the share of the bound used, for whoever tightens a kernel.
  if (std::getenv("SMX_TEST_PRINT_MARGIN") != nullptr) std::printf("bound used: %.6f\n", worst);
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << bad << " of " << got.size() << " elements out of bounds" << errors.str();
}

// The same results as a bit-for-bit comparison would see them, read as double: NaN where the
// other has NaN (payloads aside), equal values elsewhere, and zeros of the same sign.
inline ::testing::AssertionResult same_values(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return ::testing::AssertionFailure() << "size " << a.size() << " vs " << b.size();
  for (std::size_t i = 0; i < a.size(); ++i) {
    const bool same = std::isnan(a[i]) ? std::isnan(b[i]) : a[i] == b[i] && std::signbit(a[i]) == std::signbit(b[i]);
    if (!same) {
      std::ostringstream os;
      os.precision(17);
      os << "element " << i << ": " << a[i] << " vs " << b[i];
      return ::testing::AssertionFailure() << os.str();
    }
  }
  return ::testing::AssertionSuccess();
}

inline Tensor run_op(Op op, const Tensor& x, std::int64_t dim) {
  return op == Op::kSoftmax ? softmax(x, dim) : op == Op::kLogSoftmax ? log_softmax(x, dim) : softmin(x, dim);
}

inline const char* op_name(Op op) {
  return op == Op::kSoftmax ? "softmax" : op == Op::kLogSoftmax ? "log_softmax" : "softmin";
}

// `got` (the op's result on x along dim) against the oracle on x's stored values.
inline ::testing::AssertionResult forward_matches_oracle(Op op, const Tensor& x, std::int64_t dim,
                                                         const Tensor& got) {
  const auto sizes = x.sizes().vec();
  const std::int64_t d = dim < 0 ? dim + x.dim() : dim;
  const ForwardExact e = forward_oracle(values(x), sizes, d, op);
  const std::int64_t n = x.dim() == 0 ? 1 : sizes[static_cast<std::size_t>(d)];
  return within_bounds(values(got), e.y, [&](std::size_t i) { return forward_bound(x.dtype(), op, n, e, i); });
}

inline ::testing::AssertionResult forward_matches_oracle(Op op, const Tensor& x, std::int64_t dim) {
  return forward_matches_oracle(op, x, dim, run_op(op, x, dim));
}

// `got` (the backward op's result for grad g and output y along dim) against the oracle.
inline ::testing::AssertionResult backward_matches_oracle(bool log, const Tensor& g, const Tensor& y,
                                                          std::int64_t dim, const Tensor& got) {
  const auto sizes = g.sizes().vec();
  const std::int64_t d = dim < 0 ? dim + g.dim() : dim;
  const auto gv = values(g), yv = values(y);
  const BackwardExact e = backward_oracle(gv, yv, sizes, d, log);
  const std::int64_t n = g.dim() == 0 ? 1 : sizes[static_cast<std::size_t>(d)];
  return within_bounds(values(got), e.dx,
                       [&](std::size_t i) { return backward_bound(g.dtype(), log, n, gv, yv, e, i); });
}

inline ::testing::AssertionResult backward_matches_oracle(bool log, const Tensor& g, const Tensor& y,
                                                          std::int64_t dim) {
  return backward_matches_oracle(log, g, y, dim,
                                 log ? log_softmax_backward(g, y, dim) : softmax_backward(g, y, dim));
}

}  // namespace smx::test
