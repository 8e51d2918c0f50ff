// The kernel layer's contract (XNNPACK's split): kernels see plain pointers, counts and strides
// in elements, never tensors; the engine above them validates, plans and splits the work.
//
// One table of functions per implementation and dtype. Every implementation fills the same
// table - each SIMD target (Highway, runtime dispatch) and the scalar reference kernels (double
// inside; the test oracle), which is one more entry, as simdjson treats its implementations.
// kernel_table() picks the implementation in one place (SMX_ISA, else the best SIMD target this
// CPU runs); every caller goes through it, so SMX_ISA=REFERENCE reaches every path.
//
// Load and store are parameters of the kernels (as OneFlow's softmax takes LOAD/STORE functors):
//   load   how element i is read. Plain: x[i] (softmin: -x[i]). Masked (the attention-score
//          softmax): kept elements read x[i], or scale * x[i] rounded once to x's dtype (what
//          PyTorch's scale * x gives); masked ones read -inf. A null MaskedLoad* is plain.
//   store  what is written. Forward: softmax's exp(x - m) / s or log_softmax's (x - m) - log(s),
//          in the dtype (16-bit: rounded to nearest-even once). Backward through a mask: 0 at
//          masked elements, scale * dx at kept ones (dx rounded to the dtype first, as autograd
//          through masked_fill and scale * x rounds it).
//   stream asks for non-temporal stores (runtime/tuning.h decides when).
//
// Row functions take one contiguous row (or a contiguous piece of one); column functions take
// `n` rows of `lanes` side-by-side elements. Passes over memory are counted per element of x
// (forward) or of g and y (backward); "from cache" is the second read of a block small enough to
// stay in L1/L2, which costs no memory traffic.
// Dtypes: float32 and float64 computed in their own precision; float16 and bfloat16 converted to
// float32 in registers and rounded to nearest-even once on store.
// Error bounds (SIMD): float32 exp within 2 ulp, 2.5 on targets without FMA (simd/exp-inl.h;
// results below e^-87.3 flushed to 0), sums accumulated in double, so outputs are within a few ulp
// (relative 1e-6, tested) of the float64 oracle; float64 uses hwy::Exp (1 ulp), within ~1e-15.
// Reference: double inside, so float32/16-bit outputs are correctly rounded up to a few 1e-16
// relative. Special values: NaN, +inf and all -inf rows give NaN, as in PyTorch.
#pragma once

#include <cstdint>
#include <limits>

#include "smx/dtype.h"
#include "smx/op.h"

namespace smx::detail {

// ---- the decomposition constants: they decide which numbers come out ----
// (Performance thresholds, which never change a bit, live in the engine and come from the
// measured cache sizes; these do not: a result must not depend on the machine's caches.)

// Rows of at most this many elements go through rows_fused; longer ones through row_stats over
// chunks of this size, merged in order, then row_write. The choice depends on the length alone.
inline constexpr std::int64_t kFusedRowMax = 1 << 16;
// row_stats works in blocks of this many elements: max, then sum, over a block that stays in
// L1/L2 (so a chunk is read from memory once); blocks' statistics are merged in order.
inline constexpr std::int64_t kStatsBlock = 8192;
// Tall column statistics are gathered in tiles of this many rows; columns of at most kColShortN
// rows take the one-shot short-column kernel instead (decided by n alone).
inline constexpr std::int64_t kColTile = 16;
inline constexpr std::int64_t kColShortN = 1024;

// max and sum(exp(x - max)) of a row or a piece of one; merge pieces with merge_row_stats (the
// fold every caller uses, in piece order).
struct RowStats {
  double max;
  double sum;
};
RowStats merge_row_stats(RowStats a, RowStats b);

// The masked load (forward) and the masked store (backward). Element i of a row (or row i of a
// column) is kept when i < keep_end and its mask byte is nonzero.
struct MaskedLoad {
  static constexpr std::int64_t kNoLimit = std::numeric_limits<std::int64_t>::max();
  // The load of row r of a multi-row call: the mask advanced by r rows, keep_end by r steps.
  MaskedLoad row(std::int64_t r) const {
    MaskedLoad m = *this;
    if (m.mask != nullptr) m.mask += r * mask_row_stride;
    if (m.keep_end != kNoLimit) m.keep_end += r * keep_end_step;
    return m;
  }
  const std::uint8_t* mask = nullptr;  // null: no mask bytes (keep_end alone masks)
  std::int64_t mask_stride = 0;        // rows: between a row's elements; columns: between rows
  std::int64_t mask_lane_stride = 0;   // columns: between lanes (0: one byte for every lane)
  std::int64_t mask_row_stride = 0;    // rows: between the rows of one call
  std::int64_t keep_end = kNoLimit;    // rows: elements at i >= keep_end are masked (causal)
  std::int64_t keep_end_step = 0;      // rows: keep_end grows by this per row of one call
  bool scaled = false;                 // kept elements read scale * x (forward) / write scale * dx
  double scale = 1.0;
};

// One implementation's kernels for one dtype. `op` is a forward op for the forward entries and a
// backward op for the backward ones. A null `masked` is the plain load/store.
struct DtypeKernels {
  // ---- forward, rows (nothing follows the softmax dim) ----
  // Whole rows of n <= kFusedRowMax contiguous elements, `rows` of them x_stride / y_stride
  // elements apart. Reads x once from memory (max pass, then exp from cache), keeps exp(x - max)
  // in a per-thread scratch and writes y once: 1 read + 1 write, one exp per element.
  void (*rows_fused)(Op op, const void* x, std::int64_t x_stride, void* y, std::int64_t y_stride, std::int64_t rows,
                     std::int64_t n, bool stream, const MaskedLoad* masked);
  // Pass 1 of a longer row, for a chunk of n elements: its (max, sum of exp(x - max)), blocked by
  // kStatsBlock (max then sum per block, the second read from cache); NaN tracked in the max.
  // 1 read, one exp per element. A masked chunk's mask and keep_end are relative to the chunk.
  RowStats (*row_stats)(Op op, const void* x, std::int64_t n, const MaskedLoad* masked);
  // Pass 2: y for a chunk from x and the whole row's statistics. 1 read + 1 write, one exp per
  // element (softmax/softmin; log_softmax none).
  void (*row_write)(Op op, const void* x, void* y, std::int64_t n, RowStats stats, bool stream,
                    const MaskedLoad* masked);

  // ---- plain stores (the fully masked groups, gathered rows written back) ----
  // y[0, n) = value (rounded to the dtype); dst[0, n) = src[0, n). With `stream`, non-temporal
  // stores where the target has them, NOT fenced: call stream_fence() once after a batch of them,
  // before the data is read (a fence per short row costs more than the stores save).
  void (*fill)(void* y, std::int64_t n, double value, bool stream);
  void (*copy)(void* dst, const void* src, std::int64_t n, bool stream);

  // ---- forward, columns (dims follow the softmax dim) ----
  // All passes for `lanes` side-by-side contiguous columns of `n` rows (row strides in elements).
  // Any number of lanes; each lane's result is independent of the others and of the vector
  // width, so cols_strided gives the same bits.
  //   n <= kColShortN: max, then exp kept in a scratch while summing, then scale: 1 read (the
  //     second from cache) + 1 write, one exp per element.
  //   n > kColShortN: cols_stats over all rows, then cols_write: 2 reads + 1 write, two exps per
  //     element.
  void (*cols)(Op op, const void* x, std::int64_t x_row_stride, void* y, std::int64_t y_row_stride, std::int64_t n,
               std::int64_t lanes, bool stream, const MaskedLoad* masked);
  // The same math for lanes at any stride (one lane at a time).
  void (*cols_strided)(Op op, const void* x, std::int64_t x_row_stride, std::int64_t x_lane_stride, void* y,
                       std::int64_t y_row_stride, std::int64_t y_lane_stride, std::int64_t n, std::int64_t lanes,
                       const MaskedLoad* masked);
  // The passes of `cols`, resumable, for callers that see a column in row blocks (a file read in
  // pieces, MPI ranks, the runs of a dim group). Per-lane running state: `max` in the compute type
  // (double for float64, float otherwise), starting at -inf; `sum`, starting at 0.
  //   Tall columns: cols_stats folds `rows` rows into (max, sum) in tiles of kColTile rows counted
  //     from the block's first row (1 read: max per tile, then exp from cache); cols_write writes
  //     a block from the final state (1 read + 1 write). Blocks that start at multiples of kColTile
  //     give exactly `cols`' bits for n > kColShortN.
  //   Short columns: cols_max folds the max over all rows first, then cols_sum adds exp(x - max)
  //     in row order, then cols_write: exactly `cols`' bits for n <= kColShortN.
  void (*cols_stats)(Op op, const void* x, std::int64_t x_row_stride, std::int64_t rows, std::int64_t lanes, void* max,
                     double* sum, const MaskedLoad* masked);
  void (*cols_max)(Op op, const void* x, std::int64_t x_row_stride, std::int64_t rows, std::int64_t lanes, void* max);
  void (*cols_sum)(Op op, const void* x, std::int64_t x_row_stride, std::int64_t rows, std::int64_t lanes,
                   const void* max, double* sum);
  void (*cols_write)(Op op, const void* x, std::int64_t x_row_stride, void* y, std::int64_t y_row_stride,
                     std::int64_t rows, std::int64_t lanes, const void* max, const double* sum, bool stream,
                     const MaskedLoad* masked);

  // ---- backward: softmax dx = y * (g - sum(g * y)); log_softmax dx = g - exp(y) * sum(g) ----
  // Whole rows of n <= kFusedRowMax contiguous elements, evenly spaced. Per row: the
  // accumulator pass, then the write pass (g and y read again, from cache): 2 reads + 1 write.
  void (*rows_backward)(Op op, const void* g, std::int64_t g_stride, const void* y, std::int64_t y_stride, void* dx,
                        std::int64_t dx_stride, std::int64_t rows, std::int64_t n, bool stream,
                        const MaskedLoad* masked);
  // Pass 1 of a longer row's chunk: softmax sum(g * y); log_softmax sum(g), in double. 2 reads
  // (1 for log_softmax). Pass 2: dx from g, y and the whole row's accumulator. 2 reads + 1 write.
  double (*row_backward_acc)(Op op, const void* g, const void* y, std::int64_t n);
  void (*row_backward_write)(Op op, const void* g, const void* y, void* dx, std::int64_t n, double acc, bool stream,
                             const MaskedLoad* masked);
  // Side-by-side contiguous columns: per-lane double accumulators over tiles of kColTile rows,
  // then the write pass: g and y read twice from memory + dx written once.
  void (*cols_backward)(Op op, const void* g, std::int64_t g_row_stride, const void* y, std::int64_t y_row_stride,
                        void* dx, std::int64_t dx_row_stride, std::int64_t n, std::int64_t lanes, bool stream,
                        const MaskedLoad* masked);
  // The same math for lanes at any stride (one lane at a time).
  void (*cols_backward_strided)(Op op, const void* g, std::int64_t g_row_stride, std::int64_t g_lane_stride,
                                const void* y, std::int64_t y_row_stride, std::int64_t y_lane_stride, void* dx,
                                std::int64_t dx_row_stride, std::int64_t dx_lane_stride, std::int64_t n,
                                std::int64_t lanes, const MaskedLoad* masked);
  // The passes of cols_backward, resumable (the runs of a dim group): cols_backward_acc adds
  // `rows` rows into the per-lane double accumulators `acc` (starting at 0), in tiles of kColTile
  // rows counted from the block's first row; cols_backward_write writes a block from the final
  // accumulators. Blocks that start at multiples of kColTile give exactly cols_backward's bits.
  void (*cols_backward_acc)(Op op, const void* g, std::int64_t g_row_stride, const void* y, std::int64_t y_row_stride,
                            std::int64_t rows, std::int64_t lanes, double* acc);
  void (*cols_backward_write)(Op op, const void* g, std::int64_t g_row_stride, const void* y,
                              std::int64_t y_row_stride, void* dx, std::int64_t dx_row_stride, std::int64_t rows,
                              std::int64_t lanes, const double* acc, bool stream);
};

struct KernelTable {
  const char* target;       // Highway's name for the target, e.g. "AVX3", or "REFERENCE"
  std::int64_t target_bit;  // Highway's bit for the target (0 for the reference)
  std::int64_t lanes_f32;  // vector length for 32-bit lanes (1 for the reference)
  std::int64_t lanes_f64;
  DtypeKernels f32, f64, f16, bf16;
};

// Orders the non-temporal stores of fill and copy before later loads (the other kernels fence
// their own).
void stream_fence();

// ---- the kernel choice, made here and nowhere else ----

// The implementation to run: the scalar reference kernels when SMX_ISA=REFERENCE (or a test
// forces them), else the SIMD target SMX_ISA names, else the best one this CPU supports.
const KernelTable& kernel_table();
// kernel_table()'s entries for a floating dtype (float32 for any other: callers validate first).
const DtypeKernels& kernels_for(Dtype dtype);

// The scalar reference kernels as a table (reference_kernels.cc).
const KernelTable& reference_kernel_table();
// The table of the best SIMD target this CPU supports (or the one SMX_ISA names), whatever
// kernel_table() picks; for tests that compare the two.
const KernelTable& simd_kernel_table();

// Every target compiled in and supported here, as Highway target bits, best first.
std::int64_t supported_simd_targets();
// Restricts dispatch to `target` (one bit of supported_simd_targets()); 0 restores the default.
// For tests and benchmarks.
void force_simd_target_for_test(std::int64_t target);
// True when the scalar reference kernels run instead (SMX_ISA=REFERENCE, or a test).
bool reference_kernels_selected();
void force_reference_kernels_for_test(bool on);

}  // namespace smx::detail
