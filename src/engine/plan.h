// The planner: one decomposition of every softmax problem into units of work, without copies.
//
// A problem is a shape, the strides of each operand (x and y forward; grad, y and dx backward;
// and a mask, if any, read through stride-0 dims where it broadcasts) and the dims of a group.
// Every element is read and written through its own strides.
//
//   single dim (or a group whose dims walk memory as one evenly strided run): the dims after the
//     softmax dim that merge into one run (for every operand) become the `lanes`; the remaining
//     dims (before it, and later ones that do not merge) the `batch`. A contiguous tensor gives
//     one batch dim and one lane run.
//   several dims that are not one run (contiguous operands): size-1 dims dropped, neighbouring
//     dims of the same kind (group / not group) merged into blocks; a group is a set of `runs`
//     (element offsets) of `n` elements each. The innermost block decides the walk: a group
//     block gives contiguous rows, a non-group block side-by-side lanes.
//
// Then the family (which kernels run, kernel_table.h) follows from the shape alone - never from
// the thread count, and from strides only where two families give the same bits - so a view gives
// the same bits as its contiguous copy, and any number of threads the same bits as one.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace smx::detail {

// Operands of a problem: x, y (forward) or grad, y, dx (backward), then the mask.
inline constexpr std::size_t kMaxOperands = 4;

struct PlanDim {
  std::int64_t size;
  std::array<std::int64_t, kMaxOperands> strides;
};

enum class Family {
  kRowBlocks,       // contiguous evenly spaced rows of at most one chunk: rows_fused / rows_backward
  kRowChunks,       // any other rows: chunks of kFusedRowMax, statistics merged in chunk order
  kColumns,         // side-by-side contiguous lanes: cols / cols_backward on blocks of lanes
  kStridedColumns,  // lanes at any stride: the one-lane-at-a-time entries
  kGroupGather,     // a group of at most kFusedRowMax elements: gathered, rows_fused in place
  kGroupRows,       // a longer group of rows: (run, chunk) units, statistics merged in order
  kGroupColumns,    // a group of columns: per-lane state carried from run to run
};
const char* family_name(Family family);

struct Plan {
  Family family = Family::kRowBlocks;
  std::size_t operands = 0;
  PlanDim row{1, {}};          // the walk: n elements (along a row, or down a column)
  PlanDim lanes{1, {}};        // side-by-side lanes (size 1 for rows)
  std::vector<PlanDim> batch;  // the groups, outermost first
  // Groups of several runs (contiguous operands, so one offset serves every operand): each
  // run's element offset from the group's first, in the group's order. Empty: one run at 0.
  std::vector<std::int64_t> runs;

  std::int64_t n() const { return row.size; }
  std::int64_t run_count() const { return runs.empty() ? 1 : static_cast<std::int64_t>(runs.size()); }
  std::int64_t group_size() const { return run_count() * row.size; }
  std::int64_t batch_count() const;
  // Element offsets of group number `index` (0 <= index < batch_count()) for each operand.
  std::array<std::int64_t, kMaxOperands> batch_offsets(std::int64_t index) const;
};

// The plan for a problem of `sizes` over the wrapped, distinct `dims` (one or more), with one
// strides vector per operand: the first `data_operands` are the tensors the kernels walk; any
// after them (a mask) are read through their own strides, and only need to merge. nullopt when the
// dims are several, do not walk as one run, and the operands are not all contiguous: the caller
// makes them so (the one copy smx ever makes) and asks again. A 0-d shape is one row of one
// element.
using OperandStrides = std::span<const std::vector<std::int64_t>* const>;
std::optional<Plan> plan_problem(std::span<const std::int64_t> sizes, std::span<const std::int64_t> dims,
                                 OperandStrides strides, std::size_t data_operands);
// The same, for braced lists (tests).
inline std::optional<Plan> plan_problem(const std::vector<std::int64_t>& sizes, const std::vector<std::int64_t>& dims,
                                        const std::vector<const std::vector<std::int64_t>*>& strides,
                                        std::size_t data_operands) {
  return plan_problem(std::span<const std::int64_t>(sizes), std::span<const std::int64_t>(dims),
                      OperandStrides(strides), data_operands);
}

}  // namespace smx::detail
