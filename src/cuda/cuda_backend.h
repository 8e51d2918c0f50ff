// The CUDA backend as the rest of the library sees it: memory, copies, and the softmax family on
// planned slabs. Built from src/cuda/*.cu/.cc with a CUDA toolkit (SMX_CUDA); without one,
// cuda_unavailable.cc provides the same functions, raising smx::RuntimeError.
//
// Every call runs on the calling thread's current stream (smx::cuda::set_current_stream) of the
// named device and returns without waiting for the GPU, except the host copies, which wait
// because the host buffer must be complete when they return.
#pragma once

#include <cstddef>
#include <memory>

#include "kernels/softmax_kernel_api.h"
#include "ops/slab_plan.h"
#include "smx/dtype.h"

namespace smx::detail {
struct Storage;
}

namespace smx::detail::cuda {

// Uninitialised device memory from CUDA's stream-ordered pool (cudaMallocAsync on the current
// stream); freed on the stream current when the last tensor using it goes away.
std::shared_ptr<Storage> allocate(std::size_t nbytes, int device);
// Host <-> device copies of nbytes contiguous bytes; they wait for the copy to finish.
void copy_to_device(void* device_dst, const void* host_src, std::size_t nbytes, int device);
void copy_to_host(void* host_dst, const void* device_src, std::size_t nbytes, int device);
// Throws smx::RuntimeError unless `device` names a usable GPU.
void check_device(int device);

// The forward op on a plan with operands (x, y) and the backward op on (grad, output, dx);
// `base[o]` is operand o's element [0, 0, ...]. numel() > 0.
void forward(Op kind, Dtype dtype, const SlabPlan& plan, void* const base[2], int device);
void backward(Op kind, Dtype dtype, const SlabPlan& plan, void* const base[3], int device);

}  // namespace smx::detail::cuda
