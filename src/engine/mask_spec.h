// What the masked ops hand the engine: the mask as it broadcasts over x (never expanded in
// memory), the causal rule, the scale and what a fully masked group gives.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>


namespace smx::detail {

struct MaskSpec {
  const std::uint8_t* base = nullptr;  // null: no mask tensor (every element kept, unless causal)
  std::vector<std::int64_t> strides;   // one per dim of x, 0 where the mask broadcasts
  bool causal = false;                 // also keep only j <= i over the last two dims (i: -2, j: -1)
  std::optional<double> scale;
  bool fully_masked_nan = false;  // a group that keeps nothing: NaN (else softmax 0, log_softmax -inf)
};

}  // namespace smx::detail
