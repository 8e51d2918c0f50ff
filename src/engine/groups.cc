// Groups of several dims that do not walk memory as one run (engine/plan.h: contiguous operands,
// each group `runs` of n elements). Every group is computed by one fixed sequence of kernel calls
// whatever the thread count; threads only split independent groups, lane blocks, or the units of
// one group whose partial statistics are then merged in a fixed order - so any thread count gives
// the same bits.
//   kGroupGather   at most kFusedRowMax elements: the group's rows are copied into a contiguous
//                  per-thread buffer (it stays in L2), rows_fused runs on it in place, and the
//                  result rows are copied out (non-temporal stores for a large output): one exp
//                  per element, and the same bits as permute + reshape + softmax over the last dim.
//   kGroupRows     longer: units (run, chunk of kFusedRowMax); row_stats per unit merged in the
//                  group's order with merge_row_stats, then row_write. Backward: row_backward_acc
//                  summed in order, then row_backward_write.
//   kGroupColumns  the innermost block is not in the group: cols_stats carries each lane's
//                  running (max, sum) from run to run, then cols_write writes every run.
//                  Backward: cols_backward_acc carries the accumulators, then cols_backward_write.
#include <algorithm>
#include <limits>
#include <vector>

#include "engine/job.h"
#include "engine/report.h"
#include "runtime/parallel.h"
#include "runtime/tuning.h"
#include "smx/threading.h"

namespace smx::detail {

namespace {

std::int64_t chunks_of(std::int64_t n) { return (n + kFusedRowMax - 1) / kFusedRowMax; }

// A unit of a group: chunk c of run r (rows longer than kFusedRowMax are cut as single rows are).
struct UnitSpan {
  std::int64_t offset, len;  // from the group's first element
};
UnitSpan unit_span(const Plan& p, std::int64_t chunks, std::int64_t u) {
  const std::int64_t c = u % chunks;
  return {p.runs[static_cast<std::size_t>(u / chunks)] + c * kFusedRowMax, std::min(kFusedRowMax, p.n() - c * kFusedRowMax)};
}

// Groups in tiles of consecutive groups (about group_tile_bytes of input each, so a tile's second
// pass reads from cache), tiles in parallel. fn(first group, count) does a tile.
template <typename Fn>
void for_each_tile(const Plan& p, std::int64_t bytes_per_element, Fn&& fn) {
  const std::int64_t groups = p.batch_count();
  const std::int64_t group_bytes = p.group_size() * bytes_per_element;
  const std::int64_t tile =
      std::clamp<std::int64_t>(tuning().group_tile_bytes / std::max<std::int64_t>(group_bytes, 1), 1, groups);
  const std::int64_t tiles = (groups + tile - 1) / tile;
  parallel_for(tiles, groups * p.group_size() / kMinElementsPerThread, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t t = begin; t < end; ++t) {
      report_unit();
      fn(t * tile, std::min(tile, groups - t * tile));
    }
  });
}

// kGroupGather: fn(buffers) gets one buffer per input operand (holding the group's rows one after
// the other) and leaves the result in the first; while a group computes, the rows of a group
// about group_prefetch_bytes ahead are prefetched, so memory and arithmetic overlap as they do in
// the single-dim kernels.
template <typename Fn>
void gather_groups(const Job& job, std::initializer_list<std::size_t> inputs, std::size_t output, Fn&& fn) {
  const Plan& p = job.plan;
  const std::int64_t groups = p.batch_count();
  const std::int64_t e = job.elem;
  const std::int64_t row_elems = p.n();
  const std::int64_t group_bytes = p.group_size() * e;
  const std::int64_t ahead = std::max<std::int64_t>(1, tuning().group_prefetch_bytes / group_bytes);
  const std::size_t slots = inputs.size();
  const std::size_t slot_doubles = static_cast<std::size_t>(group_bytes) / sizeof(double) + 8;
  const bool stream = job.stream;  // (the copy aligns to whole vectors itself; one fence at the end)
  parallel_for(groups, groups * p.group_size() / kMinElementsPerThread, [&](std::int64_t begin, std::int64_t end) {
    report_unit();
    thread_local std::vector<double> storage;  // doubles: aligned for every dtype
    storage.resize(slots * slot_doubles);
    char* bufs[kMaxOperands];
    for (std::size_t b = 0; b < slots; ++b) bufs[b] = reinterpret_cast<char*>(storage.data() + b * slot_doubles);
    auto prefetch = [&](std::int64_t g) {
      const std::int64_t base = p.batch_offsets(g)[0];
      for (std::size_t o : inputs) {
        for (std::int64_t run : p.runs) {
          const char* row = job.at(o, base + run);
          for (std::int64_t l = 0; l < row_elems * e; l += 64) __builtin_prefetch(row + l, 0, 2);  // to L2
        }
      }
    };
    for (std::int64_t g = begin; g < std::min(end, begin + ahead); ++g) prefetch(g);
    for (std::int64_t g = begin; g < end; ++g) {
      if (g + ahead < end) prefetch(g + ahead);
      const std::int64_t base = p.batch_offsets(g)[0];
      std::size_t b = 0;
      for (std::size_t o : inputs) {
        for (std::size_t r = 0; r < p.runs.size(); ++r) {
          job.k.copy(bufs[b] + static_cast<std::int64_t>(r) * row_elems * e, job.at(o, base + p.runs[r]), row_elems, false);
        }
        ++b;
      }
      fn(bufs);
      for (std::size_t r = 0; r < p.runs.size(); ++r) {
        job.k.copy(job.at(output, base + p.runs[r]), bufs[0] + static_cast<std::int64_t>(r) * row_elems * e, row_elems,
                   stream);
      }
    }
    if (stream) stream_fence();
  });
}

// kGroupRows: fold(group, unit span) for every unit of every group in the group's order, then
// write(group, unit span, total); `State` is RowStats (forward) or double (backward).
template <typename State, typename Fold, typename Merge, typename Write>
void unit_groups(const Job& job, std::int64_t bytes_per_element, Fold&& fold, Merge&& merge, Write&& write) {
  const Plan& p = job.plan;
  const std::int64_t chunks = chunks_of(p.n());
  const std::int64_t units = p.run_count() * chunks;
  const std::int64_t groups = p.batch_count();
  if (groups >= get_num_threads() || units == 1) {
    // Unit by unit over every group of a tile: the rows of neighbouring groups are neighbours in
    // memory. Each group still folds its units in order 0, 1, 2, ...
    for_each_tile(p, bytes_per_element, [&](std::int64_t g0, std::int64_t count) {
      thread_local std::vector<State> state;
      thread_local std::vector<std::int64_t> base;
      state.resize(static_cast<std::size_t>(count));
      base.resize(static_cast<std::size_t>(count));
      for (std::int64_t i = 0; i < count; ++i) base[static_cast<std::size_t>(i)] = p.batch_offsets(g0 + i)[0];
      for (std::int64_t u = 0; u < units; ++u) {
        const UnitSpan s = unit_span(p, chunks, u);
        for (std::size_t i = 0; i < static_cast<std::size_t>(count); ++i) {
          const State r = fold(base[i] + s.offset, s.len);
          state[i] = u == 0 ? r : merge(state[i], r);
        }
      }
      for (std::int64_t u = 0; u < units; ++u) {
        const UnitSpan s = unit_span(p, chunks, u);
        for (std::size_t i = 0; i < static_cast<std::size_t>(count); ++i) write(base[i] + s.offset, s.len, state[i]);
      }
    });
    return;
  }
  // Fewer groups than threads: one group at a time, its units in parallel, folded in unit order
  // 0, 1, 2, ... (the same bits as the tiles above).
  std::vector<State> partial(static_cast<std::size_t>(units));
  const std::int64_t max_chunks = p.group_size() / kMinElementsPerThread;
  for (std::int64_t g = 0; g < groups; ++g) {
    const std::int64_t base = p.batch_offsets(g)[0];
    parallel_for(units, max_chunks, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t u = begin; u < end; ++u) {
        report_unit();
        const UnitSpan s = unit_span(p, chunks, u);
        partial[static_cast<std::size_t>(u)] = fold(base + s.offset, s.len);
      }
    });
    State total = partial[0];
    for (std::int64_t u = 1; u < units; ++u) total = merge(total, partial[static_cast<std::size_t>(u)]);
    parallel_for(units, max_chunks, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t u = begin; u < end; ++u) {
        const UnitSpan s = unit_span(p, chunks, u);
        write(base + s.offset, s.len, total);
      }
    });
  }
}

// Runs fn(group, first lane, lane count) over every (group, block of kLaneBlock lanes).
template <typename Fn>
void for_each_group_lane_block(const Plan& p, Fn&& fn) {
  const std::int64_t blocks = (p.lanes.size + kLaneBlock - 1) / kLaneBlock;
  const std::int64_t items = p.batch_count() * blocks;
  parallel_for(items, items * kLaneBlock * p.group_size() / kMinElementsPerThread,
               [&](std::int64_t begin, std::int64_t end) {
                 for (std::int64_t item = begin; item < end; ++item) {
                   report_unit();
                   const std::int64_t l0 = (item % blocks) * kLaneBlock;
                   fn(item / blocks, l0, std::min(kLaneBlock, p.lanes.size - l0));
                 }
               });
}

// Long rows are written with ordinary stores unless they fill whole lines between fences.
bool stream_rows(const Job& job) { return job.stream && job.plan.n() * job.elem >= tuning().stream_min_run_bytes; }

}  // namespace

void forward_groups(const Job& job) {
  const Plan& p = job.plan;
  const DtypeKernels& k = job.k;
  const Op op = job.op;
  if (p.family == Family::kGroupGather) {
    const std::int64_t gs = p.group_size();
    gather_groups(job, {kIn}, kOut, [&](char* const* buf) { k.rows_fused(op, buf[0], gs, buf[0], gs, 1, gs, false, nullptr); });
    return;
  }
  if (p.family == Family::kGroupRows) {
    const bool stream = stream_rows(job);
    unit_groups<RowStats>(
        job, job.elem, [&](std::int64_t at, std::int64_t len) { return k.row_stats(op, job.at(kIn, at), len, nullptr); },
        [](RowStats a, RowStats b) { return merge_row_stats(a, b); },
        [&](std::int64_t at, std::int64_t len, RowStats total) {
          k.row_write(op, job.at(kIn, at), job.at(kOut, at), len, total, stream, nullptr);
        });
    return;
  }
  // kGroupColumns: the running max is double for float64, else float.
  const bool f64 = job.dtype == kFloat64;
  const std::int64_t lanes = p.lanes.size;
  for_each_group_lane_block(p, [&](std::int64_t b, std::int64_t l0, std::int64_t width) {
    double max_storage[kLaneBlock];
    double sum[kLaneBlock];
    if (f64) {
      std::fill(max_storage, max_storage + width, -std::numeric_limits<double>::infinity());
    } else {
      auto* m = reinterpret_cast<float*>(max_storage);
      std::fill(m, m + width, -std::numeric_limits<float>::infinity());
    }
    std::fill(sum, sum + width, 0.0);
    const std::int64_t base = p.batch_offsets(b)[0] + l0;
    for (std::int64_t run : p.runs) k.cols_stats(op, job.at(kIn, base + run), lanes, p.n(), width, max_storage, sum, nullptr);
    for (std::int64_t run : p.runs) {
      k.cols_write(op, job.at(kIn, base + run), lanes, job.at(kOut, base + run), lanes, p.n(), width, max_storage, sum,
                   job.stream, nullptr);
    }
  });
}

void backward_groups(const Job& job) {
  const Plan& p = job.plan;
  const DtypeKernels& k = job.k;
  const Op op = job.op;
  if (p.family == Family::kGroupGather) {
    const std::int64_t gs = p.group_size();
    gather_groups(job, {kGrad, kY}, kDx, [&](char* const* buf) {
      k.rows_backward(op, buf[0], gs, buf[1], gs, buf[0], gs, 1, gs, false, nullptr);  // dx over grad
    });
    return;
  }
  if (p.family == Family::kGroupRows) {
    const bool stream = stream_rows(job);
    unit_groups<double>(
        job, 2 * job.elem,
        [&](std::int64_t at, std::int64_t len) { return k.row_backward_acc(op, job.at(kGrad, at), job.at(kY, at), len); },
        [](double a, double b) { return a + b; },
        [&](std::int64_t at, std::int64_t len, double total) {
          k.row_backward_write(op, job.at(kGrad, at), job.at(kY, at), job.at(kDx, at), len, total, stream, nullptr);
        });
    return;
  }
  const std::int64_t lanes = p.lanes.size;
  for_each_group_lane_block(p, [&](std::int64_t b, std::int64_t l0, std::int64_t width) {
    double acc[kLaneBlock] = {};
    const std::int64_t base = p.batch_offsets(b)[0] + l0;
    for (std::int64_t run : p.runs) {
      k.cols_backward_acc(op, job.at(kGrad, base + run), lanes, job.at(kY, base + run), lanes, p.n(), width, acc);
    }
    for (std::int64_t run : p.runs) {
      k.cols_backward_write(op, job.at(kGrad, base + run), lanes, job.at(kY, base + run), lanes, job.at(kDx, base + run),
                            lanes, p.n(), width, acc, job.stream);
    }
  });
}

}  // namespace smx::detail
