#include "ops/masked_rows.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "kernels/simd_kernels.h"
#include "ops/masked_stage.h"
#include "runtime/parallel.h"

namespace smx::detail {

namespace {

// Staging budget per block of rows: well inside this VM's 1 MiB L2 (x' is written, then read
// by the kernel while still cached), large enough that the kernel call cost is amortised.
constexpr std::int64_t kStageBytes = 16 << 10;
// Rows taken straight from x per kernel call (see run_rows).
constexpr std::int64_t kDirectBytes = 128 << 10;
// Direct rows with a masked tail shorter than this are written through the cache (run_rows).
constexpr std::int64_t kDirectStreamMinRow = 2048;

// Element offsets of row r's first element in x and in the mask, and its index i along dim -2.
struct RowStart {
  std::int64_t x = 0, mask = 0, i = 0;
};

RowStart row_start(const Tensor& x, const MaskLayout& mask, std::int64_t r) {
  RowStart s;
  const std::int64_t nd = x.dim();
  for (std::int64_t d = nd - 2; d >= 0; --d) {
    const std::int64_t size = x.size(d);
    const std::int64_t idx = r % size;
    r /= size;
    s.x += idx * x.stride(d);
    s.mask += idx * mask.strides[static_cast<std::size_t>(d)];
    if (d == nd - 2) s.i = idx;
  }
  return s;
}

// Fills n elements with v; with `stream`, through non-temporal stores where the target allows
// (after the kernel's non-temporal stores to the rest of the row, ordinary stores would first
// read each line back from memory). Call store_fence() before the data is used.
template <typename S>
void fill_row(S* p, std::int64_t n, S v, bool stream) {
#if defined(__SSE2__)
  if constexpr (sizeof(S) == 4 || sizeof(S) == 8) {
    if (stream) {
      std::int64_t i = 0;
      for (; i < n && reinterpret_cast<std::uintptr_t>(p + i) % 16 != 0; ++i) p[i] = v;
      __m128i pattern;
      if constexpr (sizeof(S) == 4) pattern = _mm_set1_epi32(std::bit_cast<std::int32_t>(v));
      else pattern = _mm_set1_epi64x(std::bit_cast<std::int64_t>(v));
      constexpr std::int64_t kPer = 16 / static_cast<std::int64_t>(sizeof(S));
      for (; i + kPer <= n; i += kPer) _mm_stream_si128(reinterpret_cast<__m128i*>(p + i), pattern);
      for (; i < n; ++i) p[i] = v;
      return;
    }
  }
#endif
  (void)stream;
  std::fill(p, p + n, v);
}

void store_fence() {
#if defined(__SSE2__)
  _mm_sfence();
#endif
}

template <typename S>
void run_rows(Op kind, const Tensor& x, const MaskLayout& mask, std::optional<double> scale,
              FullyMasked policy, const Tensor& y) {
  const SimdDtypeKernels& k = kernels_for(x.dtype());
  const std::int64_t n = x.size(-1);
  const std::int64_t rows = x.numel() / n;
  const std::int64_t xs = x.stride(-1);
  const std::int64_t ms = mask.strides.back();
  const auto elem = static_cast<std::int64_t>(sizeof(S));
  const std::int64_t block_rows = std::clamp<std::int64_t>(kStageBytes / (n * elem), 1, rows);
  const std::int64_t blocks = (rows + block_rows - 1) / block_rows;
  const bool stream = y.numel() * elem >= kStreamBytes;
  const ComputeType<S> s = scale ? static_cast<ComputeType<S>>(*scale) : ComputeType<S>(1);
  const S fill = fully_masked_value<S>(policy, kind == Op::kLogSoftmax);
  const S* xp = static_cast<const S*>(x.data_ptr());
  S* yp = static_cast<S*>(y.data_ptr());
  // Direct runs: at most this many rows, so that out[0] of each row is still near when it is
  // read back.
  const std::int64_t direct_max = std::clamp<std::int64_t>(kDirectBytes / (n * elem), 1, rows);
  const S nan = from_compute<S>(std::numeric_limits<ComputeType<S>>::quiet_NaN());
  const S masked_value = from_compute<S>(kind == Op::kLogSoftmax ? -std::numeric_limits<float>::infinity() : 0.0f);
  parallel_for(blocks, rows * n / kMinElementsPerThread, [&](std::int64_t b0, std::int64_t b1) {
    thread_local std::vector<S> stage;
    thread_local std::vector<std::uint8_t> kept;
    stage.resize(static_cast<std::size_t>(block_rows * n));
    kept.resize(static_cast<std::size_t>(block_rows));
    // Staged rows run through the kernel in runs of consecutive rows (evenly spaced in y), and
    // so do direct rows (below) with the same prefix length and evenly spaced in x: one kernel
    // call per run, not per row (each call with non-temporal stores ends in a store fence).
    std::int64_t run_first = 0, run_count = 0;
    auto flush = [&] {
      if (run_count == 0) return;
      k.rows_fused(kind, stage.data(), n, yp + run_first * n, n, run_count, n, stream);
      for (std::int64_t r = 0; r < run_count; ++r) {
        if (!kept[static_cast<std::size_t>(r)]) std::fill_n(yp + (run_first + r) * n, n, fill);
      }
      run_count = 0;
    };
    std::int64_t direct_first = 0, direct_count = 0, direct_len = 0, direct_x = 0, direct_step = 0;
    auto flush_direct = [&] {
      if (direct_count == 0) return;
      // Non-temporal stores for large outputs, except where they cost more than they save: causal
      // rows (a new length each row, so one kernel call and one store fence per row), and short
      // rows with a masked tail (out[0] is read back for the NaN check below, and reading a line
      // just written with a non-temporal store waits for memory).
      const bool direct_stream = stream && !mask.causal && (direct_len == n || n >= kDirectStreamMinRow);
      if (direct_len > 0) {
        k.rows_fused(kind, xp + direct_x, direct_step, yp + direct_first * n, n, direct_count, direct_len,
                     direct_stream);
      }
      for (std::int64_t r = 0; r < direct_count && direct_len < n; ++r) {
        S* out = yp + (direct_first + r) * n;
        // A row whose kept elements give NaN (NaN or +inf kept, or all kept -inf) is NaN
        // throughout, masked elements too, as torch.softmax of the masked_fill-ed row.
        // (Reading out[0] back costs one load per row, cheaper than checking x beforehand.)
        const S tail = direct_len == 0 ? fill : std::isnan(to_compute(out[0])) ? nan : masked_value;
        fill_row(out + direct_len, n - direct_len, tail, direct_stream);
      }
      if (direct_stream) store_fence();
      direct_count = 0;
    };
    for (std::int64_t b = b0; b < b1; ++b) {
      const std::int64_t r0 = b * block_rows;
      const std::int64_t count = std::min(block_rows, rows - r0);
      for (std::int64_t row = r0; row < r0 + count; ++row) {
        const RowStart at = row_start(x, mask, row);
        const std::uint8_t* m = mask.base ? mask.base + at.mask : nullptr;
        const std::int64_t keep_end = mask.causal ? std::min(at.i + 1, n) : n;
        // Kept elements forming a prefix [0, len) (no mask, a padding mask, causal) without a
        // scale: softmax of that prefix straight from x, the rest masked - no staging at all.
        const std::int64_t len = scale || xs != 1 ? -1 : kept_prefix(m, ms, keep_end);
        if (len >= 0) {
          flush();
          bool joins = false;
          if (direct_count > 0 && len == direct_len) {
            if (direct_count == 1) direct_step = at.x - direct_x;
            joins = at.x == direct_x + direct_count * direct_step;
          }
          if (!joins) {
            flush_direct();
            direct_first = row;
            direct_len = len;
            direct_x = at.x;
          }
          if (direct_count == direct_max) {
            flush_direct();
            direct_first = row;
            direct_x = at.x;
          }
          ++direct_count;
          continue;
        }
        flush_direct();
        if (run_count == 0) run_first = row;
        S* out = stage.data() + run_count * n;
        kept[static_cast<std::size_t>(run_count)] =
            scale ? stage_row<S, true>(xp + at.x, xs, m, ms, keep_end, n, s, out)
                  : stage_row<S, false>(xp + at.x, xs, m, ms, keep_end, n, s, out);
        if (++run_count == block_rows) flush();
      }
    }
    flush_direct();
    flush();
  });
}

}  // namespace

bool masked_rows_forward(Op kind, const Tensor& x, const MaskLayout& mask, std::optional<double> scale,
                         FullyMasked policy, const Tensor& y) {
  if (x.dim() == 0 || x.size(-1) > kFusedRowMax || reference_kernels_selected()) return false;
  visit_floating(x.dtype(), [&](auto tag) { run_rows<decltype(tag)>(kind, x, mask, scale, policy, y); });
  return true;
}

}  // namespace smx::detail
