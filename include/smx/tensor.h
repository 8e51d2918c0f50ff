// smx::Tensor: an n-dimensional strided view of shared (or borrowed) storage.
//
// Like a PyTorch CPU tensor: sizes, strides (in elements) and a storage offset over a byte
// buffer. Views (view, transpose, permute, narrow, select) share storage; contiguous(), to()
// and the factories allocate.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "smx/device.h"
#include "smx/dtype.h"
#include "smx/half.h"
#include "smx/size.h"

namespace smx {

namespace detail {
struct Storage;
double load_as_double(const void* base, Dtype dtype, std::int64_t index);
std::int64_t load_as_int64(const void* base, Dtype dtype, std::int64_t index);
}  // namespace detail

class Tensor {
 public:
  // An undefined tensor: defined() is false; most methods throw.
  Tensor() = default;
  Tensor(std::shared_ptr<detail::Storage> storage, Size sizes, std::vector<std::int64_t> strides,
         std::int64_t storage_offset, Dtype dtype);

  bool defined() const { return storage_ != nullptr; }
  const Size& sizes() const { return sizes_; }
  // size(d) and stride(d) accept negative d, wrapped as in PyTorch.
  std::int64_t size(std::int64_t d) const;
  const std::vector<std::int64_t>& strides() const { return strides_; }
  std::int64_t stride(std::int64_t d) const;
  std::int64_t storage_offset() const { return offset_; }
  std::int64_t dim() const { return static_cast<std::int64_t>(sizes_.size()); }
  std::int64_t numel() const { return sizes_.numel(); }
  Dtype dtype() const { return dtype_; }
  std::size_t element_size() const { return smx::element_size(dtype_); }
  // Where the elements live (smx/device.h). CPU tensors can be read through data_ptr(); a CUDA
  // tensor's data_ptr() is a device pointer, for CUDA kernels and DLPack.
  Device device() const;
  bool is_cuda() const { return device().is_cuda(); }

  // Address of element [0, 0, ...] (storage base + offset).
  void* data_ptr() const;
  // Typed data_ptr; throws RuntimeError if T does not match dtype().
  template <typename T>
  T* data() const;

  // Views. `shape` may hold one -1, inferred from numel().
  Tensor view(const Size& shape) const;
  Tensor reshape(const Size& shape) const;
  Tensor transpose(std::int64_t dim0, std::int64_t dim1) const;
  Tensor permute(const std::vector<std::int64_t>& dims) const;
  Tensor narrow(std::int64_t dim, std::int64_t start, std::int64_t length) const;
  // x.select(d, i) is Python's x[..., i, ...] with i at dim d (negative i counts from the end).
  Tensor select(std::int64_t dim, std::int64_t index) const;
  Tensor operator[](std::int64_t index) const { return select(0, index); }

  bool is_contiguous() const;
  Tensor contiguous() const;
  // A copy cast to `dtype` (floats round to nearest even; to bool: nonzero).
  Tensor to(Dtype dtype) const;
  // A contiguous copy on `device` (this tensor itself when it already lives there), as
  // x.to(device) in PyTorch. Copies to or from a GPU wait until the copy is complete.
  Tensor to(Device device) const;
  Tensor to(DeviceType type) const { return to(Device(type)); }
  Tensor clone() const;
  // Sum over one dim, like torch.sum(x, dim, keepdim): floating results keep the input dtype
  // (accumulated in double), int64 and bool sum to int64.
  Tensor sum(std::int64_t dim, bool keepdim = false) const;
  Tensor neg() const;

  // The value of a one-element tensor, converted to T (as PyTorch's item<T>()).
  template <typename T>
  T item() const;

  // Exactly what Python's repr(tensor) prints with default print options.
  std::string repr() const;

 private:
  void check_defined() const;

  std::shared_ptr<detail::Storage> storage_;
  Size sizes_;
  std::vector<std::int64_t> strides_;
  std::int64_t offset_ = 0;
  Dtype dtype_ = kFloat32;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

// ---- factories (dtype defaults to float32, as in PyTorch) ----
Tensor tensor(std::initializer_list<double> values, Dtype dtype = kFloat32);
Tensor tensor(const std::vector<double>& values, Dtype dtype = kFloat32);
Tensor scalar_tensor(double value, Dtype dtype = kFloat32);
// empty() leaves the memory uninitialised (as torch.empty); zeros() clears it.
Tensor empty(const Size& sizes, Dtype dtype = kFloat32);
// Uninitialised memory on `device` (as torch.empty(..., device=)).
Tensor empty(const Size& sizes, Dtype dtype, Device device);
Tensor zeros(const Size& sizes, Dtype dtype = kFloat32);
Tensor ones(const Size& sizes, Dtype dtype = kFloat32);
Tensor full(const Size& sizes, double value, Dtype dtype = kFloat32);
// [start, end) in steps of `step`, like torch.arange.
Tensor arange(double end, Dtype dtype = kFloat32);
Tensor arange(double start, double end, double step = 1.0, Dtype dtype = kFloat32);
// Standard normal / uniform [0, 1) samples from a fixed-seed generator (not PyTorch's stream).
Tensor randn(const Size& sizes, std::uint64_t seed, Dtype dtype = kFloat32);
Tensor rand(const Size& sizes, std::uint64_t seed, Dtype dtype = kFloat32);
// Wraps caller memory without copying or owning it: a contiguous tensor over `data`.
Tensor from_blob(void* data, const Size& sizes, Dtype dtype);
// Same, with explicit strides (in elements).
Tensor from_blob(void* data, const Size& sizes, const std::vector<std::int64_t>& strides,
                 Dtype dtype);
// Caller memory on `device` (a CUDA device pointer for a CUDA device), contiguous or strided.
Tensor from_blob(void* data, const Size& sizes, Dtype dtype, Device device);
Tensor from_blob(void* data, const Size& sizes, const std::vector<std::int64_t>& strides,
                 Dtype dtype, Device device);

Tensor neg(const Tensor& x);
// torch.allclose: |a - b| <= atol + rtol * |b| elementwise; NaNs are never close.
bool allclose(const Tensor& a, const Tensor& b, double rtol = 1e-5, double atol = 1e-8);

// ---- template definitions ----
namespace detail {
template <typename T>
constexpr bool kIsElementType =
    std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, Half> ||
    std::is_same_v<T, BFloat16> || std::is_same_v<T, std::int64_t> || std::is_same_v<T, bool>;
template <typename T>
constexpr Dtype dtype_of() {
  if constexpr (std::is_same_v<T, float>) return kFloat32;
  else if constexpr (std::is_same_v<T, double>) return kFloat64;
  else if constexpr (std::is_same_v<T, Half>) return kFloat16;
  else if constexpr (std::is_same_v<T, BFloat16>) return kBFloat16;
  else if constexpr (std::is_same_v<T, std::int64_t>) return kInt64;
  else return kBool;
}
[[noreturn]] void throw_dtype_mismatch(Dtype expected, Dtype actual);
[[noreturn]] void throw_item_numel(std::int64_t numel);
}  // namespace detail

template <typename T>
T* Tensor::data() const {
  static_assert(detail::kIsElementType<T>, "not an smx element type");
  if (detail::dtype_of<T>() != dtype_) detail::throw_dtype_mismatch(detail::dtype_of<T>(), dtype_);
  return static_cast<T*>(data_ptr());
}

template <typename T>
T Tensor::item() const {
  check_defined();
  if (numel() != 1) detail::throw_item_numel(numel());
  if (is_cuda()) return to(Device(kCPU)).item<T>();
  if constexpr (std::is_same_v<T, std::int64_t>) {
    return detail::load_as_int64(data_ptr(), dtype_, 0);
  } else if constexpr (std::is_same_v<T, bool>) {
    return detail::load_as_double(data_ptr(), dtype_, 0) != 0.0;
  } else if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>) {
    return T(static_cast<float>(detail::load_as_double(data_ptr(), dtype_, 0)));
  } else {
    return static_cast<T>(detail::load_as_double(data_ptr(), dtype_, 0));
  }
}

}  // namespace smx
