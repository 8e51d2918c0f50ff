// The SIMD backward kernels (simd/backward-inl.h), compiled once per instruction-set target by
// Highway's foreach_target, as one part of each target's kernel table (dispatch.cc assembles it).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/simd_backward.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include <hwy/highway.h>

#include "kernels/simd/backward-inl.h"
#include "kernels/simd_parts.h"

HWY_BEFORE_NAMESPACE();
namespace smx::detail {
namespace HWY_NAMESPACE {

template <class IO>
void FillBackward(DtypeKernels& k) {
  k.rows_backward = &RowsBackwardImpl<IO>;
  k.row_backward_acc = &RowBackwardAccImpl<IO>;
  k.row_backward_write = &RowBackwardWriteImpl<IO>;
  k.cols_backward = &ColsBackwardContiguous<IO>;
  k.cols_backward_strided = &ColsBackwardStrided<IO>;
  k.cols_backward_acc = &ColsBackwardAccContiguous<IO>;
  k.cols_backward_write = &ColsBackwardWriteContiguous<IO>;
}

const KernelTable* GetBackwardPart() {
  static const KernelTable part = [] {
    KernelTable t = TargetTable(HWY_TARGET);
    FillBackward<F32Io>(t.f32);
    FillBackward<F64Io>(t.f64);
    FillBackward<F16Io>(t.f16);
    FillBackward<BF16Io>(t.bf16);
    return t;
  }();
  return &part;
}

}  // namespace HWY_NAMESPACE
}  // namespace smx::detail
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace smx::detail {
HWY_EXPORT(GetBackwardPart);
const KernelTable& dispatched_backward_part() { return *HWY_DYNAMIC_DISPATCH(GetBackwardPart)(); }
}  // namespace smx::detail
#endif
