// One call of the engine as its parts see it (engine/rows.cc, columns.cc, groups.cc): the plan,
// the kernels kernel_table() chose, each operand's element [0, 0, ...], the store policy and the
// mask. The parts only walk the plan's units and call kernels; the planning and the choices were
// made before (engine/execute.cc).
#pragma once

#include <array>
#include <cstdint>

#include "engine/mask_spec.h"
#include "engine/plan.h"
#include "kernels/kernel_table.h"
#include "smx/dtype.h"
#include "smx/op.h"

namespace smx::detail {

// Operand slots: forward x, y, mask; backward grad, output (y), dx, mask.
inline constexpr std::size_t kIn = 0, kOut = 1, kMaskF = 2;
inline constexpr std::size_t kGrad = 0, kY = 1, kDx = 2, kMaskB = 3;

struct Job {
  Op op;
  const Plan& plan;
  const DtypeKernels& k;
  Dtype dtype;
  std::int64_t elem;                       // bytes per element (the mask's are single bytes)
  std::array<char*, kMaxOperands> base{};  // element [0, 0, ...] of each operand
  bool stream = false;                     // non-temporal stores (runtime/tuning.h decided)
  const MaskSpec* mask = nullptr;          // the masked ops' mask; null: plain
  std::size_t mask_slot = 0;               // kMaskF or kMaskB
  std::int64_t causal_rows = 1;            // causal: size of dim -2 (rows i = r % causal_rows)

  char* at(std::size_t operand, std::int64_t offset) const { return base[operand] + offset * elem; }
  const std::uint8_t* mask_at(std::int64_t offset) const {
    return base[mask_slot] == nullptr ? nullptr : reinterpret_cast<const std::uint8_t*>(base[mask_slot]) + offset;
  }
  // The value a fully masked group gives (softmax 0, log_softmax -inf; NaN under kNan).
  double fully_masked_value() const;
};

// The families (engine/plan.h), forward and backward.
void forward_rows(const Job& job);        // kRowBlocks, kRowChunks (plain and masked)
void backward_rows(const Job& job);
void forward_columns(const Job& job);     // kColumns, kStridedColumns (plain and masked)
void backward_columns(const Job& job);
void forward_groups(const Job& job);      // kGroupGather, kGroupRows, kGroupColumns
void backward_groups(const Job& job);

}  // namespace smx::detail
