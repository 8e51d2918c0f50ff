// Byte storage shared by a tensor and its views. Owns its buffer, or borrows caller memory.
#pragma once

#include <cstddef>
#include <memory>

#include "smx/device.h"

namespace smx::detail {

struct Storage {
  std::shared_ptr<void> data;  // deleter frees owned memory; a no-op for borrowed memory
  std::size_t nbytes = 0;
  Device device;  // where `data` points: host memory, or a GPU (cuda/cuda_backend.h allocates those)
};

// A new zero-initialised, 64-byte aligned buffer of `nbytes` bytes.
std::shared_ptr<Storage> allocate_storage(std::size_t nbytes);
// Wraps memory the caller keeps alive.
std::shared_ptr<Storage> borrow_storage(void* data, std::size_t nbytes, Device device = Device());

}  // namespace smx::detail
