// Softmax over a group of dims with no transposing copy.
//
// When the group is one strided run (ops/dim_group.h) the single-dim executor runs on a view.
// Otherwise, on contiguous operands (a strided input whose group is not one run is first made
// contiguous - the one copy this file ever makes):
//   rows     the innermost block is in the group: each group is `runs` contiguous rows of n.
//            Pass 1: row_stats per row (and per kFusedRowMax chunk of a long row), merged in the
//            group's order with merge_row_stats; pass 2: row_write with the group's statistics.
//            Backward: row_backward_acc per row summed in order, then row_backward_write.
//   columns  the innermost block is not in the group: `lanes` side-by-side contiguous columns.
//            cols_stats carries each lane's running (max, sum) from run to run (it is
//            resumable), then cols_write writes every run. Backward: a scalar double loop per
//            lane (no column pieces exist for the backward kernels).
// Every group is computed by one fixed sequence of kernel calls whatever the thread count;
// threads only split independent groups, lane blocks, or the rows of one group whose partial
// statistics are then merged in a fixed order - so any thread count gives the same bits.
#include "ops/softmax_dims_executor.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <limits>

#include "kernels/simd_kernels.h"
#include "ops/dim_group.h"
#include "ops/slab_plan.h"
#include "ops/softmax_executor.h"
#include "runtime/parallel.h"
#include "smx/half.h"
#include "smx/threading.h"

namespace smx::detail {

namespace {

// Input bytes per tile of groups in the rows walk: small enough that the write pass finds the
// tile in L2 (the tile size changes no result: each group is computed on its own).
constexpr std::int64_t kTileBytes = 256 << 10;
// How far ahead (in input bytes) the gathered rows walk prefetches.
constexpr std::int64_t kPrefetchBytes = 64 << 10;
// Rows shorter than this are written with ordinary stores (a fence after every few lines of
// non-temporal stores costs more than it saves).
constexpr std::int64_t kStreamRowBytes = 4096;

char* at(const Tensor& t, std::int64_t offset) {
  return static_cast<char*>(t.data_ptr()) + offset * static_cast<std::int64_t>(t.element_size());
}

// A view of `t`'s memory with other sizes and strides (the caller keeps `t` alive).
Tensor restride(const Tensor& t, const std::vector<std::int64_t>& sizes, const std::vector<std::int64_t>& strides) {
  return from_blob(t.data_ptr(), Size(sizes), strides, t.dtype());
}

std::int64_t chunks_of(std::int64_t n) { return (n + kFusedRowMax - 1) / kFusedRowMax; }

// ---- rows: the innermost block is in the group ----

// Groups in tiles of consecutive groups (about kTileBytes of input each, so a tile's second pass
// reads from cache), tiles in parallel. fn(first group, count, thread's scratch) does a tile.
template <typename Fn>
void for_each_tile(const GroupBlocks& p, std::size_t elem, Fn&& fn) {
  const std::int64_t groups = p.batch_count();
  const std::int64_t group_bytes = p.group_size() * static_cast<std::int64_t>(elem);
  const std::int64_t tile = std::clamp<std::int64_t>(kTileBytes / std::max<std::int64_t>(group_bytes, 1), 1, groups);
  const std::int64_t tiles = (groups + tile - 1) / tile;
  parallel_for(tiles, groups * p.group_size() / kMinElementsPerThread, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t t = begin; t < end; ++t) fn(t * tile, std::min(tile, groups - t * tile));
  });
}

// A unit of a group: chunk c of run r (rows longer than kFusedRowMax are cut as the single-dim
// executor cuts them). Offset from the group's base, and length.
struct UnitSpan {
  std::int64_t offset, len;
};
UnitSpan unit_span(const GroupBlocks& p, std::int64_t chunks, std::int64_t u) {
  const std::int64_t c = u % chunks;
  return {p.runs[static_cast<std::size_t>(u / chunks)] + c * kFusedRowMax, std::min(kFusedRowMax, p.n - c * kFusedRowMax)};
}

// Copies `bytes` (a multiple of 16, both pointers 16-byte aligned) with non-temporal stores:
// a large output's lines are written without first being read for ownership. x86 only (SSE2 is
// in every x86-64); elsewhere a memcpy. The caller fences (stream_fence) before the data is used.
void stream_copy(char* dst, const char* src, std::size_t bytes) {
#if defined(__SSE2__)
  for (std::size_t i = 0; i < bytes; i += 16) {
    _mm_stream_si128(reinterpret_cast<__m128i*>(dst + i), _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i)));
  }
#else
  std::memcpy(dst, src, bytes);
#endif
}

void stream_fence() {
#if defined(__SSE2__)
  _mm_sfence();
#endif
}

// Groups of at most kFusedRowMax elements: each group's rows are copied into a contiguous
// per-thread buffer (at most 64Ki elements, so it stays in L2), the single-dim kernel for a whole
// row runs on it in place, and the result rows are copied out (with non-temporal stores for a
// large output). One exp per element, as a last-dim softmax, and the same bits as permute +
// reshape + softmax over the last dim. While a group computes, the rows of a group about
// kPrefetchBytes ahead are prefetched, so memory and arithmetic overlap as they do in the
// single-dim kernels (a copy loop on its own would wait on memory with the ALUs idle).
// fn(buffers, count) gets one buffer per operand in `ins` and leaves the result in the first.
template <typename Fn>
void gather_rows(const GroupBlocks& p, std::initializer_list<const Tensor*> ins, const Tensor& out, bool stream,
                 Fn&& fn) {
  const std::int64_t groups = p.batch_count();
  const std::int64_t e = static_cast<std::int64_t>((*ins.begin())->element_size());
  const std::size_t row_bytes = static_cast<std::size_t>(p.n * e);
  const std::int64_t group_bytes = p.group_size() * e;
  const std::int64_t ahead = std::max<std::int64_t>(1, kPrefetchBytes / group_bytes);
  std::vector<char*> in_base;
  for (const Tensor* t : ins) in_base.push_back(at(*t, 0));
  char* const out_base = at(out, 0);
  const std::size_t slots = in_base.size();
  // Every destination row starts at a multiple of row_bytes from the output's (aligned) base.
  const bool aligned = stream && row_bytes % 16 == 0 && reinterpret_cast<std::uintptr_t>(out_base) % 16 == 0;
  const std::size_t slot_doubles = static_cast<std::size_t>(group_bytes) / sizeof(double) + 8;
  parallel_for(groups, groups * p.group_size() / kMinElementsPerThread, [&](std::int64_t begin, std::int64_t end) {
    thread_local std::vector<double> storage;  // doubles: aligned for every dtype
    storage.resize(slots * slot_doubles);
    char* bufs[kMaxOperands];
    for (std::size_t b = 0; b < slots; ++b) bufs[b] = reinterpret_cast<char*>(storage.data() + b * slot_doubles);
    auto prefetch = [&](std::int64_t g) {
      const std::int64_t base = p.batch_offset(g) * e;
      for (const char* src : in_base) {
        for (std::int64_t run : p.runs) {
          const char* row = src + base + run * e;
          for (std::size_t l = 0; l < row_bytes; l += 64) __builtin_prefetch(row + l, 0, 2);  // to L2: L1 holds the buffer
        }
      }
    };
    for (std::int64_t g = begin; g < std::min(end, begin + ahead); ++g) prefetch(g);
    for (std::int64_t g = begin; g < end; ++g) {
      if (g + ahead < end) prefetch(g + ahead);
      const std::int64_t base = p.batch_offset(g) * e;
      for (std::size_t o = 0; o < slots; ++o) {
        for (std::size_t r = 0; r < p.runs.size(); ++r) {
          std::memcpy(bufs[o] + r * row_bytes, in_base[o] + base + p.runs[r] * e, row_bytes);
        }
      }
      fn(bufs, std::int64_t{1});
      for (std::size_t r = 0; r < p.runs.size(); ++r) {
        char* dst = out_base + base + p.runs[r] * e;
        if (aligned) stream_copy(dst, bufs[0] + r * row_bytes, row_bytes);
        else std::memcpy(dst, bufs[0] + r * row_bytes, row_bytes);
      }
    }
    if (aligned) stream_fence();
  });
}

void forward_rows(const SimdDtypeKernels& k, Op kind, const Tensor& x, const Tensor& y,
                  const GroupBlocks& p, bool stream) {
  const std::int64_t chunks = chunks_of(p.n);
  const std::int64_t units = static_cast<std::int64_t>(p.runs.size()) * chunks;
  const std::int64_t groups = p.batch_count();
  const bool per_group_parallel = groups >= get_num_threads() || units == 1;
  if (p.group_size() <= kFusedRowMax) {
    const std::int64_t gs = p.group_size();
    gather_rows(p, {&x}, y, stream, [&](char* const* buf, std::int64_t count) {
      k.rows_fused(kind, buf[0], gs, buf[0], gs, count, gs, false);  // in place
    });
    return;
  }
  // Non-temporal stores only for rows long enough to fill whole lines between fences.
  stream = stream && p.n * static_cast<std::int64_t>(x.element_size()) >= kStreamRowBytes;
  if (per_group_parallel) {
    // Unit by unit over every group of a tile: the rows of neighbouring groups are neighbours in
    // memory. Each group still folds its units in order 0, 1, 2, ... (the same bits as one group
    // at a time).
    char* const xb = at(x, 0);
    char* const yb = at(y, 0);
    const auto e = static_cast<std::int64_t>(x.element_size());
    for_each_tile(p, x.element_size(), [&](std::int64_t g0, std::int64_t count) {
      thread_local std::vector<RowStats> stats;
      thread_local std::vector<std::int64_t> base;
      stats.resize(static_cast<std::size_t>(count));
      base.resize(static_cast<std::size_t>(count));
      for (std::int64_t i = 0; i < count; ++i) base[static_cast<std::size_t>(i)] = p.batch_offset(g0 + i) * e;
      for (std::int64_t u = 0; u < units; ++u) {
        const UnitSpan s = unit_span(p, chunks, u);
        for (std::size_t i = 0; i < static_cast<std::size_t>(count); ++i) {
          const RowStats r = k.row_stats(kind, xb + base[i] + s.offset * e, s.len);
          stats[i] = u == 0 ? r : merge_row_stats(stats[i], r);
        }
      }
      for (std::int64_t u = 0; u < units; ++u) {
        const UnitSpan s = unit_span(p, chunks, u);
        for (std::size_t i = 0; i < static_cast<std::size_t>(count); ++i) {
          const std::int64_t o = base[i] + s.offset * e;
          k.row_write(kind, xb + o, yb + o, s.len, stats[i], stream);
        }
      }
    });
    return;
  }
  // Fewer groups than threads: one group at a time, its units in parallel, folded in unit order
  // 0, 1, 2, ... (the same bits as the tiles above).
  std::vector<RowStats> partial(static_cast<std::size_t>(units));
  const std::int64_t max_chunks = p.group_size() / kMinElementsPerThread;
  for (std::int64_t g = 0; g < groups; ++g) {
    const std::int64_t base = p.batch_offset(g);
    parallel_for(units, max_chunks, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t u = begin; u < end; ++u) {
        const UnitSpan s = unit_span(p, chunks, u);
        partial[static_cast<std::size_t>(u)] = k.row_stats(kind, at(x, base + s.offset), s.len);
      }
    });
    RowStats total = partial[0];
    for (std::int64_t u = 1; u < units; ++u) total = merge_row_stats(total, partial[static_cast<std::size_t>(u)]);
    parallel_for(units, max_chunks, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t u = begin; u < end; ++u) {
        const UnitSpan s = unit_span(p, chunks, u);
        k.row_write(kind, at(x, base + s.offset), at(y, base + s.offset), s.len, total, stream);
      }
    });
  }
}

void backward_rows(const SimdDtypeKernels& k, Op kind, const Tensor& grad, const Tensor& out,
                   const Tensor& dx, const GroupBlocks& p, bool stream) {
  const std::int64_t chunks = chunks_of(p.n);
  const std::int64_t units = static_cast<std::int64_t>(p.runs.size()) * chunks;
  const std::int64_t groups = p.batch_count();
  const bool per_group_parallel = groups >= get_num_threads() || units == 1;
  if (p.group_size() <= kFusedRowMax) {
    const std::int64_t gs = p.group_size();
    gather_rows(p, {&grad, &out}, dx, stream, [&](char* const* buf, std::int64_t count) {
      k.rows_backward(kind, buf[0], gs, buf[1], gs, buf[0], gs, count, gs, false);  // dx over grad
    });
    return;
  }
  stream = stream && p.n * static_cast<std::int64_t>(grad.element_size()) >= kStreamRowBytes;
  if (per_group_parallel) {  // tiles, as forward_rows; each group sums its units in order
    char* const gb = at(grad, 0);
    char* const yb = at(out, 0);
    char* const db = at(dx, 0);
    const auto e = static_cast<std::int64_t>(grad.element_size());
    for_each_tile(p, 2 * grad.element_size(), [&](std::int64_t g0, std::int64_t count) {
      thread_local std::vector<double> acc;
      thread_local std::vector<std::int64_t> base;
      acc.assign(static_cast<std::size_t>(count), 0.0);
      base.resize(static_cast<std::size_t>(count));
      for (std::int64_t i = 0; i < count; ++i) base[static_cast<std::size_t>(i)] = p.batch_offset(g0 + i) * e;
      for (std::int64_t u = 0; u < units; ++u) {
        const UnitSpan s = unit_span(p, chunks, u);
        for (std::size_t i = 0; i < static_cast<std::size_t>(count); ++i) {
          const std::int64_t o = base[i] + s.offset * e;
          acc[i] += k.row_backward_acc(kind, gb + o, yb + o, s.len);
        }
      }
      for (std::int64_t u = 0; u < units; ++u) {
        const UnitSpan s = unit_span(p, chunks, u);
        for (std::size_t i = 0; i < static_cast<std::size_t>(count); ++i) {
          const std::int64_t o = base[i] + s.offset * e;
          k.row_backward_write(kind, gb + o, yb + o, db + o, s.len, acc[i], stream);
        }
      }
    });
    return;
  }
  // Fewer groups than threads: one group at a time, its units in parallel, summed in unit order.
  std::vector<double> partial(static_cast<std::size_t>(units));
  const std::int64_t max_chunks = p.group_size() / kMinElementsPerThread;
  for (std::int64_t g = 0; g < groups; ++g) {
    const std::int64_t base = p.batch_offset(g);
    parallel_for(units, max_chunks, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t u = begin; u < end; ++u) {
        const UnitSpan s = unit_span(p, chunks, u);
        const std::int64_t o = base + s.offset;
        partial[static_cast<std::size_t>(u)] = k.row_backward_acc(kind, at(grad, o), at(out, o), s.len);
      }
    });
    double acc = 0.0;
    for (std::int64_t u = 0; u < units; ++u) acc += partial[static_cast<std::size_t>(u)];
    parallel_for(units, max_chunks, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t u = begin; u < end; ++u) {
        const UnitSpan s = unit_span(p, chunks, u);
        const std::int64_t o = base + s.offset;
        k.row_backward_write(kind, at(grad, o), at(out, o), at(dx, o), s.len, acc, stream);
      }
    });
  }
}

// ---- columns: the innermost block is not in the group ----

// Runs fn(batch index, first lane, lane count) over every (batch, block of kLaneBlock lanes).
template <typename Fn>
void for_each_lane_block(const GroupBlocks& p, Fn&& fn) {
  const std::int64_t blocks = (p.lanes + kLaneBlock - 1) / kLaneBlock;
  const std::int64_t items = p.batch_count() * blocks;
  parallel_for(items, items * kLaneBlock * p.group_size() / kMinElementsPerThread,
               [&](std::int64_t begin, std::int64_t end) {
                 for (std::int64_t item = begin; item < end; ++item) {
                   const std::int64_t l0 = (item % blocks) * kLaneBlock;
                   fn(item / blocks, l0, std::min(kLaneBlock, p.lanes - l0));
                 }
               });
}

void forward_columns(const SimdDtypeKernels& k, Op kind, const Tensor& x, const Tensor& y,
                     const GroupBlocks& p, bool stream) {
  const bool f64 = x.dtype() == kFloat64;  // the running max is double for float64, else float
  for_each_lane_block(p, [&](std::int64_t b, std::int64_t l0, std::int64_t width) {
    double max_storage[kLaneBlock];
    double sum[kLaneBlock];
    if (f64) {
      std::fill(max_storage, max_storage + width, -std::numeric_limits<double>::infinity());
    } else {
      auto* m = reinterpret_cast<float*>(max_storage);
      std::fill(m, m + width, -std::numeric_limits<float>::infinity());
    }
    std::fill(sum, sum + width, 0.0);
    const std::int64_t base = p.batch_offset(b) + l0;
    for (std::int64_t run : p.runs) k.cols_stats(kind, at(x, base + run), p.lanes, p.n, width, max_storage, sum);
    for (std::int64_t run : p.runs) {
      k.cols_write(kind, at(x, base + run), p.lanes, at(y, base + run), p.lanes, p.n, width, max_storage, sum,
                   stream);
    }
  });
}

template <typename T>
double load(const void* base, std::int64_t i) {
  return static_cast<double>(static_cast<const T*>(base)[i]);
}

template <typename T>
void store(void* base, std::int64_t i, double v) {
  if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>) {
    static_cast<T*>(base)[i] = T(static_cast<float>(v));
  } else {
    static_cast<T*>(base)[i] = static_cast<T>(v);
  }
}

// Backward over columns in double: softmax dx = y * (g - sum(g * y)); log_softmax
// dx = g - exp(y) * sum(g).
template <typename T>
void backward_columns(Op kind, const Tensor& grad, const Tensor& out, const Tensor& dx,
                      const GroupBlocks& p) {
  const bool soft = kind == Op::kSoftmaxBackward;
  const void* g = grad.data_ptr();
  const void* y = out.data_ptr();
  void* d = dx.data_ptr();
  for_each_lane_block(p, [&](std::int64_t b, std::int64_t l0, std::int64_t width) {
    double acc[kLaneBlock] = {};
    const std::int64_t base = p.batch_offset(b) + l0;
    for (std::int64_t run : p.runs) {
      for (std::int64_t i = 0; i < p.n; ++i) {
        const std::int64_t row = base + run + i * p.lanes;
        for (std::int64_t l = 0; l < width; ++l) {
          acc[l] += soft ? load<T>(g, row + l) * load<T>(y, row + l) : load<T>(g, row + l);
        }
      }
    }
    for (std::int64_t run : p.runs) {
      for (std::int64_t i = 0; i < p.n; ++i) {
        const std::int64_t row = base + run + i * p.lanes;
        for (std::int64_t l = 0; l < width; ++l) {
          const double gv = load<T>(g, row + l);
          const double yv = load<T>(y, row + l);
          store<T>(d, row + l, soft ? yv * (gv - acc[l]) : gv - std::exp(yv) * acc[l]);
        }
      }
    }
  });
}

std::vector<std::vector<std::int64_t>> strides_of(std::initializer_list<const Tensor*> ts) {
  std::vector<std::vector<std::int64_t>> s;
  for (const Tensor* t : ts) s.push_back(t->strides());
  return s;
}

}  // namespace

void execute_forward_dims(Op kind, const Tensor& x, const Tensor& y, const std::vector<std::int64_t>& dims) {
  const std::vector<std::int64_t> sizes = x.sizes().vec();
  // One run: the single-dim executor on views (same kernels, same bits as reshape + softmax).
  auto one_run = [&](const Tensor& in) {
    const auto view = group_as_one_run(sizes, dims, strides_of({&in, &y}));
    if (!view) return false;
    execute_forward(kind, restride(in, view->sizes, view->strides[0]), restride(y, view->sizes, view->strides[1]),
                    view->dim);
    return true;
  };
  if (one_run(x)) return;
  const Tensor xc = x.is_contiguous() ? x : x.contiguous();
  if (one_run(xc)) return;
  const GroupBlocks plan = plan_group_blocks(sizes, dims);
  const SimdDtypeKernels& k = kernels_for(x.dtype());
  const bool stream = y.numel() * static_cast<std::int64_t>(y.element_size()) >= kStreamBytes;
  if (plan.rows) {
    forward_rows(k, kind, xc, y, plan, stream);
  } else {
    forward_columns(k, kind, xc, y, plan, stream);
  }
}

void execute_backward_dims(Op kind, const Tensor& grad, const Tensor& output, const Tensor& dx,
                           const std::vector<std::int64_t>& dims) {
  const std::vector<std::int64_t> sizes = grad.sizes().vec();
  auto one_run = [&](const Tensor& g, const Tensor& y) {
    const auto view = group_as_one_run(sizes, dims, strides_of({&g, &y, &dx}));
    if (!view) return false;
    execute_backward(kind, restride(g, view->sizes, view->strides[0]), restride(y, view->sizes, view->strides[1]),
                     restride(dx, view->sizes, view->strides[2]), view->dim);
    return true;
  };
  if (one_run(grad, output)) return;
  const Tensor gc = grad.is_contiguous() ? grad : grad.contiguous();
  const Tensor yc = output.is_contiguous() ? output : output.contiguous();
  if (one_run(gc, yc)) return;
  const GroupBlocks plan = plan_group_blocks(sizes, dims);
  if (plan.rows) {
    const bool stream = dx.numel() * static_cast<std::int64_t>(dx.element_size()) >= kStreamBytes;
    backward_rows(kernels_for(grad.dtype()), kind, gc, yc, dx, plan, stream);
    return;
  }
  switch (grad.dtype()) {
    case kFloat64: backward_columns<double>(kind, gc, yc, dx, plan); break;
    case kFloat16: backward_columns<Half>(kind, gc, yc, dx, plan); break;
    case kBFloat16: backward_columns<BFloat16>(kind, gc, yc, dx, plan); break;
    default: backward_columns<float>(kind, gc, yc, dx, plan); break;
  }
}

}  // namespace smx::detail
