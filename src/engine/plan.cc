#include "engine/plan.h"

#include <algorithm>

#include "kernels/kernel_table.h"

namespace smx::detail {

namespace {

using Strides = OperandStrides;
using Sizes = std::span<const std::int64_t>;

// True when `outer` followed by `inner` walks memory as one run for every operand.
bool mergeable(const PlanDim& outer, const PlanDim& inner, std::size_t operands) {
  for (std::size_t o = 0; o < operands; ++o) {
    if (outer.strides[o] != inner.strides[o] * inner.size) return false;
  }
  return true;
}

PlanDim plan_dim(Sizes sizes, Strides strides, std::size_t d) {
  PlanDim p{sizes[d], {}};
  for (std::size_t o = 0; o < strides.size(); ++o) p.strides[o] = (*strides[o])[d];
  return p;
}

// Appends `p` to the batch, merged into the last dim when the two walk as one run; size-1 dims
// vanish.
void add_batch(Plan& plan, const PlanDim& p) {
  if (p.size == 1) return;
  if (!plan.batch.empty() && mergeable(plan.batch.back(), p, plan.operands)) {
    plan.batch.back().size *= p.size;
    plan.batch.back().strides = p.strides;
  } else {
    plan.batch.push_back(p);
  }
}

// Single dim `dim` (wrapped): the row, the merged trailing lanes and the batch.
Plan plan_single(Sizes sizes, std::size_t dim, Strides strides) {
  Plan plan;
  plan.operands = strides.size();
  if (sizes.empty()) return plan;  // 0-d: one row of one element
  plan.row = plan_dim(sizes, strides, dim);
  // Lanes: grow a run from the last dim outward while dims merge; size-1 dims are skipped.
  std::vector<PlanDim> leftover;  // later dims that did not join the run, innermost first
  bool run_open = true, have_run = false;
  for (std::size_t d = sizes.size(); d-- > dim + 1;) {
    const PlanDim p = plan_dim(sizes, strides, d);
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
  // Batch: the dims before `dim`, then the leftovers.
  for (std::size_t d = 0; d < dim; ++d) add_batch(plan, plan_dim(sizes, strides, d));
  for (auto it = leftover.rbegin(); it != leftover.rend(); ++it) add_batch(plan, *it);
  return plan;
}

bool in(Sizes dims, std::int64_t d) { return std::find(dims.begin(), dims.end(), d) != dims.end(); }

// Several dims that walk memory as one evenly strided run in the same order for every operand
// (adjacent dims of contiguous tensors, or dims a permuted view keeps in memory order): the group
// as one dim of a view, placed where the group's last logical dim was (so adjacent dims of a
// contiguous tensor give exactly x.reshape(...)'s view). nullopt otherwise.
std::optional<Plan> plan_one_run(Sizes sizes, Sizes dims, Strides strides) {
  std::vector<std::int64_t> g;  // group dims that matter (size-1 dims never move the walk)
  for (std::int64_t d : dims) {
    if (sizes[static_cast<std::size_t>(d)] != 1) g.push_back(d);
  }
  if (g.size() <= 1) return plan_single(sizes, static_cast<std::size_t>(g.empty() ? dims.front() : g.front()), strides);
  // Memory order of the first operand (outermost first; ties keep the logical order).
  const auto& s0 = *strides.front();
  std::stable_sort(g.begin(), g.end(), [&](std::int64_t a, std::int64_t b) {
    return s0[static_cast<std::size_t>(a)] > s0[static_cast<std::size_t>(b)];
  });
  for (const auto* s : strides) {
    for (std::size_t i = 0; i + 1 < g.size(); ++i) {
      const auto outer = static_cast<std::size_t>(g[i]);
      const auto inner = static_cast<std::size_t>(g[i + 1]);
      if ((*s)[outer] != (*s)[inner] * sizes[inner]) return std::nullopt;
    }
  }
  const std::int64_t pos = *std::max_element(g.begin(), g.end());
  std::int64_t merged = 1;
  for (std::int64_t d : g) merged *= sizes[static_cast<std::size_t>(d)];
  std::vector<std::int64_t> view_sizes;
  std::vector<std::vector<std::int64_t>> view_strides(strides.size());
  std::size_t view_dim = 0;
  for (std::int64_t d = 0; d < static_cast<std::int64_t>(sizes.size()); ++d) {
    const auto du = static_cast<std::size_t>(d);
    if (d == pos) {
      view_dim = view_sizes.size();
      view_sizes.push_back(merged);
      for (std::size_t o = 0; o < strides.size(); ++o) view_strides[o].push_back((*strides[o])[static_cast<std::size_t>(g.back())]);
    } else if (!in(dims, d)) {
      view_sizes.push_back(sizes[du]);
      for (std::size_t o = 0; o < strides.size(); ++o) view_strides[o].push_back((*strides[o])[du]);
    }
  }
  std::vector<const std::vector<std::int64_t>*> view;
  for (const auto& s : view_strides) view.push_back(&s);
  return plan_single(view_sizes, view_dim, Strides(view));
}

bool contiguous(Sizes sizes, const std::vector<std::int64_t>& strides) {
  std::int64_t expected = 1;
  for (std::size_t d = sizes.size(); d-- > 0;) {
    if (sizes[d] != 1 && strides[d] != expected) return false;
    expected *= sizes[d];
  }
  return true;
}

// Several dims that are not one run, contiguous operands: the blocks walk.
Plan plan_blocks(Sizes sizes, Sizes dims, std::size_t operands) {
  struct Block {
    std::int64_t size, stride;
    bool group;
  };
  // Contiguous strides, then blocks from the innermost dim outward.
  std::vector<Block> inner_first;
  std::int64_t stride = 1;
  for (std::size_t d = sizes.size(); d-- > 0;) {
    const std::int64_t size = sizes[d];
    const bool group = in(dims, static_cast<std::int64_t>(d));
    if (size != 1) {
      if (!inner_first.empty() && inner_first.back().group == group) {
        inner_first.back().size *= size;  // keeps the inner stride
      } else {
        inner_first.push_back({size, stride, group});
      }
    }
    stride *= size;
  }
  auto same_for_all = [operands](std::int64_t s) {
    std::array<std::int64_t, kMaxOperands> a{};
    for (std::size_t o = 0; o < operands; ++o) a[o] = s;
    return a;
  };
  Plan plan;
  plan.operands = operands;
  std::vector<Block> group_outer;  // group blocks walked as runs, innermost first
  std::size_t first_other = 1;
  if (inner_first.front().group) {  // rows: contiguous runs of n
    plan.row = {inner_first.front().size, same_for_all(1)};
  } else {  // columns: lanes side by side, runs of n rows
    plan.lanes = {inner_first.front().size, same_for_all(1)};
    plan.row = {inner_first[1].size, same_for_all(inner_first[1].stride)};  // blocks alternate
    first_other = 2;
  }
  std::vector<PlanDim> batch_outer_first;
  for (std::size_t i = first_other; i < inner_first.size(); ++i) {
    if (inner_first[i].group) {
      group_outer.push_back(inner_first[i]);
    } else {
      batch_outer_first.insert(batch_outer_first.begin(), PlanDim{inner_first[i].size, same_for_all(inner_first[i].stride)});
    }
  }
  // Run offsets in the group's row-major order (outermost block varies slowest).
  plan.runs = {0};
  for (const Block& b : group_outer) {  // innermost first: each outer block repeats the list
    std::vector<std::int64_t> next;
    next.reserve(plan.runs.size() * static_cast<std::size_t>(b.size));
    for (std::int64_t i = 0; i < b.size; ++i) {
      for (std::int64_t r : plan.runs) next.push_back(i * b.stride + r);
    }
    plan.runs = std::move(next);
  }
  plan.batch = std::move(batch_outer_first);
  return plan;
}

// Evenly spaced contiguous rows of at most one chunk (the common case).
bool rows_in_blocks(const Plan& plan, std::size_t data_operands) {
  if (plan.row.size > kFusedRowMax || plan.batch.size() > 1) return false;
  for (std::size_t o = 0; o < data_operands; ++o) {
    if (plan.row.strides[o] != 1) return false;
  }
  return true;
}

bool lanes_contiguous(const Plan& plan, std::size_t data_operands) {
  for (std::size_t o = 0; o < data_operands; ++o) {
    if (plan.lanes.strides[o] != 1) return false;
  }
  return true;
}

}  // namespace

const char* family_name(Family family) {
  switch (family) {
    case Family::kRowBlocks: return "row blocks";
    case Family::kRowChunks: return "row chunks";
    case Family::kColumns: return "columns";
    case Family::kStridedColumns: return "strided columns";
    case Family::kGroupGather: return "gathered groups";
    case Family::kGroupRows: return "group rows";
    case Family::kGroupColumns: return "group columns";
  }
  return "?";
}

std::int64_t Plan::batch_count() const {
  std::int64_t count = 1;
  for (const auto& d : batch) count *= d.size;
  return count;
}

std::array<std::int64_t, kMaxOperands> Plan::batch_offsets(std::int64_t index) const {
  std::array<std::int64_t, kMaxOperands> offsets{};
  for (std::size_t k = batch.size(); k-- > 0;) {
    const std::int64_t i = index % batch[k].size;
    index /= batch[k].size;
    for (std::size_t o = 0; o < operands; ++o) offsets[o] += i * batch[k].strides[o];
  }
  return offsets;
}

std::optional<Plan> plan_problem(Sizes sizes, Sizes dims, Strides strides, std::size_t data_operands) {
  std::optional<Plan> plan = dims.size() == 1 ? plan_single(sizes, static_cast<std::size_t>(dims[0]), strides)
                                              : plan_one_run(sizes, dims, strides);
  if (plan) {
    // Row blocks and row chunks give the same bits for rows of at most one chunk (both run
    // rows_fused on each row), as contiguous and strided columns do: the layout picks the family,
    // never the result.
    if (plan->lanes.size == 1) {
      plan->family = rows_in_blocks(*plan, data_operands) ? Family::kRowBlocks : Family::kRowChunks;
    } else {
      plan->family = lanes_contiguous(*plan, data_operands) ? Family::kColumns : Family::kStridedColumns;
    }
    return plan;
  }
  for (const auto* s : strides) {
    if (!contiguous(sizes, *s)) return std::nullopt;
  }
  Plan blocks = plan_blocks(sizes, dims, strides.size());
  if (blocks.lanes.size > 1) {
    blocks.family = Family::kGroupColumns;
  } else {
    blocks.family = blocks.group_size() <= kFusedRowMax ? Family::kGroupGather : Family::kGroupRows;
  }
  return blocks;
}

}  // namespace smx::detail
