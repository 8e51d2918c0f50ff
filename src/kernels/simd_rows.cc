// The SIMD row kernels (simd/rows-inl.h), compiled once per instruction-set target by Highway's
// foreach_target, as one part of each target's kernel table (dispatch.cc assembles the parts).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/simd_rows.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include <hwy/highway.h>

#include "kernels/simd/rows-inl.h"
#include "kernels/simd_parts.h"

HWY_BEFORE_NAMESPACE();
namespace smx::detail {
namespace HWY_NAMESPACE {

template <class IO>
void FillRows(DtypeKernels& k) {
  k.rows_fused = &RowsFusedImpl<IO>;
  k.row_stats = &RowStatsImpl<IO>;
  k.row_write = &RowWriteImpl<IO>;
  k.fill = &FillImpl<IO>;
  k.copy = &CopyImpl<IO>;
}

const KernelTable* GetRowPart() {
  static const KernelTable part = [] {
    KernelTable t = TargetTable(HWY_TARGET);
    t.lanes_f32 = static_cast<std::int64_t>(hwy::HWY_NAMESPACE::Lanes(hwy::HWY_NAMESPACE::ScalableTag<float>()));
    t.lanes_f64 = static_cast<std::int64_t>(hwy::HWY_NAMESPACE::Lanes(hwy::HWY_NAMESPACE::ScalableTag<double>()));
    FillRows<F32Io>(t.f32);
    FillRows<F64Io>(t.f64);
    FillRows<F16Io>(t.f16);
    FillRows<BF16Io>(t.bf16);
    return t;
  }();
  return &part;
}

}  // namespace HWY_NAMESPACE
}  // namespace smx::detail
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace smx::detail {
HWY_EXPORT(GetRowPart);
const KernelTable& dispatched_row_part() { return *HWY_DYNAMIC_DISPATCH(GetRowPart)(); }
std::int64_t compiled_simd_targets() { return HWY_TARGETS; }
}  // namespace smx::detail
#endif
