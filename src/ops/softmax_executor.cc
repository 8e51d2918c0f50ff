// Runs a planned softmax over whole tensors: picks a kernel family from the logical problem
// and splits the work across threads.
//
//   rows     nothing follows the softmax dim (inner size 1): each row is cut into fixed chunks
//            of kRowChunk elements; chunk statistics (max, sum) are merged in order, then the
//            output is written. Strided rows are gathered chunk by chunk into a bounded
//            per-thread buffer first.
//   columns  dims follow the softmax dim: the column kernels walk down `n` rows of side-by-side
//            lanes (vector-wide blocks when the lanes are contiguous, one lane at a time when
//            they are not) - no transposing copy.
// The family and the chunking depend only on the shape and dim, never on strides or the thread
// count, and each lane's arithmetic is the same at any vector width: a view gives the same bits
// as its contiguous copy, and any number of threads gives the same bits as one.
#include "ops/softmax_executor.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

#include "cuda/cuda_backend.h"
#include "kernels/simd_kernels.h"
#include "ops/slab_plan.h"
#include "runtime/parallel.h"
#include "smx/threading.h"

namespace smx::detail {

namespace {

// Rows are processed in chunks of this many elements (the unit of parallelism in long rows);
// a row of at most one chunk takes the fused kernel.
constexpr std::int64_t kRowChunk = kFusedRowMax;

std::int64_t inner_size(const Tensor& t, std::int64_t dim) {
  std::int64_t inner = 1;
  for (std::int64_t d = dim + 1; d < t.dim(); ++d) inner *= t.size(d);
  return inner;
}

// One operand of a row: its first element and the stride between elements, in elements.
struct RowRef {
  char* base;
  std::int64_t stride;
};

// Hands out contiguous views of chunk [start, start + len) of a row, gathering strided ones
// into a per-thread buffer (bounded by kRowChunk elements).
class ChunkIo {
 public:
  ChunkIo(std::size_t elem, int slot) : elem_(elem), slot_(slot) {}

  const char* read(const RowRef& r, std::int64_t start, std::int64_t len) {
    const auto e = static_cast<std::int64_t>(elem_);
    if (r.stride == 1) return r.base + start * e;
    char* buf = buffer();
    for (std::int64_t i = 0; i < len; ++i) std::memcpy(buf + i * e, r.base + (start + i) * r.stride * e, elem_);
    return buf;
  }
  char* target(const RowRef& r, std::int64_t start) {
    return r.stride == 1 ? r.base + start * static_cast<std::int64_t>(elem_) : buffer();
  }
  void commit(const RowRef& r, std::int64_t start, std::int64_t len) {
    if (r.stride == 1) return;
    const auto e = static_cast<std::int64_t>(elem_);
    const char* buf = buffer();
    for (std::int64_t i = 0; i < len; ++i) std::memcpy(r.base + (start + i) * r.stride * e, buf + i * e, elem_);
  }

 private:
  char* buffer() {
    thread_local std::vector<double> buffers[4];
    auto& b = buffers[slot_];
    b.resize(static_cast<std::size_t>(kRowChunk));
    return reinterpret_cast<char*>(b.data());
  }
  std::size_t elem_;
  int slot_;
};

std::int64_t chunk_count(std::int64_t n) { return (n + kRowChunk - 1) / kRowChunk; }

std::int64_t chunk_len(std::int64_t n, std::int64_t c) { return std::min(kRowChunk, n - c * kRowChunk); }

// Runs per_row(r, chunks_in_parallel) for every row: rows in parallel when there are enough of
// them, else one row at a time with its chunks in parallel. Either way each chunk does the same
// arithmetic.
template <typename PerRow>
void for_each_row(std::int64_t rows, std::int64_t n, PerRow&& per_row) {
  const std::int64_t threads = get_num_threads();
  if (rows >= threads || chunk_count(n) == 1) {
    parallel_for(rows, rows * n / kMinElementsPerThread, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t r = begin; r < end; ++r) per_row(r, false);
    });
  } else {
    for (std::int64_t r = 0; r < rows; ++r) per_row(r, true);
  }
}

template <typename Fn>
void for_each_chunk(std::int64_t n, bool parallel, Fn&& fn) {
  const std::int64_t chunks = chunk_count(n);
  parallel_for(chunks, parallel ? chunks : 1, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t c = begin; c < end; ++c) fn(c, c * kRowChunk, chunk_len(n, c));
  });
}

void forward_row(const DtypeKernels& k, Op kind, RowRef x, RowRef y, std::int64_t n, std::size_t elem,
                 bool stream, bool parallel) {
  if (n <= kRowChunk) {
    ChunkIo in(elem, 0), out(elem, 1);
    k.rows_fused(kind, in.read(x, 0, n), 0, out.target(y, 0), 0, 1, n, stream && y.stride == 1);
    out.commit(y, 0, n);
    return;
  }
  std::vector<RowStats> partial(static_cast<std::size_t>(chunk_count(n)));
  for_each_chunk(n, parallel, [&](std::int64_t c, std::int64_t start, std::int64_t len) {
    ChunkIo in(elem, 0);
    partial[static_cast<std::size_t>(c)] = k.row_stats(kind, in.read(x, start, len), len);
  });
  RowStats total = partial[0];
  for (std::size_t c = 1; c < partial.size(); ++c) total = merge_row_stats(total, partial[c]);
  for_each_chunk(n, parallel, [&](std::int64_t, std::int64_t start, std::int64_t len) {
    ChunkIo in(elem, 0), out(elem, 1);
    k.row_write(kind, in.read(x, start, len), out.target(y, start), len, total, stream && y.stride == 1);
    out.commit(y, start, len);
  });
}

void backward_row(const DtypeKernels& k, Op kind, RowRef g, RowRef y, RowRef dx, std::int64_t n,
                  std::size_t elem, bool stream, bool parallel) {
  std::vector<double> partial(static_cast<std::size_t>(chunk_count(n)));
  for_each_chunk(n, parallel, [&](std::int64_t c, std::int64_t start, std::int64_t len) {
    ChunkIo gi(elem, 0), yi(elem, 1);
    partial[static_cast<std::size_t>(c)] = k.row_backward_acc(kind, gi.read(g, start, len), yi.read(y, start, len), len);
  });
  double total = 0.0;
  for (double p : partial) total += p;
  for_each_chunk(n, parallel, [&](std::int64_t, std::int64_t start, std::int64_t len) {
    ChunkIo gi(elem, 0), yi(elem, 1), out(elem, 2);
    k.row_backward_write(kind, gi.read(g, start, len), yi.read(y, start, len), out.target(dx, start), len, total,
                         stream && dx.stride == 1);
    out.commit(dx, start, len);
  });
}

char* at(const Tensor& t, std::int64_t offset) {
  return static_cast<char*>(t.data_ptr()) + offset * static_cast<std::int64_t>(t.element_size());
}

bool lanes_contiguous(const SlabPlan& p) {
  for (std::size_t o = 0; o < p.operands; ++o) {
    if (p.lanes.strides[o] != 1) return false;
  }
  return true;
}

// Runs fn(batch index, first lane, lane count) over every (slab, block of lanes), in parallel.
// Blocks are as wide as the threads allow (the column kernels walk rows, and wider blocks mean
// longer contiguous runs); each lane's result does not depend on the blocking.
template <typename Fn>
void for_each_lane_block(const SlabPlan& plan, Fn&& fn) {
  const std::int64_t threads = get_num_threads();
  const std::int64_t batch = plan.batch_count();
  const std::int64_t per_thread = batch >= threads ? plan.lanes.size : (plan.lanes.size + threads - 1) / threads;
  const std::int64_t block = std::max(kLaneBlock, (per_thread + kLaneBlock - 1) / kLaneBlock * kLaneBlock);
  const std::int64_t blocks = (plan.lanes.size + block - 1) / block;
  const std::int64_t items = batch * blocks;
  parallel_for(items, items * block * plan.row.size / kMinElementsPerThread,
               [&](std::int64_t begin, std::int64_t end) {
                 for (std::int64_t item = begin; item < end; ++item) {
                   const std::int64_t l0 = (item % blocks) * block;
                   fn(item / blocks, l0, std::min(block, plan.lanes.size - l0));
                 }
               });
}

// Evenly spaced contiguous rows of at most one chunk (the common case).
bool rows_in_blocks(const SlabPlan& plan) {
  if (plan.row.size > kRowChunk || plan.batch.size() > 1) return false;
  for (std::size_t o = 0; o < plan.operands; ++o) {
    if (plan.row.strides[o] != 1) return false;
  }
  return true;
}

// Calls fn(first row, row count, per-operand row spacing) on blocks of rows, in parallel (for
// plans that rows_in_blocks accepts).
template <typename Fn>
void for_each_row_block(const SlabPlan& plan, Fn&& fn) {
  const std::array<std::int64_t, kMaxOperands> spacing =
      plan.batch.empty() ? std::array<std::int64_t, kMaxOperands>{} : plan.batch[0].strides;
  const std::int64_t rows = plan.batch_count();
  parallel_for(rows, rows * plan.row.size / kMinElementsPerThread,
               [&](std::int64_t begin, std::int64_t end) { fn(begin, end - begin, spacing); });
}

// Which entries of the kernel table run a problem, chosen here for forward and backward alike
// (which implementation fills the table is kernel_table()'s choice, in dispatch.cc):
//   kRowBlocks       nothing after the dim, rows of at most one chunk, contiguous and evenly
//                    spaced: rows_fused / rows_backward on blocks of rows;
//   kRowChunks       nothing after the dim, any other rows: per-chunk statistics, merged, then
//                    the write pass (rows of at most one chunk: rows_fused one row at a time);
//   kColumns         dims after the dim, lanes contiguous: cols / cols_backward;
//   kStridedColumns  dims after the dim, lanes at any stride: the one-lane-at-a-time entries.
// Row blocks and row chunks give the same bits for rows of at most one chunk (both run
// rows_fused on each row), as contiguous and strided columns do: the layout picks the family,
// never the result.
enum class Family { kRowBlocks, kRowChunks, kColumns, kStridedColumns };

Family choose_family(const SlabPlan& plan, std::int64_t inner) {
  if (inner == 1) return rows_in_blocks(plan) ? Family::kRowBlocks : Family::kRowChunks;
  return lanes_contiguous(plan) ? Family::kColumns : Family::kStridedColumns;
}

}  // namespace

void execute_forward(Op kind, const Tensor& x, const Tensor& y, std::int64_t dim) {
  const SlabPlan plan = plan_slabs(x.sizes().vec(), dim, {&x.strides(), &y.strides()});
  if (x.is_cuda()) {  // the same plan, run by the CUDA backend on the caller's stream
    void* const base[2] = {x.data_ptr(), y.data_ptr()};
    cuda::forward(kind, x.dtype(), plan, base, x.device().index());
    return;
  }
  const DtypeKernels& k = kernels_for(x.dtype());
  const std::size_t elem = x.element_size();
  const bool stream = y.numel() * static_cast<std::int64_t>(elem) >= kStreamBytes;
  const std::int64_t n = plan.row.size;

  const Family family = choose_family(plan, inner_size(x, dim));
  switch (family) {
    case Family::kRowBlocks:
      for_each_row_block(plan, [&](std::int64_t first, std::int64_t count, const auto& s) {
        k.rows_fused(kind, at(x, first * s[0]), s[0], at(y, first * s[1]), s[1], count, n, stream);
      });
      return;
    case Family::kRowChunks:
      for_each_row(plan.batch_count(), n, [&](std::int64_t r, bool parallel) {
        const auto off = plan.batch_offsets(r);
        forward_row(k, kind, {at(x, off[0]), plan.row.strides[0]}, {at(y, off[1]), plan.row.strides[1]}, n, elem,
                    stream, parallel);
      });
      return;
    case Family::kColumns:
    case Family::kStridedColumns:
      for_each_lane_block(plan, [&](std::int64_t b, std::int64_t l0, std::int64_t width) {
        auto off = plan.batch_offsets(b);
        const char* xp = at(x, off[0] + l0 * plan.lanes.strides[0]);
        char* yp = at(y, off[1] + l0 * plan.lanes.strides[1]);
        if (family == Family::kColumns) {
          k.cols(kind, xp, plan.row.strides[0], yp, plan.row.strides[1], n, width, stream);
        } else {
          k.cols_strided(kind, xp, plan.row.strides[0], plan.lanes.strides[0], yp, plan.row.strides[1],
                         plan.lanes.strides[1], n, width);
        }
      });
      return;
  }
}

void execute_backward(Op kind, const Tensor& grad, const Tensor& output, const Tensor& dx,
                      std::int64_t dim) {
  const SlabPlan plan = plan_slabs(grad.sizes().vec(), dim, {&grad.strides(), &output.strides(), &dx.strides()});
  if (grad.is_cuda()) {
    void* const base[3] = {grad.data_ptr(), output.data_ptr(), dx.data_ptr()};
    cuda::backward(kind, grad.dtype(), plan, base, grad.device().index());
    return;
  }
  const DtypeKernels& k = kernels_for(grad.dtype());
  const std::size_t elem = grad.element_size();
  const bool stream = dx.numel() * static_cast<std::int64_t>(elem) >= kStreamBytes;
  const std::int64_t n = plan.row.size;

  const Family family = choose_family(plan, inner_size(grad, dim));
  switch (family) {
    case Family::kRowBlocks:
      for_each_row_block(plan, [&](std::int64_t first, std::int64_t count, const auto& s) {
        k.rows_backward(kind, at(grad, first * s[0]), s[0], at(output, first * s[1]), s[1], at(dx, first * s[2]),
                        s[2], count, n, stream);
      });
      return;
    case Family::kRowChunks:
      for_each_row(plan.batch_count(), n, [&](std::int64_t r, bool parallel) {
        const auto off = plan.batch_offsets(r);
        backward_row(k, kind, {at(grad, off[0]), plan.row.strides[0]}, {at(output, off[1]), plan.row.strides[1]},
                     {at(dx, off[2]), plan.row.strides[2]}, n, elem, stream, parallel);
      });
      return;
    case Family::kColumns:
    case Family::kStridedColumns:
      for_each_lane_block(plan, [&](std::int64_t b, std::int64_t l0, std::int64_t width) {
        const auto off = plan.batch_offsets(b);
        const auto& ls = plan.lanes.strides;
        const char* gp = at(grad, off[0] + l0 * ls[0]);
        const char* yp = at(output, off[1] + l0 * ls[1]);
        char* dp = at(dx, off[2] + l0 * ls[2]);
        const auto& rs = plan.row.strides;
        if (family == Family::kColumns) {
          k.cols_backward(kind, gp, rs[0], yp, rs[1], dp, rs[2], n, width, stream);
        } else {
          k.cols_backward_strided(kind, gp, rs[0], ls[0], yp, rs[1], ls[1], dp, rs[2], ls[2], n, width);
        }
      });
      return;
  }
}

}  // namespace smx::detail
