// Lengths at the edges of the kernels' paths, derived from the kernel constants by name so
// the tests follow the code when a constant changes:
//   kFusedRowMax  rows of at most this many elements take the fused row kernel; longer ones are
//                 cut into chunks of this size (row_stats per chunk, merged, then row_write) -
//                 the only path that tracks NaN in the max
//   kStatsBlock   row_stats works in blocks of this many elements inside each chunk, so its
//                 edges are only reached by a chunk's length, i.e. by n = c * kFusedRowMax + r
//                 with r near a multiple of kStatsBlock (a fused row never sees the block)
//   kColShortN    columns of at most this many rows take the one-shot short-column kernel;
//                 taller ones the tiled two-pass kernel (running max and sum per lane)
//   kColTile      the tiled kernel's tile height (and the backward column tile)
//   lanes         the vector width of the target under test (tails, unrolled loops, and the
//                 column kernels' full-vector lanes versus the one-lane leftovers)
#pragma once

#include <algorithm>
#include <cstdint>
#include <set>
#include <vector>

#include "kernels/kernel_table.h"

namespace smx::detail::edges {

inline constexpr std::int64_t kStatsBlockUsed = kStatsBlock;

// c - 1, c, c + 1 for each c, keeping those in [1, limit].
inline std::vector<std::int64_t> around(std::initializer_list<std::int64_t> centres, std::int64_t limit) {
  std::set<std::int64_t> out;
  for (std::int64_t c : centres) {
    for (std::int64_t n : {c - 1, c, c + 1}) {
      if (n >= 1 && n <= limit) out.insert(n);
    }
  }
  return {out.begin(), out.end()};
}

// Row lengths (the softmax dim last, contiguous) for a target with `lanes` 32-bit lanes:
// vector tails and the 4-vector unrolled loops (fused path), the fused/chunked switch, a second
// chunk of one stats block and one element less or more, and two whole chunks (the last chunk
// one element short, whole, or a single element).
inline std::vector<std::int64_t> row_lengths(std::int64_t lanes) {
  std::set<std::int64_t> out;
  for (auto v : around({1, lanes, 2 * lanes, 4 * lanes, 8 * lanes}, kFusedRowMax)) out.insert(v);
  for (auto v : around({kFusedRowMax, kFusedRowMax + kStatsBlockUsed, 2 * kFusedRowMax}, 1 << 30)) {
    out.insert(v);
  }
  return {out.begin(), out.end()};
}

// Column heights (rows walked by the column kernels): the tile and its multiples in the short
// kernel, the short/tiled switch, and a tiled column whose last tile is short, one row, or full.
inline std::vector<std::int64_t> column_heights() {
  std::set<std::int64_t> out;
  for (auto v : around({1, kColTile, 2 * kColTile, kColShortN, kColShortN + kColTile, 2 * kColShortN}, 1 << 30)) {
    out.insert(v);
  }
  return {out.begin(), out.end()};
}

// Side-by-side columns: two full vectors of the widest lanes (the float32 width) plus three
// one-lane leftovers, so both the vector and the leftover kernels run for float32 and float64.
inline std::int64_t column_lanes(std::int64_t lanes_f32) { return 2 * lanes_f32 + 3; }

// Which path a length takes; the tests assert every path is among the lengths they run.
inline bool takes_long_row_path(std::int64_t n) { return n > kFusedRowMax; }
inline bool takes_tiled_column_path(std::int64_t n) { return n > kColShortN; }

}  // namespace smx::detail::edges
