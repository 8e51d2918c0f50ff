#include "smx/simd.h"

namespace smx {

// Only the scalar reference kernels exist so far.
const char* simd_target() { return "scalar"; }

}  // namespace smx
