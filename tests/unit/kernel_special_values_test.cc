// NaN, +inf, -inf and all -inf groups in rows and columns on both sides of each path switch
// (fused vs chunked rows, short vs tiled columns), at the beginning, the middle, on both sides
// of chunk, stats-block and column-tile boundaries, and at the end; every target, dtype and op,
// against the long-double oracle. PyTorch's rule (torch 1.13, checked): a group holding a NaN,
// or whose max - of -x for softmin - is not finite (+inf present, or only -inf), is NaN
// throughout; otherwise -inf entries give 0 (log_softmax: -inf) and the rest is finite.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

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

constexpr double kInf = INFINITY;

struct Pattern {
  std::string name;
  std::function<void(std::vector<double>&)> apply;  // changes a group of random finite values
};

// Where single special values go in a group of n: the ends, the middle, and both sides of the
// boundaries the group's kernel cuts it at (those past the end are dropped). Rows: stats blocks
// and chunks (the fused kernel has no boundaries but vector tails); columns: tiles.
std::vector<std::int64_t> positions(std::int64_t n, bool row) {
  const std::int64_t block = detail::edges::kStatsBlockUsed;
  std::set<std::int64_t> out{0, n / 2, n - 2, n - 1};
  const auto cuts = row ? std::vector<std::int64_t>{block, kFusedRowMax, kFusedRowMax + block}
                        : std::vector<std::int64_t>{kColTile, 2 * kColTile};
  for (std::int64_t c : cuts) {
    for (std::int64_t p : {c - 1, c}) out.insert(p);
  }
  std::vector<std::int64_t> kept;
  for (std::int64_t p : out) {
    if (p >= 0 && p < n) kept.push_back(p);
  }
  return kept;
}

// NaN and +inf go everywhere (softmin negates, so its +inf cases are the -inf inputs: a single
// -inf needs only a few places - it changes no max unless the whole group is -inf).
std::vector<Pattern> patterns(std::int64_t n, bool row) {
  std::vector<Pattern> out;
  out.push_back({"all finite", [](auto&) {}});
  for (std::int64_t p : positions(n, row)) {
    for (double v : {static_cast<double>(NAN), kInf}) {
      out.push_back({std::to_string(v) + " at " + std::to_string(p), [p, v](auto& g) { g[p] = v; }});
    }
  }
  for (std::int64_t p : {std::int64_t{0}, n / 2, n - 1}) {
    out.push_back({"-inf at " + std::to_string(p), [p](auto& g) { g[p] = -kInf; }});
  }
  auto fill = [](auto& g, std::int64_t from, std::int64_t to, double v) {
    for (std::int64_t i = from; i < to; ++i) g[static_cast<std::size_t>(i)] = v;
  };
  out.push_back({"all -inf", [=](auto& g) { fill(g, 0, n, -kInf); }});
  out.push_back({"all +inf", [=](auto& g) { fill(g, 0, n, kInf); }});
  out.push_back({"all -inf, NaN first", [=](auto& g) { fill(g, 0, n, -kInf); g[0] = NAN; }});
  out.push_back({"all -inf, NaN last", [=](auto& g) { fill(g, 0, n, -kInf); g[n - 1] = NAN; }});
  out.push_back({"all -inf, +inf in the middle", [=](auto& g) { fill(g, 0, n, -kInf); g[n / 2] = kInf; }});
  out.push_back({"all -inf but the last", [=](auto& g) { fill(g, 0, n - 1, -kInf); }});
  out.push_back({"all -inf but the first", [=](auto& g) { fill(g, 1, n, -kInf); }});
  out.push_back({"+inf first, -inf last", [=](auto& g) { g[0] = kInf; g[n - 1] = -kInf; }});
  out.push_back({"-inf first, +inf last", [=](auto& g) { g[0] = -kInf; g[n - 1] = kInf; }});
  out.push_back({"+inf first, NaN last", [=](auto& g) { g[0] = kInf; g[n - 1] = NAN; }});
  out.push_back({"+inf twice", [=](auto& g) { g[1] = kInf; g[n - 1] = kInf; }});
  out.push_back({"-inf then +inf then NaN", [=](auto& g) { g[0] = -kInf; g[n / 2] = kInf; g[n - 1] = NAN; }});
  // Whole pieces of -inf ahead of, behind or between finite values: a column tile, a stats
  // block, a chunk (a piece whose max is -inf adds nothing and must not make NaN).
  const auto pieces = row ? std::vector<std::int64_t>{detail::edges::kStatsBlockUsed, kFusedRowMax}
                         : std::vector<std::int64_t>{kColTile};
  for (std::int64_t len : pieces) {
    if (len >= n) continue;
    const std::string l = std::to_string(len);
    out.push_back({"-inf in the first " + l, [=](auto& g) { fill(g, 0, len, -kInf); }});
    out.push_back({"-inf after the first " + l, [=](auto& g) { fill(g, len, n, -kInf); }});
    out.push_back({"-inf in the first " + l + ", NaN after", [=](auto& g) { fill(g, 0, len, -kInf); g[n - 1] = NAN; }});
    if (2 * len < n) out.push_back({"-inf in the second " + l, [=](auto& g) { fill(g, len, 2 * len, -kInf); }});
  }
  return out;
}

std::vector<double> random_group(std::int64_t n, std::uint64_t seed) { return test::values(randn({n}, seed, kFloat64)); }

// 16-bit dtypes differ from float32 only in how inf and NaN are loaded and stored, which is
// the same for every op: softmax and softmin (NaN, +inf and -inf playing both roles) cover it,
// and keep the test's time under a minute with AddressSanitizer.
std::vector<Op> ops_for(Dtype dtype) {
  if (dtype == kFloat16 || dtype == kBFloat16) return {Op::kSoftmax, Op::kSoftmin};
  return {Op::kSoftmax, Op::kLogSoftmax, Op::kSoftmin};
}

class KernelSpecialValues : public test::SimdTargetTest {};

// One row per pattern, all rows in one tensor (rows are independent; many long rows also take
// the rows-in-parallel path). Lengths: a fused row (no NaN tracking: NaN reaches the sum), and
// long rows (> kFusedRowMax, the path that tracks NaN in the max) whose second chunk is one
// element longer than a stats block.
TEST_P(KernelSpecialValues, Rows) {
  for (std::int64_t n : {kColShortN + kColTile + 1, kFusedRowMax + detail::edges::kStatsBlockUsed + 1}) {
    const auto list = patterns(n, true);
    std::vector<double> v;
    for (std::size_t p = 0; p < list.size(); ++p) {
      auto g = random_group(n, 100 + p);
      list[p].apply(g);
      v.insert(v.end(), g.begin(), g.end());
    }
    const auto rows = static_cast<std::int64_t>(list.size());
    for (Dtype dtype : {kFloat32, kFloat64, kFloat16, kBFloat16}) {
      const Tensor x = tensor(v, dtype).view({rows, n});
      const auto xv = test::values(x);
      for (Op op : ops_for(dtype)) {
        const auto got = test::values(test::run_op(op, x, 1));
        const auto want = test::forward_oracle(xv, {rows, n}, 1, op);
        for (std::int64_t r = 0; r < rows; ++r) {
          const auto b = static_cast<std::size_t>(r * n), e = b + static_cast<std::size_t>(n);
          ASSERT_TRUE(test::within_bounds({got.begin() + b, got.begin() + e}, {want.y.begin() + b, want.y.begin() + e},
                                          [&](std::size_t i) { return test::forward_bound(dtype, op, n, want, b + i); }))
              << test::op_name(op) << " " << dtype_name(dtype) << " row of " << n << ": " << list[r].name;
        }
      }
    }
  }
}

// One tensor per pattern, of `lanes` side-by-side columns: the pattern in the first lane (a
// full vector's) and the last (a one-lane leftover), random finite values elsewhere; the
// strided-lane view must give the same bits. Heights: the tallest short column and a tiled
// one whose last tile has one row.
TEST_P(KernelSpecialValues, Columns) {
  const std::int64_t lanes = detail::edges::column_lanes(detail::simd_kernel_table().lanes_f32);
  for (std::int64_t n : {kColShortN, kColShortN + 2 * kColTile + 1}) {
    const auto list = patterns(n, false);
    for (std::size_t p = 0; p < list.size(); ++p) {
      std::vector<double> v = test::values(randn({n, lanes}, 200 + p, kFloat64));
      auto g = random_group(n, 300 + p);
      list[p].apply(g);
      for (std::int64_t i = 0; i < n; ++i) {
        v[static_cast<std::size_t>(i * lanes)] = g[static_cast<std::size_t>(i)];
        v[static_cast<std::size_t>(i * lanes + lanes - 1)] = g[static_cast<std::size_t>(n - 1 - i)];
      }
      for (Dtype dtype : {kFloat32, kFloat64, kFloat16, kBFloat16}) {
        const Tensor x = tensor(v, dtype).view({n, lanes});
        const Tensor strided = x.transpose(0, 1).contiguous().transpose(0, 1);
        for (Op op : ops_for(dtype)) {
          const Tensor y = test::run_op(op, x, 0);
          ASSERT_TRUE(test::forward_matches_oracle(op, x, 0, y))
              << test::op_name(op) << " " << dtype_name(dtype) << " column of " << n << ": " << list[p].name;
          ASSERT_TRUE(test::same_values(test::values(test::run_op(op, strided, 0)), test::values(y)))
              << "strided lanes, " << test::op_name(op) << " " << dtype_name(dtype) << " column of " << n << ": "
              << list[p].name;
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllTargets, KernelSpecialValues, ::testing::ValuesIn(test::supported_targets()),
                         test::target_name);

}  // namespace
}  // namespace smx
