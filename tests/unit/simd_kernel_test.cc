// The SIMD kernels on every instruction-set target this CPU supports, against the long-double
// oracle (tests/kernel_oracle.h, per-element bounds with their reasons): inputs that overflow
// without the max shift, NaN/inf in short rows and columns; and the scalar reference kernels
// against the same oracle. The edges of every path (long rows, tiled columns, backward) are in
// kernel_edges_test.cc, NaN/inf in long rows and tall columns in kernel_special_values_test.cc,
// the thread-count identity in thread_pool_test.cc.
#include <gtest/gtest.h>

#include <hwy/targets.h>

#include <cmath>
#include <string>
#include <vector>

#include "kernel_oracle.h"
#include "kernels/kernel_table.h"
#include "simd_target_fixture.h"
#include "smx/smx.h"
#include "test_support.h"

namespace smx {
namespace {

using test::Op;

using test::supported_targets;
using test::target_name;
class PerTarget : public test::SimdTargetTest {};

TEST_P(PerTarget, DispatchUsesTheForcedTarget) { EXPECT_STREQ(simd_target(), hwy::TargetName(GetParam())); }

TEST_P(PerTarget, InputsThatOverflowWithoutTheMaxShift) {
  for (Dtype dtype : {kFloat32, kFloat64, kBFloat16}) {
    Tensor x = rand({5, 333}, 4, kFloat64);
    for (std::int64_t i = 0; i < x.numel(); ++i) x.data<double>()[i] = 90 + 10 * x.data<double>()[i];
    x = x.to(dtype);
    for (Op op : {Op::kSoftmax, Op::kLogSoftmax}) {
      EXPECT_TRUE(test::forward_matches_oracle(op, x, 1)) << "hot rows " << dtype_name(dtype);
      EXPECT_TRUE(test::forward_matches_oracle(op, x, 0)) << "hot columns " << dtype_name(dtype);
    }
  }
}

TEST_P(PerTarget, NonFiniteRowsAndColumns) {
  const double inf = INFINITY;
  // Row 0: +inf; row 1: NaN; row 2: all -inf; row 3: -inf among finite; row 4: NaN among -inf.
  std::vector<double> v(5 * 40, 0.0);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = std::sin(static_cast<double>(i));
  v[7] = inf;
  v[40 + 33] = NAN;
  v[40 + 7] = NAN;  // a NaN followed by smaller values in the same column tile
  v[40 + 8] = -inf;
  for (std::size_t i = 80; i < 120; ++i) v[i] = -inf;
  v[120 + 3] = -inf;
  for (std::size_t i = 160; i < 200; ++i) v[i] = -inf;
  v[160 + 39] = NAN;
  for (Dtype dtype : {kFloat32, kFloat64, kFloat16, kBFloat16}) {
    const Tensor x = tensor(v, dtype).view({5, 40});
    for (Op op : {Op::kSoftmax, Op::kLogSoftmax, Op::kSoftmin}) {
      EXPECT_TRUE(test::forward_matches_oracle(op, x, 1)) << "special rows " << dtype_name(dtype);
      EXPECT_TRUE(test::forward_matches_oracle(op, x.transpose(0, 1).contiguous(), 0))
          << "special columns " << dtype_name(dtype);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllTargets, PerTarget, ::testing::ValuesIn(supported_targets()), target_name);

TEST(SimdDispatch, SeveralTargetsAreTestedHere) {
  // On x86 at least SSE4-class and the emulated fallback exist; this CPU (AVX-512) has more.
  EXPECT_GE(supported_targets().size(), 2u);
}

// The scalar reference kernels (SMX_ISA=REFERENCE) and the SIMD kernels both meet the oracle's
// bounds, forward and backward (on the same g and y), rows, columns and strided views.
TEST(Reference, ReferenceAndSimdKernelsMeetTheOracle) {
  const Tensor base = randn({6, 130, 70}, 41, kFloat64);
  struct Case {
    Tensor x;
    std::int64_t dim;
  };
  std::vector<Case> cases;
  for (Dtype dtype : {kFloat32, kFloat64, kFloat16, kBFloat16}) {
    const Tensor x = base.to(dtype);
    for (std::int64_t dim : {0, 1, 2}) {
      cases.push_back({x, dim});
      cases.push_back({x.transpose(0, 2), dim});
    }
    cases.push_back({randn({2, detail::kFusedRowMax + 1}, 42, kFloat64).to(dtype), 1});  // long rows, chunked
  }
  std::size_t differing = 0;  // the two paths round differently: proof both really ran
  const bool before = detail::reference_kernels_selected();
  for (const auto& c : cases) {
    const Tensor g = randn(c.x.sizes(), 43, c.x.dtype());
    const Tensor y = softmax(c.x, c.dim);
    const Tensor ly = log_softmax(c.x, c.dim);
    std::vector<std::vector<double>> results[2];
    for (bool reference : {true, false}) {
      detail::force_reference_kernels_for_test(reference);
      EXPECT_EQ(std::string(simd_target()) == "REFERENCE", reference);
      const std::string what = std::string(reference ? "reference " : "simd ") + dtype_name(c.x.dtype()) +
                               " dim " + std::to_string(c.dim);
      for (Op op : {Op::kSoftmax, Op::kLogSoftmax, Op::kSoftmin}) {
        const Tensor out = test::run_op(op, c.x, c.dim);
        EXPECT_TRUE(test::forward_matches_oracle(op, c.x, c.dim, out)) << test::op_name(op) << " " << what;
        results[reference].push_back(test::values(out));
      }
      const Tensor dx = softmax_backward(g, y, c.dim);
      const Tensor ldx = log_softmax_backward(g, ly, c.dim);
      EXPECT_TRUE(test::backward_matches_oracle(false, g, y, c.dim, dx)) << "softmax backward " << what;
      EXPECT_TRUE(test::backward_matches_oracle(true, g, ly, c.dim, ldx)) << "log_softmax backward " << what;
      results[reference].push_back(test::values(dx));
      results[reference].push_back(test::values(ldx));
    }
    detail::force_reference_kernels_for_test(before);
    for (std::size_t r = 0; r < results[0].size(); ++r) {
      for (std::size_t i = 0; i < results[0][r].size(); ++i) differing += results[0][r][i] != results[1][r][i];
    }
  }
  EXPECT_GT(differing, 0u);
}

}  // namespace
}  // namespace smx
