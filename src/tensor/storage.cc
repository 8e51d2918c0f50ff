#include "tensor/storage.h"

#include <cstring>
#include <new>

#include "tensor/block_cache.h"

namespace smx::detail {

namespace {

constexpr std::align_val_t kAlignment{64};  // a cache line: SIMD loads never split one

std::shared_ptr<Storage> allocate(std::size_t nbytes, bool zero) {
  auto storage = std::make_shared<Storage>();
  storage->nbytes = nbytes;
  if (nbytes < kCacheMinBytes) {
    void* raw = ::operator new(nbytes == 0 ? 1 : nbytes, kAlignment);
    if (zero) std::memset(raw, 0, nbytes);
    storage->data = std::shared_ptr<void>(raw, [](void* p) { ::operator delete(p, kAlignment); });
    return storage;
  }
  const Block block = acquire_block(nbytes);
  if (zero && !block.fresh) std::memset(block.ptr, 0, nbytes);
  // (If the control block cannot be allocated, shared_ptr calls the deleter: nothing leaks.)
  storage->data = std::shared_ptr<void>(block.ptr, [bytes = block.bytes](void* p) { release_block(p, bytes); });
  return storage;
}

}  // namespace

std::shared_ptr<Storage> allocate_storage(std::size_t nbytes) { return allocate(nbytes, false); }
std::shared_ptr<Storage> allocate_storage_zeroed(std::size_t nbytes) { return allocate(nbytes, true); }

std::shared_ptr<Storage> borrow_storage(void* data, std::size_t nbytes, Device device) {
  auto storage = std::make_shared<Storage>();
  storage->data = std::shared_ptr<void>(data, [](void*) {});
  storage->nbytes = nbytes;
  storage->device = device;
  return storage;
}

}  // namespace smx::detail
