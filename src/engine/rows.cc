// Rows: nothing follows the softmax dim. Each row is cut into fixed chunks of kFusedRowMax
// elements; a row of one chunk takes rows_fused, a longer one the chunks' statistics merged in
// order, then the write pass. Strided rows are gathered chunk by chunk into a bounded per-thread
// buffer first. Threads split rows (or row blocks), or, when there are fewer rows than threads,
// the chunks of one row - which each do the same arithmetic, so any thread count gives the same
// bits.
//
// Masked rows (the attention-score softmax) read through the masked load, row by row: a row that
// keeps nothing gets the fully masked value; a row that keeps exactly a prefix (no mask, a padding
// mask, causal) and has no scale runs the plain kernel on that prefix and fills the rest; any
// other row runs the kernel over the whole row through the masked load.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "engine/job.h"
#include "engine/report.h"
#include "runtime/parallel.h"
#include "runtime/tuning.h"
#include "smx/threading.h"

namespace smx::detail {

namespace {

constexpr std::int64_t kRowChunk = kFusedRowMax;

// One operand of a row: its first element and the stride between elements, in elements.
struct RowRef {
  char* base;
  std::int64_t stride;
};

// Hands out contiguous views of chunk [start, start + len) of a row, gathering strided ones into
// a per-thread buffer (bounded by kRowChunk elements).
class ChunkIo {
 public:
  ChunkIo(std::int64_t elem, int slot) : elem_(elem), slot_(slot) {}

  const char* read(const RowRef& r, std::int64_t start, std::int64_t len) {
    if (r.stride == 1) return r.base + start * elem_;
    char* buf = buffer();
    for (std::int64_t i = 0; i < len; ++i) {
      std::memcpy(buf + i * elem_, r.base + (start + i) * r.stride * elem_, static_cast<std::size_t>(elem_));
    }
    return buf;
  }
  char* target(const RowRef& r, std::int64_t start) { return r.stride == 1 ? r.base + start * elem_ : buffer(); }
  void commit(const RowRef& r, std::int64_t start, std::int64_t len) {
    if (r.stride == 1) return;
    const char* buf = buffer();
    for (std::int64_t i = 0; i < len; ++i) {
      std::memcpy(r.base + (start + i) * r.stride * elem_, buf + i * elem_, static_cast<std::size_t>(elem_));
    }
  }

 private:
  char* buffer() {
    thread_local std::vector<double> buffers[4];
    auto& b = buffers[slot_];
    b.resize(static_cast<std::size_t>(kRowChunk));
    return reinterpret_cast<char*>(b.data());
  }
  std::int64_t elem_;
  int slot_;
};

std::int64_t chunk_count(std::int64_t n) { return (n + kRowChunk - 1) / kRowChunk; }
std::int64_t chunk_len(std::int64_t n, std::int64_t c) { return std::min(kRowChunk, n - c * kRowChunk); }

// Runs per_row(r, chunks_in_parallel) for every row: rows in parallel when there are enough of
// them, else one row at a time with its chunks in parallel. Either way each chunk does the same
// arithmetic.
template <typename PerRow>
void for_each_row(std::int64_t rows, std::int64_t n, PerRow&& per_row) {
  if (rows >= get_num_threads() || chunk_count(n) == 1) {
    parallel_for(rows, rows * n / kMinElementsPerThread, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t r = begin; r < end; ++r) {
        report_unit();
        per_row(r, false);
      }
    });
  } else {
    for (std::int64_t r = 0; r < rows; ++r) per_row(r, true);
  }
}

template <typename Fn>
void for_each_chunk(std::int64_t n, bool parallel, Fn&& fn) {
  const std::int64_t chunks = chunk_count(n);
  parallel_for(chunks, parallel ? chunks : 1, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t c = begin; c < end; ++c) {
      if (parallel) report_unit();
      fn(c, c * kRowChunk, chunk_len(n, c));
    }
  });
}

// The masked load of a row's chunk starting at `start` (mask and keep_end made relative to it).
MaskedLoad chunk_load(const MaskedLoad& row, std::int64_t start) {
  MaskedLoad m = row;
  if (m.mask != nullptr) m.mask += start * m.mask_stride;
  if (m.keep_end != MaskedLoad::kNoLimit) m.keep_end -= start;
  return m;
}

// One row of n elements through `masked` (null: plain), any strides, any length.
void forward_row(const Job& job, RowRef x, RowRef y, std::int64_t n, bool parallel, const MaskedLoad* masked) {
  const DtypeKernels& k = job.k;
  const bool stream = job.stream && y.stride == 1;
  if (n <= kRowChunk) {
    ChunkIo in(job.elem, 0), out(job.elem, 1);
    k.rows_fused(job.op, in.read(x, 0, n), 0, out.target(y, 0), 0, 1, n, stream, masked);
    out.commit(y, 0, n);
    return;
  }
  std::vector<RowStats> partial(static_cast<std::size_t>(chunk_count(n)));
  for_each_chunk(n, parallel, [&](std::int64_t c, std::int64_t start, std::int64_t len) {
    ChunkIo in(job.elem, 0);
    const MaskedLoad m = masked ? chunk_load(*masked, start) : MaskedLoad{};
    partial[static_cast<std::size_t>(c)] = k.row_stats(job.op, in.read(x, start, len), len, masked ? &m : nullptr);
  });
  RowStats total = partial[0];
  for (std::size_t c = 1; c < partial.size(); ++c) total = merge_row_stats(total, partial[c]);
  for_each_chunk(n, parallel, [&](std::int64_t, std::int64_t start, std::int64_t len) {
    ChunkIo in(job.elem, 0), out(job.elem, 1);
    const MaskedLoad m = masked ? chunk_load(*masked, start) : MaskedLoad{};
    k.row_write(job.op, in.read(x, start, len), out.target(y, start), len, total, stream, masked ? &m : nullptr);
    out.commit(y, start, len);
  });
}

void backward_row(const Job& job, RowRef g, RowRef y, RowRef dx, std::int64_t n, bool parallel,
                  const MaskedLoad* masked) {
  const DtypeKernels& k = job.k;
  std::vector<double> partial(static_cast<std::size_t>(chunk_count(n)));
  for_each_chunk(n, parallel, [&](std::int64_t c, std::int64_t start, std::int64_t len) {
    ChunkIo gi(job.elem, 0), yi(job.elem, 1);
    partial[static_cast<std::size_t>(c)] = k.row_backward_acc(job.op, gi.read(g, start, len), yi.read(y, start, len), len);
  });
  double total = 0.0;
  for (double p : partial) total += p;
  for_each_chunk(n, parallel, [&](std::int64_t, std::int64_t start, std::int64_t len) {
    ChunkIo gi(job.elem, 0), yi(job.elem, 1), out(job.elem, 2);
    const MaskedLoad m = masked ? chunk_load(*masked, start) : MaskedLoad{};
    k.row_backward_write(job.op, gi.read(g, start, len), yi.read(y, start, len), out.target(dx, start), len, total,
                         job.stream && dx.stride == 1, masked ? &m : nullptr);
    out.commit(dx, start, len);
  });
}

// Calls fn(first row, row count, per-operand row spacing) on blocks of rows, in parallel (for
// the kRowBlocks family: at most one batch dim).
template <typename Fn>
void for_each_row_block(const Plan& plan, Fn&& fn) {
  const std::array<std::int64_t, kMaxOperands> spacing =
      plan.batch.empty() ? std::array<std::int64_t, kMaxOperands>{} : plan.batch[0].strides;
  const std::int64_t rows = plan.batch_count();
  parallel_for(rows, rows * plan.n() / kMinElementsPerThread, [&](std::int64_t begin, std::int64_t end) {
    report_unit();
    fn(begin, end - begin, spacing);
  });
}

// ---- masked rows ----

// What a masked row keeps: keep_end (causal, or 0 when a broadcast False masks the whole row),
// the mask bytes still to look at (null when none), and their stride.
struct RowMask {
  const std::uint8_t* m;
  std::int64_t ms;
  std::int64_t keep_end;
};

RowMask row_mask(const Job& job, std::int64_t r, std::int64_t mask_offset, std::int64_t n) {
  RowMask rm{job.mask_at(mask_offset), job.plan.row.strides[job.mask_slot], n};
  if (job.mask->causal) rm.keep_end = std::min(r % job.causal_rows + 1, n);
  if (rm.m != nullptr && rm.ms == 0) {  // one byte for the whole row
    if (rm.m[0] == 0) rm.keep_end = 0;
    rm.m = nullptr;
  }
  return rm;
}

bool keeps_any(const RowMask& rm) {
  if (rm.keep_end <= 0) return false;
  if (rm.m == nullptr) return true;
  unsigned any = 0;  // (no early exit: this vectorizes)
  if (rm.ms == 1) {
    for (std::int64_t j = 0; j < rm.keep_end; ++j) any |= rm.m[j];
  } else {
    for (std::int64_t j = 0; j < rm.keep_end; ++j) any |= rm.m[j * rm.ms];
  }
  return any != 0;
}

// If the kept elements are exactly [0, len) - no mask bytes, a padding mask, causal - returns
// len; otherwise -1.
std::int64_t kept_prefix(const RowMask& rm) {
  if (rm.m == nullptr) return rm.keep_end;
  std::int64_t len = 0;
  if (rm.ms == 1) {
    const void* zero = std::memchr(rm.m, 0, static_cast<std::size_t>(rm.keep_end));
    len = zero ? static_cast<const std::uint8_t*>(zero) - rm.m : rm.keep_end;
    unsigned after = 0;  // any True after the first False (no early exit: this vectorizes)
    for (std::int64_t j = len; j < rm.keep_end; ++j) after |= rm.m[j];
    return after != 0 ? -1 : len;
  }
  while (len < rm.keep_end && rm.m[len * rm.ms] != 0) ++len;
  for (std::int64_t j = len; j < rm.keep_end; ++j) {
    if (rm.m[j * rm.ms] != 0) return -1;
  }
  return len;
}

double masked_value(const Job& job) {
  return job.op == Op::kLogSoftmax ? -std::numeric_limits<double>::infinity() : 0.0;
}

// A contiguous run of y's row elements [from, n) set to `value`.
void fill_row(const Job& job, char* y_row, std::int64_t from, std::int64_t n, double value, bool stream) {
  if (from < n) job.k.fill(y_row + from * job.elem, n - from, value, stream);
}

// Whether y[0] of a row is NaN (the NaN check of a prefix row's tail).
bool first_is_nan(const Job& job, const char* y_row) {
  switch (job.dtype) {
    case kFloat64: {
      double v;
      std::memcpy(&v, y_row, sizeof v);
      return std::isnan(v);
    }
    case kFloat32: {
      float v;
      std::memcpy(&v, y_row, sizeof v);
      return std::isnan(v);
    }
    default: {  // 16-bit: all exponent bits and a nonzero mantissa
      std::uint16_t h;
      std::memcpy(&h, y_row, sizeof h);
      return job.dtype == kFloat16 ? (h & 0x7c00u) == 0x7c00u && (h & 0x03ffu) != 0
                                   : (h & 0x7f80u) == 0x7f80u && (h & 0x007fu) != 0;
    }
  }
}

// Masked forward rows, one parallel range of rows at a time. Consecutive rows of the same kind
// go to the kernel together: prefix rows of one length evenly spaced in x ("direct runs", one
// rows_fused call on the prefix), and masked-load rows evenly spaced in x, y and the mask with
// keep_end growing by 0 or 1 per row (one rows_fused call through the masked load).
void forward_masked_rows(const Job& job) {
  const Plan& plan = job.plan;
  const std::int64_t n = plan.n();
  const std::int64_t rows = plan.batch_count();
  const std::int64_t xs = plan.row.strides[kIn];
  const std::int64_t ys = plan.row.strides[kOut];
  const bool contiguous_rows = xs == 1 && ys == 1 && n <= kRowChunk;
  const double fill = job.fully_masked_value();
  const double masked = masked_value(job);
  const MaskSpec& spec = *job.mask;
  const std::int64_t run_max = std::max<std::int64_t>(1, tuning().masked_run_bytes / (n * job.elem));
  parallel_for(rows, rows * n / kMinElementsPerThread, [&](std::int64_t r0, std::int64_t r1) {
    report_unit();
    // The pending run: rows [first, first + count), all of one kind.
    enum class Kind { kNone, kDirect, kMasked } kind = Kind::kNone;
    std::int64_t first = 0, count = 0, len = 0;
    std::array<std::int64_t, kMaxOperands> off0{}, step{};
    MaskedLoad load;
    auto flush = [&] {
      if (count == 0) return;
      char* y0 = job.at(kOut, off0[kOut]);
      if (kind == Kind::kDirect) {
        // Non-temporal stores for large outputs, except where they cost more than they save: causal
        // rows (a new length each row, so one kernel call and one fence per row), and short rows
        // with a masked tail (y[0] is read back for the NaN check below, and reading a line just
        // written with a non-temporal store waits for memory).
        const bool stream = job.stream && !spec.causal && (len == n || n * job.elem >= 2 * tuning().stream_min_run_bytes);
        if (len > 0) {
          job.k.rows_fused(job.op, job.at(kIn, off0[kIn]), step[kIn], y0, step[kOut], count, len, stream, nullptr);
        }
        for (std::int64_t r = 0; r < count && len < n; ++r) {
          char* y_row = y0 + r * step[kOut] * job.elem;
          // A row whose kept elements give NaN (NaN or +inf kept, or all kept -inf) is NaN
          // throughout, masked elements too, as torch.softmax of the masked_fill-ed row.
          const double tail = len == 0 ? fill : first_is_nan(job, y_row) ? std::nan("") : masked;
          fill_row(job, y_row, len, n, tail, stream);
        }
        if (stream) stream_fence();
      } else {
        load.mask_row_stride = step[job.mask_slot];
        job.k.rows_fused(job.op, job.at(kIn, off0[kIn]), step[kIn], y0, step[kOut], count, n,
                         job.stream && !spec.causal, &load);
      }
      count = 0;
      kind = Kind::kNone;
    };
    // Whether row `off` continues the pending run of kind k: evenly spaced in x and y (and, for
    // the masked load, in the mask).
    auto joins = [&](Kind k, const std::array<std::int64_t, kMaxOperands>& off) {
      if (kind != k || count == run_max) return false;
      const std::size_t slots[3] = {kIn, kOut, job.mask_slot};
      for (std::size_t o : slots) {
        if (o == job.mask_slot && k == Kind::kDirect) continue;
        const std::int64_t d = off[o] - off0[o];
        if (count == 1) step[o] = d;
        if (d != count * step[o]) return false;
      }
      return true;
    };
    for (std::int64_t r = r0; r < r1; ++r) {
      const auto off = plan.batch_offsets(r);
      const RowMask rm = row_mask(job, r, off[job.mask_slot], n);
      if (!contiguous_rows) {  // strided rows or long ones: one at a time through the chunks
        flush();
        char* y_row = job.at(kOut, off[kOut]);
        if (!keeps_any(rm)) {
          for (std::int64_t j = 0; j < n; ++j) job.k.fill(y_row + j * ys * job.elem, 1, fill, false);
          continue;
        }
        MaskedLoad m;
        m.mask = rm.m;
        m.mask_stride = rm.ms;
        m.keep_end = rm.keep_end;
        m.scaled = spec.scale.has_value();
        m.scale = spec.scale.value_or(1.0);
        forward_row(job, {job.at(kIn, off[kIn]), xs}, {y_row, ys}, n, false, &m);
        continue;
      }
      if (!keeps_any(rm)) {
        flush();
        fill_row(job, job.at(kOut, off[kOut]), 0, n, fill, false);
        continue;
      }
      const std::int64_t prefix = spec.scale ? -1 : kept_prefix(rm);
      const Kind k = prefix >= 0 ? Kind::kDirect : Kind::kMasked;
      bool same = joins(k, off);
      if (same && k == Kind::kDirect) same = prefix == len;
      // (causal rows continue a run when they are the next query rows: keep_end one further)
      if (same && k == Kind::kMasked && spec.causal) same = r % job.causal_rows + 1 == load.keep_end + count;
      if (!same) {
        flush();
        kind = k;
        first = r;
        off0 = off;
        len = prefix;
        load = MaskedLoad{};
        load.mask = rm.m;
        load.mask_stride = rm.ms;
        // (causal: the unclamped i + 1, growing by one per row of the run; a limit past the row's
        // end keeps everything)
        load.keep_end = spec.causal ? r % job.causal_rows + 1 : MaskedLoad::kNoLimit;
        load.keep_end_step = spec.causal ? 1 : 0;
        load.scaled = spec.scale.has_value();
        load.scale = spec.scale.value_or(1.0);
      }
      ++count;
    }
    flush();
    (void)first;
  });
}

void backward_masked_rows(const Job& job) {
  const Plan& plan = job.plan;
  const std::int64_t n = plan.n();
  const std::int64_t rows = plan.batch_count();
  const MaskSpec& spec = *job.mask;
  parallel_for(rows, rows * n / kMinElementsPerThread, [&](std::int64_t r0, std::int64_t r1) {
    report_unit();
    for (std::int64_t r = r0; r < r1; ++r) {
      const auto off = plan.batch_offsets(r);
      const RowMask rm = row_mask(job, r, off[job.mask_slot], n);
      MaskedLoad m;
      m.mask = rm.m;
      m.mask_stride = rm.ms;
      m.keep_end = rm.keep_end;
      m.scaled = spec.scale.has_value();
      m.scale = spec.scale.value_or(1.0);
      const RowRef g{job.at(kGrad, off[kGrad]), plan.row.strides[kGrad]};
      const RowRef y{job.at(kY, off[kY]), plan.row.strides[kY]};
      const RowRef dx{job.at(kDx, off[kDx]), plan.row.strides[kDx]};
      if (g.stride == 1 && y.stride == 1 && dx.stride == 1 && n <= kRowChunk) {
        job.k.rows_backward(job.op, g.base, 0, y.base, 0, dx.base, 0, 1, n, job.stream, &m);
      } else {
        backward_row(job, g, y, dx, n, false, &m);
      }
    }
  });
}

}  // namespace

double Job::fully_masked_value() const {
  if (mask != nullptr && mask->fully_masked_nan) return std::nan("");
  return op == Op::kLogSoftmax ? -std::numeric_limits<double>::infinity() : 0.0;
}

void forward_rows(const Job& job) {
  if (job.mask != nullptr) return forward_masked_rows(job);
  const Plan& plan = job.plan;
  const std::int64_t n = plan.n();
  if (plan.family == Family::kRowBlocks) {
    for_each_row_block(plan, [&](std::int64_t first, std::int64_t count, const auto& s) {
      job.k.rows_fused(job.op, job.at(kIn, first * s[kIn]), s[kIn], job.at(kOut, first * s[kOut]), s[kOut], count, n,
                       job.stream, nullptr);
    });
    return;
  }
  for_each_row(plan.batch_count(), n, [&](std::int64_t r, bool parallel) {
    const auto off = plan.batch_offsets(r);
    forward_row(job, {job.at(kIn, off[kIn]), plan.row.strides[kIn]}, {job.at(kOut, off[kOut]), plan.row.strides[kOut]},
                n, parallel, nullptr);
  });
}

void backward_rows(const Job& job) {
  if (job.mask != nullptr) return backward_masked_rows(job);
  const Plan& plan = job.plan;
  const std::int64_t n = plan.n();
  if (plan.family == Family::kRowBlocks) {
    for_each_row_block(plan, [&](std::int64_t first, std::int64_t count, const auto& s) {
      job.k.rows_backward(job.op, job.at(kGrad, first * s[kGrad]), s[kGrad], job.at(kY, first * s[kY]), s[kY],
                          job.at(kDx, first * s[kDx]), s[kDx], count, n, job.stream, nullptr);
    });
    return;
  }
  for_each_row(plan.batch_count(), n, [&](std::int64_t r, bool parallel) {
    const auto off = plan.batch_offsets(r);
    backward_row(job, {job.at(kGrad, off[kGrad]), plan.row.strides[kGrad]},
                 {job.at(kY, off[kY]), plan.row.strides[kY]}, {job.at(kDx, off[kDx]), plan.row.strides[kDx]}, n,
                 parallel, nullptr);
  });
}

}  // namespace smx::detail
