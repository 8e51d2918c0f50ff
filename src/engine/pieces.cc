// Groups in pieces (engine/engine.h): the decomposition of the whole-tensor calls, driven by a
// caller that sees a group a piece at a time (a file read in blocks, an MPI rank's slice).
#include <algorithm>
#include <limits>

#include "engine/engine.h"
#include "runtime/parallel.h"
#include "smx/errors.h"

namespace smx::detail {

namespace {

const DtypeKernels& floating_kernels(Dtype dtype) {
  if (!is_floating(dtype)) throw RuntimeError("softmax pieces: dtype " + dtype_name(dtype) + " is not floating");
  return kernels_for(dtype);
}

std::int64_t chunks_of(std::int64_t count) { return (count + kFusedRowMax - 1) / kFusedRowMax; }

// fn(first lane, lane count) over blocks of kLaneBlock lanes, in parallel.
template <typename Fn>
void for_each_lane_block(std::int64_t lanes, std::int64_t rows, Fn&& fn) {
  const std::int64_t blocks = (lanes + kLaneBlock - 1) / kLaneBlock;
  parallel_for(blocks, blocks * kLaneBlock * rows / kMinElementsPerThread, [&](std::int64_t begin, std::int64_t end) {
    const std::int64_t l0 = begin * kLaneBlock;
    fn(l0, std::min(lanes, end * kLaneBlock) - l0);
  });
}

// Each chunk's statistics of a contiguous row piece, chunks in parallel (not folded).
std::vector<RowStats> chunk_stats(const DtypeKernels& k, Op op, const char* x, std::int64_t elem, std::int64_t count) {
  std::vector<RowStats> partial(static_cast<std::size_t>(chunks_of(count)));
  const auto chunks = static_cast<std::int64_t>(partial.size());
  parallel_for(chunks, chunks, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t c = begin; c < end; ++c) {
      const std::int64_t len = std::min(kFusedRowMax, count - c * kFusedRowMax);
      partial[static_cast<std::size_t>(c)] = k.row_stats(op, x + c * kFusedRowMax * elem, len, nullptr);
    }
  });
  return partial;
}

}  // namespace

std::vector<RowStats> row_chunk_stats(Op op, Dtype dtype, const void* x, std::int64_t count) {
  return chunk_stats(floating_kernels(dtype), op, static_cast<const char*>(x),
                     static_cast<std::int64_t>(element_size(dtype)), count);
}

Cut cut_for(std::int64_t n, std::int64_t inner) {
  if (inner == 1) return {true, n <= kFusedRowMax, kFusedRowMax};
  return {false, n <= kColShortN, kColTile};
}

// ---- one long row ----

RowPieces::RowPieces(Op op, Dtype dtype)
    : op_(op), dtype_(dtype), elem_(static_cast<std::int64_t>(element_size(dtype))) {
  floating_kernels(dtype);
}

void RowPieces::add(const void* x, std::int64_t count) {
  // Folded left to right from the row's first chunk, exactly as the whole-row call folds them.
  for (const RowStats& p : chunk_stats(kernels_for(dtype_), op_, static_cast<const char*>(x), elem_, count)) merge(p);
}

void RowPieces::merge(RowStats other) {
  total_ = started_ ? merge_row_stats(total_, other) : other;
  started_ = true;
}

void RowPieces::write(const void* x, void* y, std::int64_t count) const {
  const DtypeKernels& k = kernels_for(dtype_);
  const auto* in = static_cast<const char*>(x);
  auto* out = static_cast<char*>(y);
  const std::int64_t chunks = chunks_of(count);
  parallel_for(chunks, chunks, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t c = begin; c < end; ++c) {
      const std::int64_t len = std::min(kFusedRowMax, count - c * kFusedRowMax);
      // No non-temporal stores: the caller copies y out of cache straight away.
      k.row_write(op_, in + c * kFusedRowMax * elem_, out + c * kFusedRowMax * elem_, len, total_, false, nullptr);
    }
  });
}

// ---- columns ----

ColumnPieces::ColumnPieces(Op op, Dtype dtype, std::int64_t lanes)
    : op_(op),
      dtype_(dtype),
      elem_(static_cast<std::int64_t>(element_size(dtype))),
      max_elem_(dtype == kFloat64 ? 8 : 4),
      lanes_(lanes),
      max_(static_cast<std::size_t>(lanes)),
      sum_(static_cast<std::size_t>(lanes), 0.0) {
  floating_kernels(dtype);
  if (max_elem_ == 8) {
    std::fill(max_.begin(), max_.end(), -std::numeric_limits<double>::infinity());
  } else {
    auto* m = reinterpret_cast<float*>(max_.data());
    std::fill(m, m + lanes, -std::numeric_limits<float>::infinity());
  }
}

void ColumnPieces::add(const void* x, std::int64_t rows) {
  const DtypeKernels& k = kernels_for(dtype_);
  const auto* in = static_cast<const char*>(x);
  auto* m = reinterpret_cast<char*>(max_.data());
  for_each_lane_block(lanes_, rows, [&](std::int64_t l0, std::int64_t width) {
    k.cols_stats(op_, in + l0 * elem_, lanes_, rows, width, m + l0 * max_elem_, sum_.data() + l0, nullptr);
  });
}

void ColumnPieces::add_max(const void* x, std::int64_t rows) {
  const DtypeKernels& k = kernels_for(dtype_);
  const auto* in = static_cast<const char*>(x);
  auto* m = reinterpret_cast<char*>(max_.data());
  for_each_lane_block(lanes_, rows, [&](std::int64_t l0, std::int64_t width) {
    k.cols_max(op_, in + l0 * elem_, lanes_, rows, width, m + l0 * max_elem_);
  });
}

void ColumnPieces::add_sum(const void* x, std::int64_t rows) {
  const DtypeKernels& k = kernels_for(dtype_);
  const auto* in = static_cast<const char*>(x);
  const auto* m = reinterpret_cast<const char*>(max_.data());
  for_each_lane_block(lanes_, rows, [&](std::int64_t l0, std::int64_t width) {
    k.cols_sum(op_, in + l0 * elem_, lanes_, rows, width, m + l0 * max_elem_, sum_.data() + l0);
  });
}

void ColumnPieces::write(const void* x, void* y, std::int64_t rows) const {
  const DtypeKernels& k = kernels_for(dtype_);
  const auto* in = static_cast<const char*>(x);
  auto* out = static_cast<char*>(y);
  const auto* m = reinterpret_cast<const char*>(max_.data());
  for_each_lane_block(lanes_, rows, [&](std::int64_t l0, std::int64_t width) {
    k.cols_write(op_, in + l0 * elem_, lanes_, out + l0 * elem_, lanes_, rows, width, m + l0 * max_elem_,
                 sum_.data() + l0, false, nullptr);
  });
}

// ---- every group's statistics over one dim (an MPI rank's slice) ----

namespace {

// x as (outer, n, inner), contiguous.
struct Slab {
  Tensor t;
  std::int64_t outer = 1, n = 1, inner = 1;
  std::int64_t elem;
  const char* at(std::int64_t o, std::int64_t i) const {
    return static_cast<const char*>(t.data_ptr()) + ((o * n + i) * inner) * elem;
  }
};

Slab slab_of(const Tensor& x, std::int64_t dim) {
  Slab s{x.to(Device(kCPU)).contiguous(), 1, x.size(dim), 1, static_cast<std::int64_t>(x.element_size())};
  for (std::int64_t d = 0; d < dim; ++d) s.outer *= x.size(d);
  for (std::int64_t d = dim + 1; d < x.dim(); ++d) s.inner *= x.size(d);
  return s;
}

char* out_at(const Tensor& y, const Slab& s, std::int64_t o, std::int64_t i) {
  return static_cast<char*>(y.data_ptr()) + ((o * s.n + i) * s.inner) * s.elem;
}

// (outer index, lane) of every group, row-major: group g = o * inner + l.
template <typename Fn>
void for_each_outer(std::int64_t outer, std::int64_t work, Fn&& fn) {
  parallel_for(outer, work / kMinElementsPerThread + 1, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t o = b; o < e; ++o) fn(o);
  });
}

}  // namespace

std::vector<RowStats> group_stats(Op op, const Tensor& x, std::int64_t dim) {
  const Slab s = slab_of(x, dim);
  const DtypeKernels& k = floating_kernels(x.dtype());
  std::vector<RowStats> stats(static_cast<std::size_t>(s.outer * s.inner),
                              RowStats{-std::numeric_limits<double>::infinity(), 0.0});
  if (s.n == 0) return stats;  // an empty slice contributes (-inf, 0), which merges as nothing
  if (s.inner == 1) {
    for_each_outer(s.outer, s.outer * s.n, [&](std::int64_t o) {
      RowPieces row(op, x.dtype());
      for (const RowStats& p : chunk_stats(k, op, s.at(o, 0), s.elem, s.n)) row.merge(p);
      stats[static_cast<std::size_t>(o)] = row.stats();
    });
    return stats;
  }
  const Cut cut = cut_for(s.n, s.inner);
  for (std::int64_t o = 0; o < s.outer; ++o) {
    ColumnPieces cols(op, x.dtype(), s.inner);
    if (cut.whole) {
      cols.add_max(s.at(o, 0), s.n);
      cols.add_sum(s.at(o, 0), s.n);
    } else {
      cols.add(s.at(o, 0), s.n);
    }
    for (std::int64_t l = 0; l < s.inner; ++l) {
      const double m = cols.max_bytes() == 8 ? static_cast<double*>(cols.max_data())[l]
                                             : static_cast<double>(static_cast<float*>(cols.max_data())[l]);
      stats[static_cast<std::size_t>(o * s.inner + l)] = RowStats{m, cols.sum_data()[l]};
    }
  }
  return stats;
}

void group_write(Op op, const Tensor& x, std::int64_t dim, const std::vector<RowStats>& stats, const Tensor& y) {
  const Slab s = slab_of(x, dim);
  if (s.n == 0) return;
  const DtypeKernels& k = floating_kernels(x.dtype());
  if (s.inner == 1) {
    for_each_outer(s.outer, s.outer * s.n, [&](std::int64_t o) {
      for (std::int64_t c = 0; c < chunks_of(s.n); ++c) {
        const std::int64_t len = std::min(kFusedRowMax, s.n - c * kFusedRowMax);
        k.row_write(op, s.at(o, c * kFusedRowMax), out_at(y, s, o, c * kFusedRowMax), len,
                    stats[static_cast<std::size_t>(o)], false, nullptr);
      }
    });
    return;
  }
  std::vector<double> max64(static_cast<std::size_t>(s.inner));
  std::vector<float> max32(static_cast<std::size_t>(s.inner));
  std::vector<double> sum(static_cast<std::size_t>(s.inner));
  for (std::int64_t o = 0; o < s.outer; ++o) {
    for (std::int64_t l = 0; l < s.inner; ++l) {
      const RowStats& st = stats[static_cast<std::size_t>(o * s.inner + l)];
      max64[static_cast<std::size_t>(l)] = st.max;
      max32[static_cast<std::size_t>(l)] = static_cast<float>(st.max);
      sum[static_cast<std::size_t>(l)] = st.sum;
    }
    const void* m = x.dtype() == kFloat64 ? static_cast<const void*>(max64.data()) : max32.data();
    k.cols_write(op, s.at(o, 0), s.inner, out_at(y, s, o, 0), s.inner, s.n, s.inner, m, sum.data(), false, nullptr);
  }
}

std::vector<double> group_backward_acc(Op op, const Tensor& grad, const Tensor& output, std::int64_t dim) {
  const Slab g = slab_of(grad, dim), y = slab_of(output, dim);
  const DtypeKernels& k = floating_kernels(grad.dtype());
  std::vector<double> acc(static_cast<std::size_t>(g.outer * g.inner), 0.0);
  if (g.n == 0) return acc;
  if (g.inner == 1) {
    for_each_outer(g.outer, g.outer * g.n, [&](std::int64_t o) {
      double t = 0.0;
      for (std::int64_t c = 0; c < chunks_of(g.n); ++c) {
        const std::int64_t len = std::min(kFusedRowMax, g.n - c * kFusedRowMax);
        t += k.row_backward_acc(op, g.at(o, c * kFusedRowMax), y.at(o, c * kFusedRowMax), len);
      }
      acc[static_cast<std::size_t>(o)] = t;
    });
    return acc;
  }
  for (std::int64_t o = 0; o < g.outer; ++o) {
    k.cols_backward_acc(op, g.at(o, 0), g.inner, y.at(o, 0), y.inner, g.n, g.inner, acc.data() + o * g.inner);
  }
  return acc;
}

void group_backward_write(Op op, const Tensor& grad, const Tensor& output, std::int64_t dim,
                          const std::vector<double>& acc, const Tensor& dx) {
  const Slab g = slab_of(grad, dim), y = slab_of(output, dim);
  if (g.n == 0) return;
  const DtypeKernels& k = floating_kernels(grad.dtype());
  if (g.inner == 1) {
    for_each_outer(g.outer, g.outer * g.n, [&](std::int64_t o) {
      for (std::int64_t c = 0; c < chunks_of(g.n); ++c) {
        const std::int64_t len = std::min(kFusedRowMax, g.n - c * kFusedRowMax);
        k.row_backward_write(op, g.at(o, c * kFusedRowMax), y.at(o, c * kFusedRowMax),
                             out_at(dx, g, o, c * kFusedRowMax), len, acc[static_cast<std::size_t>(o)], false, nullptr);
      }
    });
    return;
  }
  for (std::int64_t o = 0; o < g.outer; ++o) {
    k.cols_backward_write(op, g.at(o, 0), g.inner, y.at(o, 0), y.inner, out_at(dx, g, o, 0), g.inner, g.n, g.inner,
                          acc.data() + o * g.inner, false);
  }
}

}  // namespace smx::detail
