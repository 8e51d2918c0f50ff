// Devices: parsing and naming them as torch.device does, and moving tensors between host memory
// and GPUs (Tensor::to(Device)).
#include <algorithm>
#include <cstdlib>
#include <string>

#include "tensor/device_memory.h"
#include "smx/device.h"
#include "smx/errors.h"
#include "smx/tensor.h"
#include "tensor/storage.h"
#include "tensor/strided_loop.h"

namespace smx {

Device::Device(const std::string& spec) : type_(kCPU), index_(0) {
  if (spec == "cpu") return;
  const std::string cuda = "cuda";
  if (spec.rfind(cuda, 0) == 0) {
    type_ = kCUDA;
    if (spec.size() == cuda.size()) return;
    const std::string digits = spec.substr(cuda.size() + 1);
    if (spec[cuda.size()] == ':' && !digits.empty() && digits.size() < 6 &&
        std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      index_ = std::atoi(digits.c_str());
      return;
    }
  }
  throw RuntimeError("Invalid device string: '" + spec + "'");
}

std::string Device::str() const { return is_cpu() ? "cpu" : "cuda:" + std::to_string(index_); }

Device Tensor::device() const { return storage_ ? storage_->device : Device(); }

Tensor Tensor::to(Device target) const {
  check_defined();
  const Device here = device();
  if (here == target) return *this;
  if (here.is_cuda() && target.is_cuda()) return to(Device(kCPU)).to(target);  // no peer copies yet
  const std::size_t elem = element_size();
  if (target.is_cuda()) {
    const Tensor src = contiguous();
    const auto nbytes = static_cast<std::size_t>(numel()) * elem;
    auto storage = detail::cuda::allocate(nbytes, target.index());
    detail::cuda::copy_to_device(storage->data.get(), src.data_ptr(), nbytes, target.index());
    return Tensor(std::move(storage), sizes_, sizes_.contiguous_strides(), 0, dtype_);
  }
  // GPU to host: copy the span of storage the view covers, view it with the same strides, and
  // make that contiguous on the host.
  if (numel() == 0) return empty(sizes_, dtype_);
  std::int64_t lo = 0, hi = 0;
  for (std::size_t d = 0; d < sizes_.size(); ++d) {
    const std::int64_t reach = (sizes_[d] - 1) * strides_[d];
    (reach < 0 ? lo : hi) += reach;
  }
  Tensor host = empty(Size({hi - lo + 1}), dtype_);
  detail::cuda::copy_to_host(host.data_ptr(), static_cast<const char*>(data_ptr()) + lo * static_cast<std::int64_t>(elem),
                             static_cast<std::size_t>(hi - lo + 1) * elem, here.index());
  return Tensor(host.storage_, sizes_, strides_, -lo, dtype_).contiguous();
}

}  // namespace smx
