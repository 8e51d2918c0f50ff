#include "ops/masked_rows.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/simd_kernels.h"
#include "ops/masked_stage.h"
#include "runtime/parallel.h"

namespace smx::detail {

namespace {

// Staging budget per block of rows: well inside this VM's 1 MiB L2 (x' is written, then read
// by the kernel while still cached), large enough that the kernel call cost is amortised.
constexpr std::int64_t kStageBytes = 128 << 10;
// As the executor: below this many elements per thread another thread costs more than it saves.
constexpr std::int64_t kMinElementsPerThread = 1 << 14;
// As the executor: outputs this large use non-temporal stores.
constexpr std::int64_t kStreamBytes = 8 << 20;

const SimdDtypeKernels& kernels_for(Dtype dtype) {
  const SimdKernelTable& t = simd_kernels();
  switch (dtype) {
    case kFloat64: return t.f64;
    case kFloat16: return t.f16;
    case kBFloat16: return t.bf16;
    default: return t.f32;
  }
}

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

template <typename S>
void run_rows(SoftmaxKind kind, const Tensor& x, const MaskLayout& mask, std::optional<double> scale,
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
  const S fill = fully_masked_value<S>(policy, kind == SoftmaxKind::kLogSoftmax);
  const S* xp = static_cast<const S*>(x.data_ptr());
  S* yp = static_cast<S*>(y.data_ptr());
  parallel_for(blocks, rows * n / kMinElementsPerThread, [&](std::int64_t b0, std::int64_t b1) {
    thread_local std::vector<S> stage;
    thread_local std::vector<std::uint8_t> kept;
    stage.resize(static_cast<std::size_t>(block_rows * n));
    kept.resize(static_cast<std::size_t>(block_rows));
    for (std::int64_t b = b0; b < b1; ++b) {
      const std::int64_t r0 = b * block_rows;
      const std::int64_t count = std::min(block_rows, rows - r0);
      for (std::int64_t r = 0; r < count; ++r) {
        const RowStart at = row_start(x, mask, r0 + r);
        const std::uint8_t* m = mask.base ? mask.base + at.mask : nullptr;
        const std::int64_t keep_end = mask.causal ? std::min(at.i + 1, n) : n;
        S* out = stage.data() + r * n;
        kept[static_cast<std::size_t>(r)] =
            scale ? stage_row<S, true>(xp + at.x, xs, m, ms, keep_end, n, s, out)
                  : stage_row<S, false>(xp + at.x, xs, m, ms, keep_end, n, s, out);
      }
      k.rows_fused(kind, stage.data(), n, yp + r0 * n, n, count, n, stream);
      for (std::int64_t r = 0; r < count; ++r) {
        if (!kept[static_cast<std::size_t>(r)]) std::fill_n(yp + (r0 + r) * n, n, fill);
      }
    }
  });
}

}  // namespace

bool masked_rows_forward(SoftmaxKind kind, const Tensor& x, const MaskLayout& mask, std::optional<double> scale,
                         FullyMasked policy, const Tensor& y) {
  if (x.dim() == 0 || x.size(-1) > kFusedRowMax || reference_kernels_selected()) return false;
  visit_floating(x.dtype(), [&](auto tag) { run_rows<decltype(tag)>(kind, x, mask, scale, policy, y); });
  return true;
}

}  // namespace smx::detail
