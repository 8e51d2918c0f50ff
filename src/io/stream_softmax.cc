#include "io/stream_softmax.h"

#include <fcntl.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "io/atomic_file.h"
#include "io/host_buffer.h"
#include "engine/engine.h"
#include "smx/softmax.h"

namespace smx::io {

namespace {


// Lane blocks narrower than the whole slice are cut to multiples of this (whole vectors for
// every target; any cut gives the same bits, this one keeps the kernels on full vectors).
constexpr std::int64_t kLaneAlign = 64;

std::int64_t prod(const std::vector<std::int64_t>& s, std::size_t from, std::size_t to) {
  std::int64_t p = 1;
  for (std::size_t k = from; k < to; ++k) p *= s[k];
  return p;
}

class Streamer {
 public:
  Streamer(Op kind, const NpyFile& in, Dtype dtype, AtomicFile& out, std::uint64_t out_base)
      : kind_(kind),
        in_(in),
        file_dtype_(in.info().dtype),
        dtype_(dtype),
        stored_(npy_stored_dtype(dtype)),
        out_(out),
        out_base_(out_base) {}

  // `rows` runs of `width` elements, run i starting at element first + i * stride (the same
  // places in the input and the output), packed into one compute-dtype block.
  const void* read(std::uint64_t first, std::int64_t rows, std::int64_t stride, std::int64_t width) {
    const std::size_t fe = element_size(file_dtype_);
    const auto count = static_cast<std::uint64_t>(rows * width);
    char* x = static_cast<char*>(ensure(xin_, count * fe));
    if (stride == width) {
      in_.read(first, count, x);
    } else {
      for (std::int64_t i = 0; i < rows; ++i) {
        in_.read(first + static_cast<std::uint64_t>(i * stride), static_cast<std::uint64_t>(width),
                 x + static_cast<std::size_t>(i * width) * fe);
      }
    }
    if (file_dtype_ == dtype_) return x;
    cast_ = from_blob(x, Size{static_cast<std::int64_t>(count)}, file_dtype_).to(dtype_);  // --dtype
    return cast_.data_ptr();
  }

  void* output_block(std::uint64_t count) { return ensure(y_, count * element_size(dtype_)); }

  // Writes a block made by output_block() to the runs read() describes.
  void write(const void* y, std::uint64_t first, std::int64_t rows, std::int64_t stride, std::int64_t width,
             bool hint_writeback) {
    const auto count = static_cast<std::uint64_t>(rows * width);
    const char* bytes = static_cast<const char*>(y);
    if (dtype_ == kBFloat16) bytes = widen_bfloat16(y, count);
    const std::size_t se = element_size(stored_);
    const std::uint64_t at = out_base_ + first * se;
    if (stride == width) {
      out_.write_at(bytes, static_cast<std::size_t>(count * se), at);
      if (hint_writeback) out_.start_writeback(at, count * se);
      return;
    }
    for (std::int64_t i = 0; i < rows; ++i) {
      out_.write_at(bytes + static_cast<std::size_t>(i * width) * se, static_cast<std::size_t>(width) * se,
                    at + static_cast<std::uint64_t>(i * stride) * se);
    }
  }

  void writeback(std::uint64_t first, std::uint64_t count) {
    const std::size_t se = element_size(stored_);
    out_.start_writeback(out_base_ + first * se, count * se);
  }

  // y = op(x) for a block of whole groups, through the public op (exact by construction).
  void op(const void* x, void* y, const Size& shape, std::int64_t dim) const {
    const Tensor xt = from_blob(const_cast<void*>(x), shape, dtype_);
    Tensor yt = from_blob(y, shape, dtype_);
    forward_out(kind_, yt, xt, dim);
  }

  Op kind() const { return kind_; }
  Dtype dtype() const { return dtype_; }

 private:
  static void* ensure(HostBuffer& b, std::uint64_t bytes) {
    if (b.size() < bytes) b = HostBuffer(static_cast<std::size_t>(bytes));
    return b.data();
  }

  // NumPy has no bfloat16: results are written as the float32 holding the same value.
  const char* widen_bfloat16(const void* y, std::uint64_t count) {
    auto* out = static_cast<std::uint32_t*>(ensure(widened_, count * 4));
    const auto* in = static_cast<const std::uint16_t*>(y);
    for (std::uint64_t i = 0; i < count; ++i) out[i] = static_cast<std::uint32_t>(in[i]) << 16;
    return reinterpret_cast<const char*>(out);
  }

  Op kind_;
  const NpyFile& in_;
  Dtype file_dtype_, dtype_, stored_;
  AtomicFile& out_;
  std::uint64_t out_base_;
  HostBuffer xin_, y_, widened_;
  Tensor cast_;
};

// Blocks of `per` whole outer slices of g = n * inner elements.
void whole_slices(Streamer& s, std::int64_t outer, std::int64_t n, std::int64_t inner, std::int64_t per) {
  const std::int64_t g = n * inner;
  for (std::int64_t o = 0; o < outer; o += per) {
    const std::int64_t k = std::min(per, outer - o);
    const auto first = static_cast<std::uint64_t>(o * g);
    const void* x = s.read(first, 1, k * g, k * g);
    void* y = s.output_block(static_cast<std::uint64_t>(k * g));
    s.op(x, y, Size{k, n, inner}, 1);
    s.write(y, first, 1, k * g, k * g, true);
  }
}

// Rows longer than a block: pass 1 folds (max, sum) over pieces of whole chunks, pass 2 writes.
void long_rows(Streamer& s, std::int64_t outer, std::int64_t n, std::int64_t block_elems, std::int64_t chunk) {
  const std::int64_t piece = std::max<std::int64_t>(1, block_elems / chunk) * chunk;
  for (std::int64_t o = 0; o < outer; ++o) {
    detail::RowPieces row(s.kind(), s.dtype());
    for (std::int64_t i = 0; i < n; i += piece) {
      const std::int64_t len = std::min(piece, n - i);
      row.add(s.read(static_cast<std::uint64_t>(o * n + i), 1, len, len), len);
    }
    for (std::int64_t i = 0; i < n; i += piece) {
      const std::int64_t len = std::min(piece, n - i);
      const auto first = static_cast<std::uint64_t>(o * n + i);
      const void* x = s.read(first, 1, len, len);
      void* y = s.output_block(static_cast<std::uint64_t>(len));
      row.write(x, y, len);
      s.write(y, first, 1, len, len, true);
    }
  }
}

std::int64_t lane_block(std::int64_t lanes, std::int64_t inner) {
  lanes = std::clamp<std::int64_t>(lanes, 1, inner);
  if (lanes < inner && lanes >= kLaneAlign) lanes = lanes / kLaneAlign * kLaneAlign;
  return lanes;
}

// Short columns (one unit, cut_for): slabs of all n rows and a block of lanes.
// A slab is never one lane wide: an (n, 1) array is a last-dim problem to the library (the row
// kernels), not the column problem the whole array is, and its bits differ.
void column_slabs(Streamer& s, std::int64_t outer, std::int64_t n, std::int64_t inner, std::int64_t block_elems) {
  const std::int64_t lanes = std::max<std::int64_t>(2, lane_block(block_elems / n, inner));
  for (std::int64_t o = 0; o < outer; ++o) {
    for (std::int64_t l0 = 0; l0 < inner;) {
      std::int64_t w = std::min(lanes, inner - l0);
      if (inner - l0 - w == 1) ++w;  // no one-lane slab at the end either
      const auto first = static_cast<std::uint64_t>(o * n * inner + l0);
      l0 += w;
      const void* x = s.read(first, n, inner, w);
      void* y = s.output_block(static_cast<std::uint64_t>(n * w));
      s.op(x, y, Size{n, w}, 0);
      s.write(y, first, n, inner, w, false);
    }
    s.writeback(static_cast<std::uint64_t>(o * n * inner), static_cast<std::uint64_t>(n * inner));
  }
}

// Tall columns: for each block of lanes, pass 1 over blocks of whole tiles of rows folds the
// per-lane (max, sum), pass 2 writes.
void tall_columns(Streamer& s, std::int64_t outer, std::int64_t n, std::int64_t inner, std::int64_t block_elems,
                  std::int64_t tile) {
  const std::int64_t lanes = lane_block(block_elems / tile, inner);
  for (std::int64_t o = 0; o < outer; ++o) {
    for (std::int64_t l0 = 0; l0 < inner; l0 += lanes) {
      const std::int64_t w = std::min(lanes, inner - l0);
      const std::int64_t rows = std::max<std::int64_t>(1, block_elems / w / tile) * tile;
      const auto at = [&](std::int64_t r) { return static_cast<std::uint64_t>((o * n + r) * inner + l0); };
      detail::ColumnPieces cols(s.kind(), s.dtype(), w);
      for (std::int64_t r = 0; r < n; r += rows) {
        const std::int64_t h = std::min(rows, n - r);
        cols.add(s.read(at(r), h, inner, w), h);
      }
      for (std::int64_t r = 0; r < n; r += rows) {
        const std::int64_t h = std::min(rows, n - r);
        const void* x = s.read(at(r), h, inner, w);
        void* y = s.output_block(static_cast<std::uint64_t>(h * w));
        cols.write(x, y, h);
        s.write(y, at(r), h, inner, w, w == inner);
      }
    }
    if (lanes < inner) s.writeback(static_cast<std::uint64_t>(o * n * inner), static_cast<std::uint64_t>(n * inner));
  }
}

}  // namespace

std::size_t stream_block_bytes() {
  if (const char* env = std::getenv("SMX_STREAM_BLOCK_BYTES"); env != nullptr && *env != '\0') {
    char* end = nullptr;
    const unsigned long long v = std::strtoull(env, &end, 10);
    if (end != env && *end == '\0' && v > 0) return static_cast<std::size_t>(v);
  }
  return kDefaultStreamBlockBytes;
}

void stream_softmax_file(Op kind, const NpyFile& input, std::int64_t dim, Dtype dtype,
                         const std::string& output, std::size_t block_bytes) {
  const NpyInfo& info = input.info();
  const std::vector<std::int64_t>& shape = info.shape;
  const auto d = static_cast<std::size_t>(dim);
  const std::int64_t outer = prod(shape, 0, d);
  const std::int64_t n = shape[d];
  const std::int64_t inner = prod(shape, d + 1, shape.size());
  const auto block_elems =
      std::max<std::int64_t>(1, static_cast<std::int64_t>(block_bytes / element_size(dtype)));
  input.advise(0, info.count, POSIX_FADV_SEQUENTIAL);

  AtomicFile out(output);
  const std::string preamble = npy_preamble(shape, npy_stored_dtype(dtype));
  out.write_at(preamble.data(), preamble.size(), 0);
  Streamer s(kind, input, dtype, out, preamble.size());
  const detail::Cut cut = detail::cut_for(n, inner);
  if (n * inner <= block_elems) {
    whole_slices(s, outer, n, inner, block_elems / (n * inner));
  } else if (cut.rows) {
    if (cut.whole) whole_slices(s, outer, n, 1, 1);  // one row: at most one chunk
    else long_rows(s, outer, n, block_elems, cut.chunk);
  } else if (cut.whole) {
    column_slabs(s, outer, n, inner, block_elems);
  } else {
    tall_columns(s, outer, n, inner, block_elems, cut.chunk);
  }
  out.commit();
}

}  // namespace smx::io
