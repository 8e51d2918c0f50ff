// The engine's device hook: runs a single-dim plan (engine/plan.h: the row, the lanes, the batch;
// no mask) on a GPU. Implemented by the CUDA backend (src/cuda/softmax_cuda.cu), or, in a build
// without CUDA, by its stand-in (src/cuda/cuda_unavailable.cc), which raises smx::RuntimeError.
// The engine declares it and the backend defines it, so the backend stays a client of the engine
// and nothing below includes CUDA.
#pragma once

#include "engine/plan.h"
#include "smx/dtype.h"
#include "smx/op.h"

namespace smx::detail {

// On the calling thread's current stream of `device`; returns without waiting for the GPU.
// `base[o]` is operand o's element [0, 0, ...]: x, y forward; grad, output, dx backward.
void device_forward(Op op, Dtype dtype, const Plan& plan, void* const base[2], int device);
void device_backward(Op op, Dtype dtype, const Plan& plan, void* const base[3], int device);

}  // namespace smx::detail
