// Which SIMD code path the kernels run.
#pragma once

namespace smx {

// The name of the instruction-set target the kernels dispatch to, e.g. "AVX3", "AVX2", "SSE4",
// or "scalar". SMX_ISA (environment) can force a lower target for tests and benchmarks.
const char* simd_target();

}  // namespace smx
