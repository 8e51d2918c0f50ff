#include "ops/slab_plan.h"

namespace smx::detail {

namespace {

// True when `outer` followed by `inner` walks memory as one run for every operand.
bool mergeable(const PlanDim& outer, const PlanDim& inner, std::size_t operands) {
  for (std::size_t o = 0; o < operands; ++o) {
    if (outer.strides[o] != inner.strides[o] * inner.size) return false;
  }
  return true;
}

}  // namespace

std::int64_t SlabPlan::batch_count() const {
  std::int64_t count = 1;
  for (const auto& d : batch) count *= d.size;
  return count;
}

std::array<std::int64_t, kMaxOperands> SlabPlan::batch_offsets(std::int64_t index) const {
  std::array<std::int64_t, kMaxOperands> offsets{};
  for (std::size_t k = batch.size(); k-- > 0;) {
    const std::int64_t i = index % batch[k].size;
    index /= batch[k].size;
    for (std::size_t o = 0; o < operands; ++o) offsets[o] += i * batch[k].strides[o];
  }
  return offsets;
}

SlabPlan plan_slabs(const std::vector<std::int64_t>& sizes, std::int64_t dim,
                    const std::vector<const std::vector<std::int64_t>*>& strides) {
  SlabPlan plan;
  plan.operands = strides.size();
  if (sizes.empty()) return plan;  // 0-d: one row of one element

  auto plan_dim = [&](std::size_t d) {
    PlanDim p{sizes[d], {}};
    for (std::size_t o = 0; o < plan.operands; ++o) p.strides[o] = (*strides[o])[d];
    return p;
  };
  const auto row_dim = static_cast<std::size_t>(dim);
  plan.row = plan_dim(row_dim);

  // Lanes: grow a run from the last dim outward while dims merge; size-1 dims are skipped.
  std::vector<PlanDim> leftover;  // later dims that did not join the run, innermost first
  bool run_open = true;
  bool have_run = false;
  for (std::size_t d = sizes.size(); d-- > row_dim + 1;) {
    const PlanDim p = plan_dim(d);
    if (p.size == 1) continue;
    if (!have_run) {
      plan.lanes = p;
      have_run = true;
    } else if (run_open && mergeable(p, plan.lanes, plan.operands)) {
      plan.lanes.size *= p.size;
    } else {
      run_open = false;
      leftover.push_back(p);
    }
  }
  if (!have_run) plan.lanes = PlanDim{1, {}};

  // Batch: the dims before `dim`, then the leftovers, merging neighbours where possible.
  std::vector<PlanDim> batch;
  for (std::size_t d = 0; d < row_dim; ++d) batch.push_back(plan_dim(d));
  for (auto it = leftover.rbegin(); it != leftover.rend(); ++it) batch.push_back(*it);
  for (const auto& p : batch) {
    if (p.size == 1) continue;
    if (!plan.batch.empty() && mergeable(plan.batch.back(), p, plan.operands)) {
      plan.batch.back().size *= p.size;
      plan.batch.back().strides = p.strides;
    } else {
      plan.batch.push_back(p);
    }
  }
  return plan;
}

}  // namespace smx::detail
