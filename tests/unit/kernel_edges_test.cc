// Every kernel path at its edges, on every SIMD target this CPU runs, every dtype, against the
// long-double oracle with per-element bounds (tests/kernel_oracle.h): rows and columns of
// lengths derived from the kernel constants (tests/kernel_edges.h), forward and backward.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <sstream>
#include <string>

#include "kernel_edges.h"
#include "kernel_oracle.h"
#include "simd_target_fixture.h"
#include "smx/smx.h"

namespace smx {
namespace {

using detail::kColShortN;
using detail::kColTile;
using detail::kFusedRowMax;
using test::Op;

constexpr Dtype kDtypes[] = {kFloat32, kFloat64, kFloat16, kBFloat16};
constexpr Op kOps[] = {Op::kSoftmax, Op::kLogSoftmax, Op::kSoftmin};

class KernelEdges : public test::SimdTargetTest {
 protected:
  std::int64_t lanes() const { return detail::simd_kernel_table().lanes_f32; }
};

std::string label(Dtype dtype, const Tensor& x, std::int64_t dim) {
  std::ostringstream os;
  os << dtype_name(dtype) << " shape " << x.sizes() << " dim " << dim;
  return os.str();
}

TEST_P(KernelEdges, LengthsReachEveryPath) {
  // The lengths below must reach both row paths and both column paths, and the stats block
  // edges inside a chunk (a second chunk of kStatsBlock - 1, kStatsBlock, kStatsBlock + 1).
  const auto rows = detail::edges::row_lengths(lanes());
  const auto cols = detail::edges::column_heights();
  EXPECT_TRUE(std::any_of(rows.begin(), rows.end(), [](auto n) { return !detail::edges::takes_long_row_path(n); }));
  EXPECT_TRUE(std::any_of(rows.begin(), rows.end(), detail::edges::takes_long_row_path));
  for (std::int64_t r : {-1, 0, 1}) {
    const std::int64_t n = kFusedRowMax + detail::edges::kStatsBlockUsed + r;
    EXPECT_NE(std::find(rows.begin(), rows.end(), n), rows.end()) << n;
  }
  EXPECT_TRUE(std::any_of(cols.begin(), cols.end(), [](auto n) { return !detail::edges::takes_tiled_column_path(n); }));
  EXPECT_TRUE(std::any_of(cols.begin(), cols.end(), detail::edges::takes_tiled_column_path));
  EXPECT_EQ(detail::simd_kernel_table().target, std::string(hwy::TargetName(GetParam())));
}

// Rows (the softmax dim last and contiguous). Short rows come two at a time (the row-block
// path); long rows one at a time (its chunks run in parallel) - the special-values test runs
// many long rows at once.
TEST_P(KernelEdges, RowsForward) {
  for (std::int64_t n : detail::edges::row_lengths(lanes())) {
    for (Dtype dtype : kDtypes) {
      const std::int64_t count = detail::edges::takes_long_row_path(n) ? 1 : 2;
      const Tensor x = randn({count, n}, static_cast<std::uint64_t>(n), dtype);
      for (Op op : kOps) {
        ASSERT_TRUE(test::forward_matches_oracle(op, x, 1)) << test::op_name(op) << " " << label(dtype, x, 1);
      }
    }
  }
}

// Strided rows (a transposed view: the row is gathered chunk by chunk) give the contiguous
// row's bits, at the fused/chunked switch.
TEST_P(KernelEdges, StridedRowsGiveTheContiguousBits) {
  for (std::int64_t n : detail::edges::around({kFusedRowMax}, 1 << 30)) {
    for (Dtype dtype : {kFloat32, kBFloat16}) {
      const Tensor x = randn({n, 2}, static_cast<std::uint64_t>(n + 7), dtype).transpose(0, 1);
      for (Op op : kOps) {
        ASSERT_TRUE(test::same_values(test::values(test::run_op(op, x, 1)), test::values(test::run_op(op, x.contiguous(), 1))))
            << test::op_name(op) << " " << label(dtype, x, 1);
      }
    }
  }
}

// Columns (dims follow the softmax dim): heights at the tile and short-column edges, lanes
// covering full vectors and one-lane leftovers, a batch of two; a strided-lane view of the same
// values must give the same bits (the one-lane kernel).
TEST_P(KernelEdges, ColumnsForward) {
  const std::int64_t lanes_count = detail::edges::column_lanes(lanes());
  for (std::int64_t n : detail::edges::column_heights()) {
    for (Dtype dtype : kDtypes) {
      const Tensor x = randn({2, n, lanes_count}, static_cast<std::uint64_t>(n * 31 + 5), dtype);
      const Tensor strided = x.transpose(1, 2).contiguous().transpose(1, 2);
      for (Op op : kOps) {
        const Tensor y = test::run_op(op, x, 1);
        ASSERT_TRUE(test::forward_matches_oracle(op, x, 1, y)) << test::op_name(op) << " " << label(dtype, x, 1);
        ASSERT_TRUE(test::same_values(test::values(test::run_op(op, strided, 1)), test::values(y)))
            << "strided lanes, " << test::op_name(op) << " " << label(dtype, x, 1);
      }
    }
  }
}

// Inputs spread over float32's whole exp range within one group: outputs down to e^-87 and the
// flush below it, in long rows and tall columns.
TEST_P(KernelEdges, WideSpreadInLongRowsAndTallColumns) {
  const std::int64_t n_row = kFusedRowMax + detail::edges::kStatsBlockUsed + 1;
  const std::int64_t n_col = kColShortN + kColTile + 1;
  for (Dtype dtype : kDtypes) {
    Tensor r = rand({1, n_row}, 11, kFloat64);
    for (std::int64_t i = 0; i < r.numel(); ++i) r.data<double>()[i] = 100.0 * r.data<double>()[i] - 50.0;
    Tensor c = rand({n_col, 5}, 12, kFloat64);
    for (std::int64_t i = 0; i < c.numel(); ++i) c.data<double>()[i] = 100.0 * c.data<double>()[i] - 50.0;
    r = r.to(dtype);
    c = c.to(dtype);
    for (Op op : kOps) {
      ASSERT_TRUE(test::forward_matches_oracle(op, r, 1)) << test::op_name(op) << " " << label(dtype, r, 1);
      ASSERT_TRUE(test::forward_matches_oracle(op, c, 0)) << test::op_name(op) << " " << label(dtype, c, 0);
    }
  }
}

// Backward: g and y rounded to the dtype are the inputs; the oracle works on those values.
TEST_P(KernelEdges, BackwardRowsAndColumns) {
  struct Shape {
    std::vector<std::int64_t> sizes;
    std::int64_t dim;
  };
  std::vector<Shape> shapes;
  for (std::int64_t n : detail::edges::around({1, lanes(), 4 * lanes(), kFusedRowMax, 2 * kFusedRowMax}, 1 << 30)) {
    shapes.push_back({{detail::edges::takes_long_row_path(n) ? 1 : 2, n}, 1});
  }
  const std::int64_t lanes_count = detail::edges::column_lanes(lanes());
  for (std::int64_t n : detail::edges::around({kColTile, kColShortN + kColTile}, 1 << 30)) {
    shapes.push_back({{n, lanes_count}, 0});
  }
  for (const Shape& s : shapes) {
    for (Dtype dtype : kDtypes) {
      const Tensor x = randn(Size(s.sizes), 21, dtype);
      const Tensor g = randn(Size(s.sizes), 22, dtype);
      for (bool log : {false, true}) {
        const Tensor y = log ? log_softmax(x, s.dim) : softmax(x, s.dim);
        ASSERT_TRUE(test::backward_matches_oracle(log, g, y, s.dim))
            << (log ? "log_softmax" : "softmax") << " backward " << label(dtype, x, s.dim);
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllTargets, KernelEdges, ::testing::ValuesIn(test::supported_targets()), test::target_name);

}  // namespace
}  // namespace smx
