// Planning a softmax over a group of dims (a dim list) without a transposing copy.
//
// Two shapes of problem:
//   one run   the group dims walk memory as one evenly strided run for every operand (e.g.
//             adjacent dims of contiguous tensors, or dims a permuted view keeps in memory
//             order): the group becomes one dim of a view and the single-dim executor runs.
//   blocks    otherwise, on contiguous operands: size-1 dims are dropped and neighbouring dims
//             of the same kind (group / not group) merged into blocks, alternating. Each group
//             is a set of `runs` (offsets) of `n` rows; the innermost block decides the walk:
//             a group block gives contiguous rows (row kernels, statistics merged run by run),
//             a non-group block gives side-by-side lanes (column kernels, per-lane state
//             carried from run to run).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace smx::detail {

// A view of every operand with the group merged into the single dim `dim`.
struct OneRunView {
  std::vector<std::int64_t> sizes;
  std::vector<std::vector<std::int64_t>> strides;  // per operand
  std::int64_t dim = 0;
};

// `dims` wrapped and free of repeats; `strides` one vector per operand (all share `sizes`).
// nullopt when the group does not walk as one run in the same order for every operand.
std::optional<OneRunView> group_as_one_run(const std::vector<std::int64_t>& sizes,
                                           const std::vector<std::int64_t>& dims,
                                           const std::vector<std::vector<std::int64_t>>& strides);

// The blocks walk of contiguous operands (offsets in elements, shared by every operand).
struct GroupBlocks {
  bool rows = true;          // innermost block is in the group: contiguous rows of n
  std::int64_t n = 1;        // rows: row length; columns: rows per run (stride `lanes`)
  std::int64_t lanes = 1;    // columns: contiguous lanes (the innermost, non-group block)
  std::vector<std::int64_t> runs;  // offset of each run of a group, in the group's order
  std::vector<std::int64_t> batch_sizes;    // the remaining non-group blocks, outermost first
  std::vector<std::int64_t> batch_strides;

  std::int64_t batch_count() const;
  std::int64_t batch_offset(std::int64_t index) const;
  std::int64_t group_size() const { return static_cast<std::int64_t>(runs.size()) * n; }
};

// For contiguous operands of `sizes` (numel() > 0) whose group is NOT one run (at least two
// group blocks).
GroupBlocks plan_group_blocks(const std::vector<std::int64_t>& sizes, const std::vector<std::int64_t>& dims);

}  // namespace smx::detail
