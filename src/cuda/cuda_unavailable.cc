// The CUDA backend's functions in a build without CUDA (SMX_CUDA off or no toolkit found): the
// queries say "none", anything that needs a GPU raises PyTorch's words for a CPU-only build.
#include <string>

#include "engine/device_kernels.h"
#include "tensor/device_memory.h"
#include "smx/device.h"
#include "smx/errors.h"

namespace smx {

namespace {
[[noreturn]] void not_built() {
  throw RuntimeError("smx was not compiled with CUDA enabled (configure with -DSMX_CUDA=ON and a CUDA toolkit)");
}
}  // namespace

namespace cuda {
bool is_built() { return false; }
int device_count() { return 0; }
bool is_available() { return false; }
void set_current_stream(void* stream) {
  if (stream != nullptr) not_built();
}
void* current_stream() { return nullptr; }
void synchronize() { not_built(); }
}  // namespace cuda

namespace detail::cuda {
void check_device(int) { not_built(); }
std::shared_ptr<Storage> allocate(std::size_t, int) { not_built(); }
void copy_to_device(void*, const void*, std::size_t, int) { not_built(); }
void copy_to_host(void*, const void*, std::size_t, int) { not_built(); }
}  // namespace detail::cuda

namespace detail {
void device_forward(Op, Dtype, const Plan&, void* const*, int) { not_built(); }
void device_backward(Op, Dtype, const Plan&, void* const*, int) { not_built(); }
}  // namespace detail

}  // namespace smx
