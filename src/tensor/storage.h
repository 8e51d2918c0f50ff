// Byte storage shared by a tensor and its views. Owns its buffer, or borrows caller memory.
#pragma once

#include <cstddef>
#include <memory>

#include "smx/device.h"

namespace smx::detail {

struct Storage {
  std::shared_ptr<void> data;  // deleter frees (or caches) owned memory; a no-op for borrowed memory
  std::size_t nbytes = 0;
  Device device;  // where `data` points: host memory, or a GPU (cuda/cuda_backend.h allocates those)
};

// A new 64-byte aligned CPU buffer of `nbytes` bytes, left uninitialised (empty() is not zeros():
// touching the memory here faulted every page of a fresh buffer in before the kernel wrote it).
// From kCacheMinBytes (block_cache.h) up it comes from the block cache.
std::shared_ptr<Storage> allocate_storage(std::size_t nbytes);
// The same, all zero (a block fresh from the OS already is, so only reused blocks are cleared).
std::shared_ptr<Storage> allocate_storage_zeroed(std::size_t nbytes);
// Wraps memory the caller keeps alive; never cached.
std::shared_ptr<Storage> borrow_storage(void* data, std::size_t nbytes, Device device = Device());

}  // namespace smx::detail
