// The CUDA runtime side of the backend: device queries, the per-thread current stream,
// stream-ordered device memory and host copies. Compiled only with a CUDA toolkit (SMX_CUDA).
#include <cuda_runtime.h>

#include <string>

#include "tensor/device_memory.h"
#include "cuda/cuda_guard.h"
#include "smx/device.h"
#include "smx/errors.h"
#include "tensor/storage.h"

namespace smx {

namespace {
thread_local void* current = nullptr;  // a cudaStream_t; nullptr is the legacy default stream
}

namespace cuda {

int device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    (void)cudaGetLastError();  // no driver or no GPU: not an error here, just none
    return 0;
  }
  return count;
}

bool is_built() { return true; }
bool is_available() { return device_count() > 0; }

void set_current_stream(void* stream) { current = stream; }
void* current_stream() { return current; }

void synchronize() {
  detail::cuda::check(cudaStreamSynchronize(static_cast<cudaStream_t>(current)), "synchronizing the stream");
}

}  // namespace cuda

namespace detail::cuda {

void check_device(int device) {
  const int count = smx::cuda::device_count();
  if (count == 0) throw RuntimeError("No CUDA GPUs are available");
  if (device < 0 || device >= count) {
    throw RuntimeError("CUDA error: invalid device ordinal (cuda:" + std::to_string(device) + " requested, " +
                       std::to_string(count) + " device(s) present)");
  }
}

std::shared_ptr<Storage> allocate(std::size_t nbytes, int device) {
  check_device(device);
  const DeviceGuard guard(device);
  auto stream = static_cast<cudaStream_t>(smx::cuda::current_stream());
  void* p = nullptr;
  if (nbytes > 0) check(cudaMallocAsync(&p, nbytes, stream), "allocating device memory");
  auto storage = std::make_shared<Storage>();
  // Freed on the stream that is current when the last tensor using it goes away (not the
  // allocating one, which the application may have destroyed by then): as with PyTorch, memory
  // used on another stream than the current one must be synchronised by the caller first.
  storage->data = std::shared_ptr<void>(p, [device](void* q) {
    if (q == nullptr) return;
    int previous = 0;
    (void)cudaGetDevice(&previous);
    (void)cudaSetDevice(device);
    // Errors here (the driver already shut down at exit) cannot be reported from a deleter.
    (void)cudaFreeAsync(q, static_cast<cudaStream_t>(smx::cuda::current_stream()));
    (void)cudaSetDevice(previous);
  });
  storage->nbytes = nbytes;
  storage->device = Device(kCUDA, device);
  return storage;
}

void copy_to_device(void* device_dst, const void* host_src, std::size_t nbytes, int device) {
  if (nbytes == 0) return;
  const DeviceGuard guard(device);
  auto stream = static_cast<cudaStream_t>(smx::cuda::current_stream());
  check(cudaMemcpyAsync(device_dst, host_src, nbytes, cudaMemcpyHostToDevice, stream), "copying to the device");
  check(cudaStreamSynchronize(stream), "copying to the device");
}

void copy_to_host(void* host_dst, const void* device_src, std::size_t nbytes, int device) {
  if (nbytes == 0) return;
  const DeviceGuard guard(device);
  auto stream = static_cast<cudaStream_t>(smx::cuda::current_stream());
  check(cudaMemcpyAsync(host_dst, device_src, nbytes, cudaMemcpyDeviceToHost, stream), "copying to the host");
  check(cudaStreamSynchronize(stream), "copying to the host");
}

}  // namespace detail::cuda

}  // namespace smx
