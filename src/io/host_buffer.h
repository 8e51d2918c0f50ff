// Large uninitialised buffers for file data: anonymous mappings asking for transparent huge
// pages, so that filling one faults in 2 MiB at a time instead of 4 KiB (on this project's VMs
// a first touch of a 4 KiB page costs ~10 us), and nothing is zeroed only to be overwritten by
// read().
#pragma once

#include <cstddef>
#include <memory>

namespace smx::detail {
struct Storage;
}

namespace smx::io {

// A reusable block buffer (the streaming command's input and output blocks).
class HostBuffer {
 public:
  HostBuffer() = default;
  explicit HostBuffer(std::size_t bytes);
  HostBuffer(HostBuffer&&) noexcept;
  HostBuffer& operator=(HostBuffer&&) noexcept;
  HostBuffer(const HostBuffer&) = delete;
  HostBuffer& operator=(const HostBuffer&) = delete;
  ~HostBuffer();

  void* data() const { return data_; }
  std::size_t size() const { return size_; }

 private:
  void* data_ = nullptr;
  std::size_t size_ = 0;
};

// Tensor storage over such a buffer (freed with the last tensor that uses it).
std::shared_ptr<detail::Storage> uninitialised_storage(std::size_t bytes);

}  // namespace smx::io
