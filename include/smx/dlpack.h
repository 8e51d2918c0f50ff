// Zero-copy exchange with other array libraries through DLPack (dmlc/dlpack 0.6+): CPU and CUDA
// tensors, in and out. Include <dlpack/dlpack.h> (Debian: libdlpack-dev) to use the structs; this
// header only needs their name. Without DLPack headers at smx's build time both raise
// smx::RuntimeError.
#pragma once

#include "smx/tensor.h"

struct DLManagedTensor;

namespace smx {

// A tensor viewing `managed`'s memory (kDLCPU or kDLCUDA; float32/64/16, bfloat16, int64, bool),
// with its sizes, strides and byte offset. smx owns `managed` from then on and calls its deleter
// when the last tensor viewing it goes away. Throws smx::RuntimeError for another device or
// dtype (and then calls the deleter too).
Tensor from_dlpack(DLManagedTensor* managed);

// A DLPack view of `t` (same memory, device, sizes and strides) that keeps t's storage alive
// until the consumer calls its deleter.
DLManagedTensor* to_dlpack(const Tensor& t);

}  // namespace smx
