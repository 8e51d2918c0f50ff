// The forward softmax family in pieces, for callers that cannot hold a whole group in memory
// (the command streaming a file larger than RAM). The pieces run the kernels execute_forward
// runs, cut on the boundaries it cuts on, so results are bitwise identical to the in-memory op:
//   long rows   (nothing after the dim, n > kFusedRowMax): (max, sum) per chunk of kFusedRowMax
//               elements, folded in row order, then the write pass chunk by chunk;
//   tall columns (dims after the dim, n > kColShortN): per-lane running (max, sum) over tiles of
//               kColTile rows, then the write pass.
// Groups the in-memory op handles in one shot (rows of at most kFusedRowMax, columns of at most
// kColShortN rows) have no pieces: callers give whole groups to softmax_out, which is exact by
// construction. The scalar reference kernels (SMX_ISA=REFERENCE) have no pieces either.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/simd_kernels.h"
#include "smx/dtype.h"

namespace smx::detail {

// False when the reference kernels are selected: callers must then hold whole groups.
bool softmax_pieces_available();

// One long row, seen in consecutive pieces (each a whole number of kFusedRowMax-element chunks,
// except the row's last). Pieces are contiguous, of the row's floating dtype.
class LongRowPieces {
 public:
  LongRowPieces(Op kind, Dtype dtype);
  // Pass 1: folds the next piece's statistics into the row's.
  void add(const void* x, std::int64_t count);
  // Pass 2 (after every piece was added): y for one piece.
  void write(const void* x, void* y, std::int64_t count) const;

 private:
  Op kind_;
  const DtypeKernels* k_;
  std::size_t elem_;
  bool started_ = false;
  RowStats total_{};
};

// `lanes` side-by-side tall columns (one outer slice of a softmax over a non-last dim, or a
// block of its lanes), seen in consecutive blocks of whole rows starting at multiples of
// kColTile rows; each block holds `rows` x `lanes` contiguous elements.
class TallColumnPieces {
 public:
  TallColumnPieces(Op kind, Dtype dtype, std::int64_t lanes);
  void add(const void* x, std::int64_t rows);
  void write(const void* x, void* y, std::int64_t rows) const;

 private:
  Op kind_;
  const DtypeKernels* k_;
  std::size_t elem_;
  std::size_t max_elem_;  // the running max's type: double for float64, float otherwise
  std::int64_t lanes_;
  std::vector<double> max_;  // lanes_ values of max_elem_ bytes (double storage: aligned for both)
  std::vector<double> sum_;
};

}  // namespace smx::detail
