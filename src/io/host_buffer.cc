#include "io/host_buffer.h"

#include <sys/mman.h>

#include <new>
#include <utility>

#include "tensor/storage.h"

namespace smx::io {

namespace {

void* map_anonymous(std::size_t bytes) {
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  // Advice only: without THP (or with it disabled) this fails harmlessly.
  ::madvise(p, bytes, MADV_HUGEPAGE);
  return p;
}

}  // namespace

HostBuffer::HostBuffer(std::size_t bytes) : data_(map_anonymous(bytes == 0 ? 1 : bytes)), size_(bytes == 0 ? 1 : bytes) {}

HostBuffer::HostBuffer(HostBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

HostBuffer& HostBuffer::operator=(HostBuffer&& other) noexcept {
  if (this != &other) {
    if (data_) ::munmap(data_, size_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

HostBuffer::~HostBuffer() {
  if (data_) ::munmap(data_, size_);
}

std::shared_ptr<detail::Storage> uninitialised_storage(std::size_t bytes) {
  auto buffer = std::make_shared<HostBuffer>(bytes);
  auto storage = std::make_shared<detail::Storage>();
  // The aliasing constructor: the data pointer keeps the buffer (and its mapping) alive.
  storage->data = std::shared_ptr<void>(buffer, buffer->data());
  storage->nbytes = bytes;
  return storage;
}

}  // namespace smx::io
