#include "ops/softmax_pieces.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "runtime/parallel.h"
#include "smx/errors.h"

namespace smx::detail {

namespace {


const DtypeKernels& floating_kernels(Dtype dtype) {
  if (!is_floating(dtype)) throw RuntimeError("softmax pieces: dtype " + dtype_name(dtype) + " is not floating");
  return kernels_for(dtype);
}

std::int64_t chunks_of(std::int64_t count) { return (count + kFusedRowMax - 1) / kFusedRowMax; }

// fn(first lane, lane count) over blocks of lanes, in parallel.
template <typename Fn>
void for_each_lane_block(std::int64_t lanes, std::int64_t rows, Fn&& fn) {
  const std::int64_t blocks = (lanes + kLaneBlock - 1) / kLaneBlock;
  parallel_for(blocks, blocks * kLaneBlock * rows / kMinElementsPerThread,
               [&](std::int64_t begin, std::int64_t end) {
                 const std::int64_t l0 = begin * kLaneBlock;
                 fn(l0, std::min(lanes, end * kLaneBlock) - l0);
               });
}

}  // namespace

bool softmax_pieces_available() { return !reference_kernels_selected(); }

LongRowPieces::LongRowPieces(Op kind, Dtype dtype)
    : kind_(kind), k_(&floating_kernels(dtype)), elem_(element_size(dtype)) {}

void LongRowPieces::add(const void* x, std::int64_t count) {
  const std::int64_t chunks = chunks_of(count);
  std::vector<RowStats> partial(static_cast<std::size_t>(chunks));
  const auto* bytes = static_cast<const char*>(x);
  parallel_for(chunks, chunks, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t c = begin; c < end; ++c) {
      const std::int64_t len = std::min(kFusedRowMax, count - c * kFusedRowMax);
      partial[static_cast<std::size_t>(c)] =
          k_->row_stats(kind_, bytes + c * kFusedRowMax * static_cast<std::int64_t>(elem_), len);
    }
  });
  // Folded left to right from the row's first chunk, exactly as execute_forward folds them.
  for (const RowStats& p : partial) {
    total_ = started_ ? merge_row_stats(total_, p) : p;
    started_ = true;
  }
}

void LongRowPieces::write(const void* x, void* y, std::int64_t count) const {
  const std::int64_t chunks = chunks_of(count);
  const auto* in = static_cast<const char*>(x);
  auto* out = static_cast<char*>(y);
  const auto e = static_cast<std::int64_t>(elem_);
  parallel_for(chunks, chunks, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t c = begin; c < end; ++c) {
      const std::int64_t len = std::min(kFusedRowMax, count - c * kFusedRowMax);
      // No non-temporal stores: the caller copies y out of cache straight away.
      k_->row_write(kind_, in + c * kFusedRowMax * e, out + c * kFusedRowMax * e, len, total_, false);
    }
  });
}

TallColumnPieces::TallColumnPieces(Op kind, Dtype dtype, std::int64_t lanes)
    : kind_(kind),
      k_(&floating_kernels(dtype)),
      elem_(element_size(dtype)),
      max_elem_(dtype == kFloat64 ? sizeof(double) : sizeof(float)),
      lanes_(lanes),
      max_(static_cast<std::size_t>(lanes)),
      sum_(static_cast<std::size_t>(lanes), 0.0) {
  if (max_elem_ == sizeof(double)) {
    std::fill(max_.begin(), max_.end(), -std::numeric_limits<double>::infinity());
  } else {
    auto* m = reinterpret_cast<float*>(max_.data());
    std::fill(m, m + lanes, -std::numeric_limits<float>::infinity());
  }
}

void TallColumnPieces::add(const void* x, std::int64_t rows) {
  const auto* in = static_cast<const char*>(x);
  auto* m = reinterpret_cast<char*>(max_.data());
  const auto e = static_cast<std::int64_t>(elem_);
  const auto me = static_cast<std::int64_t>(max_elem_);
  for_each_lane_block(lanes_, rows, [&](std::int64_t l0, std::int64_t width) {
    k_->cols_stats(kind_, in + l0 * e, lanes_, rows, width, m + l0 * me, sum_.data() + l0);
  });
}

void TallColumnPieces::write(const void* x, void* y, std::int64_t rows) const {
  const auto* in = static_cast<const char*>(x);
  auto* out = static_cast<char*>(y);
  const auto* m = reinterpret_cast<const char*>(max_.data());
  const auto e = static_cast<std::int64_t>(elem_);
  const auto me = static_cast<std::int64_t>(max_elem_);
  for_each_lane_block(lanes_, rows, [&](std::int64_t l0, std::int64_t width) {
    k_->cols_write(kind_, in + l0 * e, lanes_, out + l0 * e, lanes_, rows, width, m + l0 * me, sum_.data() + l0,
                   false);
  });
}

}  // namespace smx::detail
