// SIMD softmax kernels, compiled once per instruction-set target by Highway's foreach_target:
// this file only assembles each target's table from the -inl.h parts and exports it for dynamic
// dispatch. The parts, one job each (src/kernels/simd/):
//   dtype_io-inl.h    loading/storing float32, float64, float16, bfloat16 as compute vectors
//   exp-inl.h         the exp variants and their error bounds
//   double_sum-inl.h  double-precision per-lane sums, identical at every vector width
//   rows-inl.h        forward rows (fused, and the two passes of long rows)
//   columns-inl.h     forward columns (short, tall, and the resumable tall-column passes)
//   backward-inl.h    backward rows and columns
// See simd_kernels.h for the contract of each kernel.
//
// The math, per row (softmin loads -x instead of x):
//   stats:  m = max(x); s = sum(exp(x - m))     x - m <= 0, so exp never overflows
//   write:  softmax y = exp(x - m) * (1 / s);   log_softmax y = (x - m) - log(s)
// NaN handling: x86's max may drop a NaN operand, but exp(NaN - m) is NaN whatever m is, so a
// NaN reaches the sum and with it every output; only the blocked long-row statistics track NaN
// in the max (a block's sum is skipped when its max is -inf). hwy::Exp maps NaN to 0, so
// ExpKeepNaN puts NaN back. A NaN or +inf anywhere, or a row of only -inf, gives NaN everywhere
// in the row, as in PyTorch.

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/simd_softmax.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include <hwy/highway.h>

#include "kernels/simd/backward-inl.h"
#include "kernels/simd/columns-inl.h"
#include "kernels/simd/rows-inl.h"
#include "kernels/simd_kernels.h"

HWY_BEFORE_NAMESPACE();
namespace smx::detail {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

template <class IO>
constexpr SimdDtypeKernels MakeKernels() {
  return SimdDtypeKernels{&RowsFusedImpl<IO>,          &RowStatsImpl<IO>,         &RowWriteImpl<IO>,
                          &ColsContiguous<IO>,         &ColsStrided<IO>,          &RowsBackwardImpl<IO>,
                          &RowBackwardAccImpl<IO>,     &RowBackwardWriteImpl<IO>, &ColsBackwardContiguous<IO>,
                          &ColsBackwardStrided<IO>,   &ColsStatsContiguous<IO>,  &ColsWriteContiguous<IO>};
}

const SimdKernelTable* GetTable() {
  static const SimdKernelTable table{hwy::TargetName(HWY_TARGET),
                                     static_cast<std::int64_t>(hn::Lanes(hn::ScalableTag<float>())),
                                     static_cast<std::int64_t>(hn::Lanes(hn::ScalableTag<double>())),
                                     MakeKernels<F32Io>(),
                                     MakeKernels<F64Io>(),
                                     MakeKernels<F16Io>(),
                                     MakeKernels<BF16Io>()};
  return &table;
}

}  // namespace HWY_NAMESPACE
}  // namespace smx::detail
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace smx::detail {

HWY_EXPORT(GetTable);

const SimdKernelTable& dispatched_simd_kernels() { return *HWY_DYNAMIC_DISPATCH(GetTable)(); }

std::int64_t compiled_simd_targets() { return HWY_TARGETS; }

}  // namespace smx::detail
#endif  // HWY_ONCE

