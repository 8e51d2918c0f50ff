#include "tensor/storage.h"

#include <cstring>
#include <new>

namespace smx::detail {

namespace {
constexpr std::align_val_t kAlignment{64};  // a cache line: SIMD loads never split one
}

std::shared_ptr<Storage> allocate_storage(std::size_t nbytes) {
  const std::size_t bytes = nbytes == 0 ? 1 : nbytes;
  void* raw = ::operator new(bytes, kAlignment);
  std::memset(raw, 0, bytes);
  auto storage = std::make_shared<Storage>();
  storage->data = std::shared_ptr<void>(raw, [](void* p) { ::operator delete(p, kAlignment); });
  storage->nbytes = nbytes;
  return storage;
}

std::shared_ptr<Storage> borrow_storage(void* data, std::size_t nbytes, Device device) {
  auto storage = std::make_shared<Storage>();
  storage->data = std::shared_ptr<void>(data, [](void*) {});
  storage->nbytes = nbytes;
  storage->device = device;
  return storage;
}

}  // namespace smx::detail
