// Where a tensor's storage lives: host memory (CPU) or an NVIDIA GPU (CUDA, with an index), as
// torch.device. CUDA support is optional at build time (SMX_CUDA); without it, or without a
// GPU, smx::cuda::is_available() is false and moving a tensor to CUDA raises smx::RuntimeError.
#pragma once

#include <string>

namespace smx {

enum class DeviceType : unsigned char { kCPU, kCUDA };

class Device {
 public:
  // Device(kCUDA) is "cuda:0", as torch.device('cuda') resolves to the current device 0.
  constexpr Device(DeviceType type = DeviceType::kCPU, int index = 0)  // NOLINT: implicit on purpose
      : type_(type), index_(type == DeviceType::kCPU ? 0 : index) {}
  // Parses "cpu", "cuda", "cuda:N" (PyTorch's spelling); throws smx::RuntimeError otherwise.
  explicit Device(const std::string& spec);

  DeviceType type() const { return type_; }
  int index() const { return index_; }
  bool is_cpu() const { return type_ == DeviceType::kCPU; }
  bool is_cuda() const { return type_ == DeviceType::kCUDA; }
  // "cpu" or "cuda:N", as str(torch.device).
  std::string str() const;

  friend bool operator==(const Device& a, const Device& b) {
    return a.type_ == b.type_ && a.index_ == b.index_;
  }

 private:
  DeviceType type_;
  int index_;
};

inline constexpr DeviceType kCPU = DeviceType::kCPU;
inline constexpr DeviceType kCUDA = DeviceType::kCUDA;

namespace cuda {

// True when smx was built with its CUDA backend (as torch.backends.cuda.is_built()).
bool is_built();
// True when smx was built with CUDA and at least one GPU is usable.
bool is_available();
// GPUs visible to this process (0 without CUDA).
int device_count();
// The stream later calls on this thread enqueue their CUDA work on (a cudaStream_t, passed as a
// pointer so this header needs no CUDA headers); nullptr is the legacy default stream, the
// default. Calls never wait for the GPU: results are ready once the stream reaches them.
void set_current_stream(void* stream);
void* current_stream();
// Waits until every call enqueued on the current stream has finished.
void synchronize();

}  // namespace cuda

}  // namespace smx
