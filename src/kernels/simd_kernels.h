// The kernel layer: one table of plain-pointer functions per implementation and dtype. Every
// implementation fills the same table - each SIMD target (Highway, runtime dispatch) and the
// scalar reference kernels (double inside; the test oracle), which is one more entry, as
// simdjson treats its implementations. kernel_table() picks the implementation in one place
// (SMX_ISA, else the best SIMD target this CPU runs); the executor and the streaming pieces only
// pick, from the problem's shape, which entries of the table to call. Kernels only do
// arithmetic on what they are given: plain pointers, counts, strides in elements.
//
// Row functions take one contiguous row (or a contiguous piece of one); column functions take
// `n` rows of `lanes` side-by-side elements.
// Dtypes: float32 and float64 computed in their own precision; float16 and bfloat16 converted
// to float32 in registers and rounded to nearest-even once on store.
// Error bounds (SIMD): float32 exp within 2 ulp, 2.5 on targets without FMA (ExpNonPositiveF32;
// results below e^-87.3 flushed to 0; tests/unit/simd_exp_test.cc), sums accumulated in double, so outputs are within
// a few ulp (relative 1e-6, tested) of the float64 oracle; float64 uses hwy::Exp (1 ulp), within
// ~1e-15. Reference: double inside, so float32/16-bit outputs are correctly rounded up to a few
// 1e-16 relative (see reference_softmax.h).
// Special values: NaN, +inf and all -inf rows give NaN, as in PyTorch.
#pragma once

#include <cstdint>

#include "kernels/softmax_kernel_api.h"
#include "smx/dtype.h"

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

// One implementation's kernels for one dtype. Passes over memory are counted per element of x
// (forward) or of g and y (backward); "from cache" means the second read of a block small
// enough to stay in L1/L2 (a chunk of kFusedRowMax, a block of kStatsBlock, a tile of kColTile
// rows or a short column group), which costs no memory traffic.
struct DtypeKernels {
  // Forward, whole rows of n <= kFusedRowMax contiguous elements, `rows` of them x_stride /
  // y_stride elements apart. Reads x once from memory (max pass, then exp from cache), keeps
  // exp(x - max) in a per-thread scratch and writes y once: 1 read + 1 write. One exp per
  // element. `stream` asks for non-temporal stores of y.
  void (*rows_fused)(Op kind, const void* x, std::int64_t x_stride, void* y,
                     std::int64_t y_stride, std::int64_t rows, std::int64_t n, bool stream);
  // Forward pass 1 of a longer row, for a chunk of n elements: its (max, sum of exp(x - max)),
  // blocked by kStatsBlock (max then sum per block, the second read from cache); NaN tracked in
  // the max. Softmin negates on load. 1 read, one exp per element.
  RowStats (*row_stats)(Op kind, const void* x, std::int64_t n);
  // Forward pass 2: y for a chunk from x and the whole row's statistics. 1 read + 1 write, one
  // exp per element (softmax/softmin; log_softmax none).
  void (*row_write)(Op kind, const void* x, void* y, std::int64_t n, RowStats stats,
                    bool stream);
  // Forward, all passes for `lanes` side-by-side contiguous columns of `n` rows (row strides in
  // elements). Any number of lanes; each lane's result is independent of the others and of
  // the vector width, so cols_strided gives the same bits.
  //   n <= kColShortN: max, then exp kept in a scratch while summing, then scale: 1 read (the
  //     second from cache) + 1 write, one exp per element.
  //   n > kColShortN: cols_stats over all rows (running max and sum per tile of kColTile rows;
  //     max then exp from cache), then cols_write: 2 reads + 1 write, two exps per element.
  void (*cols)(Op kind, const void* x, std::int64_t x_row_stride, void* y,
               std::int64_t y_row_stride, std::int64_t n, std::int64_t lanes, bool stream);
  // Same math for lanes at any stride (one lane at a time).
  void (*cols_strided)(Op kind, const void* x, std::int64_t x_row_stride,
                       std::int64_t x_lane_stride, void* y, std::int64_t y_row_stride,
                       std::int64_t y_lane_stride, std::int64_t n, std::int64_t lanes);
  // Backward for whole rows of n <= kFusedRowMax contiguous elements, evenly spaced:
  // softmax dx = y * (g - sum(g * y)); log_softmax dx = g - exp(y) * sum(g). Per row: the
  // accumulator pass, then the write pass (g and y read again, from cache): 2 reads + 1 write.
  void (*rows_backward)(Op kind, const void* g, std::int64_t g_stride, const void* y,
                        std::int64_t y_stride, void* dx, std::int64_t dx_stride, std::int64_t rows,
                        std::int64_t n, bool stream);
  // Backward, pass 1 of a longer row's chunk: softmax sum(g * y); log_softmax sum(g), in
  // double. 2 reads (1 for log_softmax).
  double (*row_backward_acc)(Op kind, const void* g, const void* y, std::int64_t n);
  // Backward, pass 2: dx from g, y and the whole row's accumulator. 2 reads + 1 write.
  void (*row_backward_write)(Op kind, const void* g, const void* y, void* dx,
                             std::int64_t n, double acc, bool stream);
  // Backward for side-by-side contiguous columns: per-lane double accumulators over tiles of
  // kColTile rows, then the write pass: g and y read twice from memory + dx written once.
  void (*cols_backward)(Op kind, const void* g, std::int64_t g_row_stride,
                        const void* y, std::int64_t y_row_stride, void* dx,
                        std::int64_t dx_row_stride, std::int64_t n, std::int64_t lanes,
                        bool stream);
  // Same math for lanes at any stride (one lane at a time).
  void (*cols_backward_strided)(Op kind, const void* g, std::int64_t g_row_stride,
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
  // cols_stats: 1 read (max per tile, then exp from cache); cols_write: 1 read + 1 write.
  void (*cols_stats)(Op kind, const void* x, std::int64_t x_row_stride, std::int64_t rows,
                     std::int64_t lanes, void* max, double* sum);
  void (*cols_write)(Op kind, const void* x, std::int64_t x_row_stride, void* y,
                     std::int64_t y_row_stride, std::int64_t rows, std::int64_t lanes,
                     const void* max, const double* sum, bool stream);
};

struct KernelTable {
  const char* target;      // Highway's name for the target, e.g. "AVX3", or "REFERENCE"
  std::int64_t lanes_f32;  // vector length for 32-bit lanes (1 for the reference)
  std::int64_t lanes_f64;
  DtypeKernels f32, f64, f16, bf16;
};

// The earlier names (tests and callers use both).
using SimdDtypeKernels = DtypeKernels;
using SimdKernelTable = KernelTable;

// The implementation to run, chosen here and nowhere else: the scalar reference kernels when
// SMX_ISA=REFERENCE (or a test forces them), else the SIMD target SMX_ISA names, else the best
// one this CPU supports.
const KernelTable& kernel_table();
// kernel_table()'s entries for a floating dtype (float32 for any other: callers validate first).
const DtypeKernels& kernels_for(Dtype dtype);

// The scalar reference kernels as a table (reference_softmax.cc).
const KernelTable& reference_kernel_table();

// The table for the best SIMD target this CPU supports (or the one SMX_ISA names), whatever
// kernel_table() picks.
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
