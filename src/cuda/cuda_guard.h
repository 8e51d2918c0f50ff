// Small helpers for code that calls the CUDA runtime: errors become smx::RuntimeError, and a
// guard makes a device current for a scope (restoring the caller's afterwards, as PyTorch's
// DeviceGuard does, so smx never changes which device the application's own code uses).
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "smx/device.h"
#include "smx/errors.h"

namespace smx::detail::cuda {

inline void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) {
    (void)cudaGetLastError();  // clear a sticky launch error so later calls report their own
    throw RuntimeError(std::string("CUDA error while ") + what + ": " + cudaGetErrorString(status));
  }
}

class DeviceGuard {
 public:
  explicit DeviceGuard(int device) {
    check(cudaGetDevice(&previous_), "reading the current device");
    if (previous_ != device) check(cudaSetDevice(device), "selecting the device");
  }
  ~DeviceGuard() { (void)cudaSetDevice(previous_); }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = 0;
};

}  // namespace smx::detail::cuda
