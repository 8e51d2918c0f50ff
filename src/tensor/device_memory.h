// GPU memory as the tensor layer sees it: allocation and host copies. Declared here, below the
// CUDA backend, and defined by it (src/cuda/cuda_runtime.cc), or, in a build without CUDA, by its
// stand-in (src/cuda/cuda_unavailable.cc), which raises smx::RuntimeError: the tensor layer
// never includes the backend.
//
// Every call runs on the calling thread's current stream (smx::cuda::set_current_stream) of the
// named device; the host copies wait for the copy to finish, because the host buffer must be
// complete when they return.
#pragma once

#include <cstddef>
#include <memory>

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

}  // namespace smx::detail::cuda
