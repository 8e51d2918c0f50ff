// The SIMD kernels (Highway, runtime dispatch): one table of plain-pointer functions per
// instruction-set target and dtype. The executor splits work; these only do arithmetic.
//
// Row functions take one contiguous row (or a contiguous piece of one); column functions take
// `n` rows of `lanes` side-by-side elements.
// Dtypes: float32 and float64 computed in their own precision; float16 and bfloat16 converted
// to float32 in registers and rounded to nearest-even once on store.
// Error bounds: float32 exp within 2 ulp (ExpNonPositiveF32; results below e^-87.3 flushed to
// 0), sums accumulated in double, so outputs are within a few ulp (relative 1e-6, tested) of the
// float64 oracle; float64 uses hwy::Exp (1 ulp), within ~1e-15.
// Special values: NaN, +inf and all -inf rows give NaN, as in PyTorch.
#pragma once

#include <cstdint>

#include "kernels/softmax_kernel_api.h"

namespace smx::detail {

// max and sum(exp(x - max)) of a row or a piece of one; merge pieces with merge_row_stats.
struct RowStats {
  double max;
  double sum;
};

RowStats merge_row_stats(RowStats a, RowStats b);

// Rows of at most this many elements go through row_fused; longer ones through row_stats over
// chunks of this size, merged, then row_write. The choice depends on the length alone.
inline constexpr std::int64_t kFusedRowMax = 1 << 16;
// row_stats works in blocks of this many elements: max, then sum, over a block that stays in
// L1/L2 (so a chunk is read from memory once); a block's statistics are merged in order.
inline constexpr std::int64_t kStatsBlock = 8192;
// Column statistics are gathered in tiles of this many rows; columns of at most kColShortN rows
// take a one-shot short-column kernel instead (decided by n alone).
inline constexpr std::int64_t kColTile = 16;
inline constexpr std::int64_t kColShortN = 1024;

struct SimdDtypeKernels {
  // Whole rows of n <= kFusedRowMax contiguous elements (rows x_stride / y_stride elements
  // apart): every pass, one exp per element, each row read from memory once.
  void (*rows_fused)(SoftmaxKind kind, const void* x, std::int64_t x_stride, void* y,
                     std::int64_t y_stride, std::int64_t rows, std::int64_t n, bool stream);
  // Pass 1 of a forward row: its statistics (blocked internally so each block is read twice
  // from L1/L2, not memory). Softmin negates on load.
  RowStats (*row_stats)(SoftmaxKind kind, const void* x, std::int64_t n);
  // Pass 2: y from x and the whole row's statistics. `stream` uses non-temporal stores.
  void (*row_write)(SoftmaxKind kind, const void* x, void* y, std::int64_t n, RowStats stats,
                    bool stream);
  // All passes for `lanes` side-by-side contiguous columns of `n` rows (row strides in
  // elements). Any number of lanes; each lane's result is independent of the others and of
  // the vector width, so cols_strided gives the same bits.
  void (*cols)(SoftmaxKind kind, const void* x, std::int64_t x_row_stride, void* y,
               std::int64_t y_row_stride, std::int64_t n, std::int64_t lanes, bool stream);
  // Same math for lanes at any stride (one lane at a time).
  void (*cols_strided)(SoftmaxKind kind, const void* x, std::int64_t x_row_stride,
                       std::int64_t x_lane_stride, void* y, std::int64_t y_row_stride,
                       std::int64_t y_lane_stride, std::int64_t n, std::int64_t lanes);
  // Backward for whole rows of n <= kFusedRowMax contiguous elements, evenly spaced.
  void (*rows_backward)(BackwardKind kind, const void* g, std::int64_t g_stride, const void* y,
                        std::int64_t y_stride, void* dx, std::int64_t dx_stride, std::int64_t rows,
                        std::int64_t n, bool stream);
  // Backward, pass 1: softmax sum(g * y); log_softmax sum(g).
  double (*row_backward_acc)(BackwardKind kind, const void* g, const void* y, std::int64_t n);
  // Backward, pass 2: dx from g, y and the whole row's accumulator.
  void (*row_backward_write)(BackwardKind kind, const void* g, const void* y, void* dx,
                             std::int64_t n, double acc, bool stream);
  void (*cols_backward)(BackwardKind kind, const void* g, std::int64_t g_row_stride,
                        const void* y, std::int64_t y_row_stride, void* dx,
                        std::int64_t dx_row_stride, std::int64_t n, std::int64_t lanes,
                        bool stream);
  void (*cols_backward_strided)(BackwardKind kind, const void* g, std::int64_t g_row_stride,
                                std::int64_t g_lane_stride, const void* y,
                                std::int64_t y_row_stride, std::int64_t y_lane_stride, void* dx,
                                std::int64_t dx_row_stride, std::int64_t dx_lane_stride,
                                std::int64_t n, std::int64_t lanes);
  // The two passes of `cols` for tall columns (n > kColShortN), resumable, for callers that see
  // a column in row blocks (the command streaming a file): cols_stats folds `rows` rows of
  // contiguous lanes into per-lane running state - `max` in the compute type (double for
  // float64, float otherwise), starting at -inf, and `sum`, starting at 0 - in tiles of kColTile
  // rows counted from the block's first row; cols_write writes a block from the final state.
  // Blocks that start at multiples of kColTile give exactly `cols`' bits (cols runs these two).
  void (*cols_stats)(SoftmaxKind kind, const void* x, std::int64_t x_row_stride, std::int64_t rows,
                     std::int64_t lanes, void* max, double* sum);
  void (*cols_write)(SoftmaxKind kind, const void* x, std::int64_t x_row_stride, void* y,
                     std::int64_t y_row_stride, std::int64_t rows, std::int64_t lanes,
                     const void* max, const double* sum, bool stream);
};

struct SimdKernelTable {
  const char* target;      // Highway's name for the target, e.g. "AVX3"
  std::int64_t lanes_f32;  // vector length for 32-bit lanes: column blocks are multiples of it
  std::int64_t lanes_f64;
  SimdDtypeKernels f32, f64, f16, bf16;
};

// The table for the best target this CPU supports (or the one SMX_ISA names).
const SimdKernelTable& simd_kernels();

// Every target compiled in and supported here, as Highway target bits, best first.
std::int64_t supported_simd_targets();
// Restricts dispatch to `target` (one bit of supported_simd_targets()); 0 restores the default.
// For tests and benchmarks.
void force_simd_target_for_test(std::int64_t target);

// True when the scalar reference kernels should run instead (SMX_ISA=REFERENCE, or a test).
bool reference_kernels_selected();
void force_reference_kernels_for_test(bool on);

}  // namespace smx::detail
