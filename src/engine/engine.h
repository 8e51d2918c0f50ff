// The engine: every softmax form runs through here - the C++ API (through ops/), Python, the
// command, the streaming file path, the MPI ranks, CUDA. This is the one header its clients
// include: whole tensors in, or groups in pieces for callers that never hold a whole group.
//
//   planner   engine/plan.h: shape, strides, dims -> the family and its units of work
//   executor  engine/execute.cc -> rows.cc, columns.cc, groups.cc: units on threads, kernels
//             from kernel_table() (the one kernel choice, SMX_ISA honoured), the load and store
//             of the op (plain, masked) and the store policy (runtime/tuning.h)
//   pieces    engine/pieces.cc: the same decomposition driven from outside, a piece at a time
//
// Where a change goes: a new way to read or write elements (a bias, a gathered target) is a new
// load or store in kernels/simd/sources-inl.h and the reference; a new layout is a family of the
// planner; a new device is a client that runs the planner's plans (src/cuda).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "engine/mask_spec.h"
#include "engine/plan.h"
#include "kernels/kernel_table.h"
#include "smx/op.h"
#include "smx/tensor.h"

namespace smx::detail {

// ---- whole tensors ----

// y = op(x) over `dims` (wrapped, distinct, at least one); op a forward op. x and y: one shape,
// one floating dtype, one device, numel() > 0. y may alias x exactly. For dims that do not walk
// memory as one run, y must be contiguous (x is copied to contiguous if it is not). `mask`: the
// masked ops (one dim), null otherwise. CUDA tensors run on the GPU where a device kernel exists
// (single dims, plain), else through a host copy.
// (dims is a span so that a single dim costs no allocation: calls of a few elements are
// dominated by their fixed cost.)
void engine_forward(Op op, const Tensor& x, const Tensor& y, std::span<const std::int64_t> dims,
                    const MaskSpec* mask = nullptr);
// dx from grad and output (y) over `dims`; op a backward op; the same rules.
void engine_backward(Op op, const Tensor& grad, const Tensor& output, const Tensor& dx,
                     std::span<const std::int64_t> dims, const MaskSpec* mask = nullptr);

// ---- groups in pieces (the streaming file path, the MPI ranks) ----
// The pieces run the kernels the whole-tensor calls run, cut on the same boundaries, through the
// same kernel choice - so a group assembled from pieces has the bits of the whole-tensor call.

// How the engine cuts a group of n elements along the dim with `inner` elements after it:
// rows (inner == 1) of at most kFusedRowMax elements are one unit, longer ones chunks of
// kFusedRowMax merged in order; columns (inner > 1) of at most kColShortN rows take the
// short-column passes (max, sum, write), taller ones tiles of kColTile rows (stats, write).
struct Cut {
  bool rows;
  bool whole;          // one unit: a row of at most one chunk / a short column
  std::int64_t chunk;  // rows: elements per chunk; columns: rows per tile
};
Cut cut_for(std::int64_t n, std::int64_t inner);

// Each chunk's statistics of a contiguous piece of a row (a whole number of chunks, except the
// row's last), not folded: for callers that fold other parts' chunks in between (MPI ranks), in
// chunk order, with merge_row_stats.
std::vector<RowStats> row_chunk_stats(Op op, Dtype dtype, const void* x, std::int64_t count);

// One long row seen in consecutive contiguous pieces, each a whole number of chunks except the
// row's last: add() folds a piece's statistics into the row's (pass 1), write() writes a piece
// once every piece was added (pass 2). merge() folds another part's statistics in (an MPI rank's
// slice, in rank order).
class RowPieces {
 public:
  RowPieces(Op op, Dtype dtype);
  void add(const void* x, std::int64_t count);
  void merge(RowStats other);
  RowStats stats() const { return total_; }
  void set_stats(RowStats s) { total_ = s, started_ = true; }
  void write(const void* x, void* y, std::int64_t count) const;

 private:
  Op op_;
  Dtype dtype_;
  std::int64_t elem_;
  bool started_ = false;
  RowStats total_{};
};

// `lanes` side-by-side columns (contiguous lanes) seen in consecutive blocks of whole rows. Tall
// columns: add() folds a block into the running per-lane (max, sum) in tiles of kColTile rows
// counted from the block's first row (blocks start at multiples of kColTile). Short columns:
// add_max() over every block, then add_sum() over every block, in row order. Then write().
// The state (max in the compute type - double for float64, float otherwise - and the double
// sums) can be sent between MPI ranks as raw bytes.
class ColumnPieces {
 public:
  ColumnPieces(Op op, Dtype dtype, std::int64_t lanes);
  void add(const void* x, std::int64_t rows);
  void add_max(const void* x, std::int64_t rows);
  void add_sum(const void* x, std::int64_t rows);
  void write(const void* x, void* y, std::int64_t rows) const;

  std::int64_t lanes() const { return lanes_; }
  void* max_data() { return max_.data(); }  // lanes() values of max_bytes() each
  std::int64_t max_bytes() const { return max_elem_; }
  double* sum_data() { return sum_.data(); }

 private:
  Op op_;
  Dtype dtype_;
  std::int64_t elem_, max_elem_, lanes_;
  std::vector<double> max_;  // max_elem_-byte values (double storage: aligned for both)
  std::vector<double> sum_;
};

// Every group's statistics over `dim` of x (what one MPI rank's slice contributes; any strides,
// CPU), in the order of the groups (row-major over the other dims): forward (max, sum of
// exp(x - max)) per group, folded in the engine's order; backward sum(g * y) (softmax) or sum(g)
// (log_softmax) per group. Then the writes with every rank's statistics folded in.
std::vector<RowStats> group_stats(Op op, const Tensor& x, std::int64_t dim);
void group_write(Op op, const Tensor& x, std::int64_t dim, const std::vector<RowStats>& stats, const Tensor& y);
std::vector<double> group_backward_acc(Op op, const Tensor& grad, const Tensor& output, std::int64_t dim);
void group_backward_write(Op op, const Tensor& grad, const Tensor& output, std::int64_t dim,
                          const std::vector<double>& acc, const Tensor& dx);

}  // namespace smx::detail
