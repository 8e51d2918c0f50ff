// The SIMD kernel table in three parts - rows, columns, backward - each compiled once per target
// in its own file (simd_rows.cc, simd_columns.cc, simd_backward.cc), so that they build in
// parallel; dispatch.cc puts the three parts of the dispatched target together.
#pragma once

#include <hwy/highway.h>

#include "kernels/kernel_table.h"

namespace smx::detail {

// The dispatched target's part (only that part's entries are filled).
const KernelTable& dispatched_row_part();
const KernelTable& dispatched_column_part();
const KernelTable& dispatched_backward_part();
// Highway's bits of every target compiled in.
std::int64_t compiled_simd_targets();

// An empty table named after `target` (the rows part adds the vector lengths).
inline KernelTable TargetTable(std::int64_t target) {
  KernelTable t{};
  t.target = hwy::TargetName(target);
  t.target_bit = target;
  return t;
}

}  // namespace smx::detail
