// Collapsing an n-d softmax over `dim` into slabs (see kernels/softmax_kernel_api.h), without
// copying: every operand is read and written through its own strides.
//
// The dims after `dim` that merge into one evenly strided run (for every operand) become the
// lanes; the remaining dims (before `dim`, and any later dims that do not merge) become the
// batch, iterated by the executor. A contiguous tensor gives one batch dim and one lane run.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

namespace smx::detail {

inline constexpr std::size_t kMaxOperands = 3;

struct PlanDim {
  std::int64_t size;
  std::array<std::int64_t, kMaxOperands> strides;
};

struct SlabPlan {
  std::size_t operands = 0;
  PlanDim row{1, {}};    // the softmax dim
  PlanDim lanes{1, {}};  // merged trailing dims
  std::vector<PlanDim> batch;  // outermost first

  std::int64_t batch_count() const;
  // Element offsets of slab number `index` (0 <= index < batch_count()) for each operand.
  std::array<std::int64_t, kMaxOperands> batch_offsets(std::int64_t index) const;
};

// `strides[o]` are operand o's strides (all operands share `sizes`). A 0-d shape is a single
// one-element row. `dim` must already be wrapped.
SlabPlan plan_slabs(const std::vector<std::int64_t>& sizes, std::int64_t dim,
                    const std::vector<const std::vector<std::int64_t>*>& strides);

}  // namespace smx::detail
