// Factories: every new tensor is contiguous, owns 64-byte aligned storage and defaults to float32.
#include <cmath>
#include <random>
#include <string>

#include "tensor/device_memory.h"
#include "smx/errors.h"
#include "smx/tensor.h"
#include "tensor/element_access.h"
#include "tensor/storage.h"
#include "tensor/strided_loop.h"

namespace smx {

namespace {

// PyTorch's check and words for a negative size; returns the byte count.
std::size_t checked_nbytes(const Size& sizes, Dtype dtype) {
  for (auto s : sizes) {
    if (s < 0) {
      throw RuntimeError("Trying to create tensor with negative dimension " + std::to_string(s) +
                         ": " + sizes.list_str());
    }
  }
  return static_cast<std::size_t>(sizes.numel()) * element_size(dtype);
}

}  // namespace

// Uninitialised, as torch.empty: the caller writes every element (softmax's output, a cast).
Tensor empty(const Size& sizes, Dtype dtype) {
  return Tensor(detail::allocate_storage(checked_nbytes(sizes, dtype)), sizes,
                sizes.contiguous_strides(), 0, dtype);
}

Tensor zeros(const Size& sizes, Dtype dtype) {
  return Tensor(detail::allocate_storage_zeroed(checked_nbytes(sizes, dtype)), sizes,
                sizes.contiguous_strides(), 0, dtype);
}

Tensor empty(const Size& sizes, Dtype dtype, Device device) {
  if (device.is_cpu()) return empty(sizes, dtype);
  return Tensor(detail::cuda::allocate(checked_nbytes(sizes, dtype), device.index()), sizes,
                sizes.contiguous_strides(), 0, dtype);
}

Tensor full(const Size& sizes, double value, Dtype dtype) {
  Tensor t = empty(sizes, dtype);
  void* p = t.data_ptr();
  for (std::int64_t i = 0; i < t.numel(); ++i) detail::store_from_double(p, dtype, i, value);
  return t;
}

Tensor ones(const Size& sizes, Dtype dtype) { return full(sizes, 1.0, dtype); }

Tensor tensor(const std::vector<double>& values, Dtype dtype) {
  Tensor t = empty(Size{static_cast<std::int64_t>(values.size())}, dtype);
  void* p = t.data_ptr();
  for (std::size_t i = 0; i < values.size(); ++i) {
    detail::store_from_double(p, dtype, static_cast<std::int64_t>(i), values[i]);
  }
  return t;
}

Tensor tensor(std::initializer_list<double> values, Dtype dtype) {
  return tensor(std::vector<double>(values), dtype);
}

Tensor scalar_tensor(double value, Dtype dtype) { return full(Size{}, value, dtype); }

Tensor arange(double end, Dtype dtype) { return arange(0.0, end, 1.0, dtype); }

Tensor arange(double start, double end, double step, Dtype dtype) {
  if (step == 0.0) throw RuntimeError("step must be nonzero");
  if ((step > 0 && end < start) || (step < 0 && end > start)) {
    throw RuntimeError("upper bound and larger bound inconsistent with step sign");
  }
  const auto n = static_cast<std::int64_t>(std::ceil((end - start) / step));
  Tensor t = empty(Size{n}, dtype);
  void* p = t.data_ptr();
  for (std::int64_t i = 0; i < n; ++i) {
    detail::store_from_double(p, dtype, i, start + static_cast<double>(i) * step);
  }
  return t;
}

namespace {
// std::mt19937_64 is fully specified by the standard, so a seed gives the same numbers with any
// compiler; the distributions are not, so the transforms below are written out.
double uniform01(std::mt19937_64& gen) { return static_cast<double>(gen() >> 11) * 0x1p-53; }
}  // namespace

Tensor rand(const Size& sizes, std::uint64_t seed, Dtype dtype) {
  Tensor t = empty(sizes, dtype);
  std::mt19937_64 gen(seed);
  void* p = t.data_ptr();
  for (std::int64_t i = 0; i < t.numel(); ++i) detail::store_from_double(p, dtype, i, uniform01(gen));
  return t;
}

Tensor randn(const Size& sizes, std::uint64_t seed, Dtype dtype) {
  Tensor t = empty(sizes, dtype);
  std::mt19937_64 gen(seed);
  void* p = t.data_ptr();
  const double two_pi = 6.283185307179586;
  for (std::int64_t i = 0; i < t.numel(); i += 2) {  // Box-Muller: two normals per draw
    const double u1 = 1.0 - uniform01(gen);          // in (0, 1]: log is finite
    const double u2 = uniform01(gen);
    const double r = std::sqrt(-2.0 * std::log(u1));
    detail::store_from_double(p, dtype, i, r * std::cos(two_pi * u2));
    if (i + 1 < t.numel()) detail::store_from_double(p, dtype, i + 1, r * std::sin(two_pi * u2));
  }
  return t;
}

Tensor from_blob(void* data, const Size& sizes, Dtype dtype) {
  return from_blob(data, sizes, sizes.contiguous_strides(), dtype);
}

Tensor from_blob(void* data, const Size& sizes, Dtype dtype, Device device) {
  return from_blob(data, sizes, sizes.contiguous_strides(), dtype, device);
}

Tensor from_blob(void* data, const Size& sizes, const std::vector<std::int64_t>& strides,
                 Dtype dtype) {
  return from_blob(data, sizes, strides, dtype, Device());
}

Tensor from_blob(void* data, const Size& sizes, const std::vector<std::int64_t>& strides,
                 Dtype dtype, Device device) {
  if (strides.size() != sizes.size()) {
    throw RuntimeError("from_blob: sizes has " + std::to_string(sizes.size()) +
                       " dims but strides has " + std::to_string(strides.size()));
  }
  std::int64_t extent = 1;  // elements spanned, for the storage's byte count
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    if (sizes[i] < 0) throw RuntimeError("from_blob: negative size");
    if (sizes[i] == 0) extent = 0;
    if (extent) extent += (sizes[i] - 1) * std::abs(strides[i]);
  }
  return Tensor(detail::borrow_storage(data, static_cast<std::size_t>(extent) * element_size(dtype), device),
                sizes, strides, 0, dtype);
}

}  // namespace smx
