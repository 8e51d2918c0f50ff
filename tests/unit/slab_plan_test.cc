// The operator layer's collapse of n-d layouts into (batch, row, lanes), without copies.
#include <gtest/gtest.h>

#include "ops/slab_plan.h"
#include "smx/size.h"
#include "tensor/strided_loop.h"

namespace smx::detail {
namespace {

SlabPlan plan1(const std::vector<std::int64_t>& sizes, std::int64_t dim,
               const std::vector<std::int64_t>& strides) {
  return plan_slabs(sizes, dim, {&strides});
}

TEST(SlabPlan, ContiguousLastDim) {
  const auto p = plan1({4, 5, 6}, 2, smx::Size({4, 5, 6}).contiguous_strides());
  EXPECT_EQ(p.row.size, 6);
  EXPECT_EQ(p.row.strides[0], 1);
  EXPECT_EQ(p.lanes.size, 1);
  ASSERT_EQ(p.batch.size(), 1u);  // 4 and 5 merge
  EXPECT_EQ(p.batch[0].size, 20);
  EXPECT_EQ(p.batch[0].strides[0], 6);
}

TEST(SlabPlan, ContiguousMiddleDimMergesLanes) {
  const auto p = plan1({4, 5, 6, 7}, 1, smx::Size({4, 5, 6, 7}).contiguous_strides());
  EXPECT_EQ(p.row.size, 5);
  EXPECT_EQ(p.row.strides[0], 42);
  EXPECT_EQ(p.lanes.size, 42);
  EXPECT_EQ(p.lanes.strides[0], 1);
  ASSERT_EQ(p.batch.size(), 1u);
  EXPECT_EQ(p.batch_count(), 4);
  EXPECT_EQ(p.batch_offsets(3)[0], 3 * 210);
}

TEST(SlabPlan, ZeroDimIsOneElement) {
  const auto p = plan1({}, 0, {});
  EXPECT_EQ(p.row.size, 1);
  EXPECT_EQ(p.lanes.size, 1);
  EXPECT_EQ(p.batch_count(), 1);
}

TEST(SlabPlan, NonMergeableTrailingDimsGoToTheBatch) {
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

TEST(SlabPlan, OperandsMustAllMerge) {
  const std::vector<std::int64_t> a = smx::Size({3, 4, 5}).contiguous_strides();
  const std::vector<std::int64_t> b = {40, 10, 1};  // x narrowed along dim 1 from a (3, 8, 5)... sort of
  const auto p = plan_slabs({3, 4, 5}, 0, {&a, &b});
  EXPECT_EQ(p.lanes.size, 5);
  ASSERT_EQ(p.batch.size(), 1u);
  EXPECT_EQ(p.batch[0].size, 4);
  EXPECT_EQ(p.batch[0].strides[0], 5);
  EXPECT_EQ(p.batch[0].strides[1], 10);
}

TEST(SlabPlan, SizeOneDimsVanish) {
  const auto p = plan1({1, 3, 1, 2}, 1, {99, 2, 77, 1});
  EXPECT_EQ(p.lanes.size, 2);
  EXPECT_TRUE(p.batch.empty());
}

}  // namespace
}  // namespace smx::detail
