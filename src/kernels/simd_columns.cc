// The SIMD column kernels (simd/columns-inl.h), compiled once per instruction-set target by
// Highway's foreach_target, as one part of each target's kernel table (dispatch.cc assembles it).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/simd_columns.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include <hwy/highway.h>

#include "kernels/simd/columns-inl.h"
#include "kernels/simd_parts.h"

HWY_BEFORE_NAMESPACE();
namespace smx::detail {
namespace HWY_NAMESPACE {

template <class IO>
void FillColumns(DtypeKernels& k) {
  k.cols = &ColsContiguous<IO>;
  k.cols_strided = &ColsStrided<IO>;
  k.cols_stats = &ColsStatsContiguous<IO>;
  k.cols_max = &ColsMaxContiguous<IO>;
  k.cols_sum = &ColsSumContiguous<IO>;
  k.cols_write = &ColsWriteContiguous<IO>;
}

const KernelTable* GetColumnPart() {
  static const KernelTable part = [] {
    KernelTable t = TargetTable(HWY_TARGET);
    FillColumns<F32Io>(t.f32);
    FillColumns<F64Io>(t.f64);
    FillColumns<F16Io>(t.f16);
    FillColumns<BF16Io>(t.bf16);
    return t;
  }();
  return &part;
}

}  // namespace HWY_NAMESPACE
}  // namespace smx::detail
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace smx::detail {
HWY_EXPORT(GetColumnPart);
const KernelTable& dispatched_column_part() { return *HWY_DYNAMIC_DISPATCH(GetColumnPart)(); }
}  // namespace smx::detail
#endif
