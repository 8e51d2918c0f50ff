// The planner (engine/plan.h): n-d layouts collapsed into (batch, row, lanes) without copies,
// dim groups into runs, and the family each problem gets.
#include <gtest/gtest.h>

#include "engine/plan.h"
#include "smx/size.h"
#include "tensor/strided_loop.h"

namespace smx::detail {
namespace {

Plan plan1(const std::vector<std::int64_t>& sizes, std::int64_t dim, const std::vector<std::int64_t>& strides) {
  return *plan_problem(sizes, {dim}, {&strides}, 1);
}

TEST(Plan, ContiguousLastDim) {
  const auto p = plan1({4, 5, 6}, 2, smx::Size({4, 5, 6}).contiguous_strides());
  EXPECT_EQ(p.row.size, 6);
  EXPECT_EQ(p.row.strides[0], 1);
  EXPECT_EQ(p.lanes.size, 1);
  ASSERT_EQ(p.batch.size(), 1u);  // 4 and 5 merge
  EXPECT_EQ(p.batch[0].size, 20);
  EXPECT_EQ(p.batch[0].strides[0], 6);
}

TEST(Plan, ContiguousMiddleDimMergesLanes) {
  const auto p = plan1({4, 5, 6, 7}, 1, smx::Size({4, 5, 6, 7}).contiguous_strides());
  EXPECT_EQ(p.row.size, 5);
  EXPECT_EQ(p.row.strides[0], 42);
  EXPECT_EQ(p.lanes.size, 42);
  EXPECT_EQ(p.lanes.strides[0], 1);
  ASSERT_EQ(p.batch.size(), 1u);
  EXPECT_EQ(p.batch_count(), 4);
  EXPECT_EQ(p.batch_offsets(3)[0], 3 * 210);
}

TEST(Plan, ZeroDimIsOneElement) {
  const auto p = plan1({}, 0, {});
  EXPECT_EQ(p.row.size, 1);
  EXPECT_EQ(p.lanes.size, 1);
  EXPECT_EQ(p.batch_count(), 1);
}

TEST(Plan, NonMergeableTrailingDimsGoToTheBatch) {
  // x.permute(0, 2, 1) of a contiguous (2, 3, 4): softmax over dim 0 has lanes (4, 3) with
  // strides (1, 4) which do not merge: the inner run is the last dim, the other joins the batch.
  const auto p = plan1({2, 4, 3}, 0, {12, 1, 4});
  EXPECT_EQ(p.row.size, 2);
  EXPECT_EQ(p.lanes.size, 3);
  EXPECT_EQ(p.lanes.strides[0], 4);
  ASSERT_EQ(p.batch.size(), 1u);
  EXPECT_EQ(p.batch[0].size, 4);
  EXPECT_EQ(p.batch[0].strides[0], 1);
}

TEST(Plan, OperandsMustAllMerge) {
  const std::vector<std::int64_t> a = smx::Size({3, 4, 5}).contiguous_strides();
  const std::vector<std::int64_t> b = {40, 10, 1};  // x narrowed along dim 1 from a (3, 8, 5)... sort of
  const auto p = *plan_problem({3, 4, 5}, {0}, {&a, &b}, 2);
  EXPECT_EQ(p.lanes.size, 5);
  ASSERT_EQ(p.batch.size(), 1u);
  EXPECT_EQ(p.batch[0].size, 4);
  EXPECT_EQ(p.batch[0].strides[0], 5);
  EXPECT_EQ(p.batch[0].strides[1], 10);
}

TEST(Plan, SizeOneDimsVanish) {
  const auto p = plan1({1, 3, 1, 2}, 1, {99, 2, 77, 1});
  EXPECT_EQ(p.lanes.size, 2);
  EXPECT_TRUE(p.batch.empty());
}

TEST(Plan, FamiliesFollowTheShape) {
  const auto strides = [](std::vector<std::int64_t> sizes) { return smx::Size(sizes).contiguous_strides(); };
  EXPECT_EQ(plan1({8, 100}, 1, strides({8, 100})).family, Family::kRowBlocks);
  EXPECT_EQ(plan1({2, 70000}, 1, strides({2, 70000})).family, Family::kRowChunks);  // longer than one chunk
  EXPECT_EQ(plan1({100, 8}, 1, {1, 100}).family, Family::kRowChunks);               // strided rows
  EXPECT_EQ(plan1({100, 8}, 0, strides({100, 8})).family, Family::kColumns);
  EXPECT_EQ(plan1({100, 8}, 0, {1, 100}).family, Family::kStridedColumns);
}

TEST(Plan, DimGroupsAreOneRunOrRunsOfContiguousBlocks) {
  const std::vector<std::int64_t> sizes{4, 6, 8, 10};
  const auto s = smx::Size(sizes).contiguous_strides();
  // Adjacent dims of a contiguous tensor: one run, the single-dim families.
  const Plan run = *plan_problem(sizes, {2, 3}, {&s}, 1);
  EXPECT_TRUE(run.runs.empty());
  EXPECT_EQ(run.n(), 80);
  EXPECT_EQ(run.family, Family::kRowBlocks);
  // (1, 3): rows of 10 at offsets 0, 80, ..., 400 (dim 1's stride), the group's order.
  const Plan rows = *plan_problem(sizes, {1, 3}, {&s}, 1);
  EXPECT_EQ(rows.family, Family::kGroupGather);
  EXPECT_EQ(rows.n(), 10);
  EXPECT_EQ(rows.runs, (std::vector<std::int64_t>{0, 80, 160, 240, 320, 400}));
  EXPECT_EQ(rows.batch_count(), 4 * 8);
  // (0, 2): the innermost block is not in the group: 10 lanes, runs of 8 rows.
  const Plan cols = *plan_problem(sizes, {0, 2}, {&s}, 1);
  EXPECT_EQ(cols.family, Family::kGroupColumns);
  EXPECT_EQ(cols.lanes.size, 10);
  EXPECT_EQ(cols.n(), 8);
  EXPECT_EQ(cols.runs.size(), 4u);
  // A group over a non-contiguous view that is not one run: the caller must copy first.
  const std::vector<std::int64_t> t{1, 4, 24, 240};  // a permuted layout
  EXPECT_FALSE(plan_problem(sizes, {1, 3}, {&t}, 1).has_value());
}

TEST(Plan, AMaskOnlyHasToMergeNotToBeContiguous) {
  // A (B, 1, 1, S) key-padding mask over contiguous (B, H, L, S) scores, softmax over dim 1: the
  // lanes (L, S) merge for the mask too (its strides 0 and 1 walk them as one run), and the
  // family is the contiguous columns', which the masked load reads through the mask's strides.
  const std::vector<std::int64_t> sizes{2, 3, 4, 5};
  const auto x = smx::Size(sizes).contiguous_strides();
  const std::vector<std::int64_t> mask{5, 0, 0, 1};
  const Plan p = *plan_problem(sizes, {1}, {&x, &x, &mask}, 2);
  EXPECT_EQ(p.family, Family::kColumns);
  EXPECT_EQ(p.lanes.strides[2], 1);
}

}  // namespace
}  // namespace smx::detail
