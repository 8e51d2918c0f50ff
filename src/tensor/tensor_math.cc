// Element-wise copies and reductions on tensors: contiguous, to, clone, sum, neg, allclose.
// On a CUDA tensor each runs on a host copy and moves its result back: these are conveniences
// (tests, printing), not the fast path, which is the softmax family itself.
#include <cmath>
#include <string>

#include "smx/errors.h"
#include "smx/tensor.h"
#include "tensor/dim_wrap.h"
#include "tensor/element_access.h"
#include "tensor/strided_loop.h"

namespace smx {

namespace {

// Copies `src` into the contiguous tensor `dst` (same shape), casting element by element.
void copy_cast(const Tensor& src, Tensor& dst) {
  const void* s = src.data_ptr();
  void* d = dst.data_ptr();
  const Dtype sd = src.dtype();
  const Dtype dd = dst.dtype();
  std::int64_t i = 0;
  const bool integral_copy = (sd == kInt64 || sd == kBool) && (dd == kInt64 || dd == kBool);
  detail::for_each_offset(src.sizes().vec(), src.strides(), [&](std::int64_t off) {
    if (integral_copy) {
      detail::store_from_int64(d, dd, i++, detail::load_as_int64(s, sd, off));
    } else {
      detail::store_from_double(d, dd, i++, detail::load_as_double(s, sd, off));
    }
  });
}

}  // namespace

Tensor Tensor::contiguous() const {
  check_defined();
  if (is_contiguous()) return *this;
  return clone();
}

Tensor Tensor::clone() const {
  check_defined();
  if (is_cuda()) return to(Device(kCPU)).to(device());
  Tensor out = empty(sizes_, dtype_);
  copy_cast(*this, out);
  return out;
}

Tensor Tensor::to(Dtype dtype) const {
  check_defined();
  if (dtype == dtype_) return *this;
  if (is_cuda()) return to(Device(kCPU)).to(dtype).to(device());
  Tensor out = empty(sizes_, dtype);
  copy_cast(*this, out);
  return out;
}

Tensor Tensor::sum(std::int64_t d, bool keepdim) const {
  check_defined();
  if (is_cuda()) return to(Device(kCPU)).sum(d, keepdim).to(device());
  const auto a = static_cast<std::size_t>(detail::wrap_dim(d, dim()));
  const Dtype out_dtype = is_floating(dtype_) ? dtype_ : kInt64;
  std::vector<std::int64_t> out_sizes = sizes_.vec();
  std::vector<std::int64_t> rest_strides = strides_;
  std::int64_t n = 1;
  std::int64_t step = 0;
  if (dim() > 0) {
    n = out_sizes[a];
    step = strides_[a];
    out_sizes.erase(out_sizes.begin() + static_cast<std::ptrdiff_t>(a));
    rest_strides.erase(rest_strides.begin() + static_cast<std::ptrdiff_t>(a));
  }
  Tensor out = empty(Size(out_sizes), out_dtype);
  const void* s = data_ptr();
  void* o = out.data_ptr();
  std::int64_t i = 0;
  detail::for_each_offset(out_sizes, rest_strides, [&](std::int64_t off) {
    if (out_dtype == kInt64) {
      std::int64_t acc = 0;
      for (std::int64_t k = 0; k < n; ++k) acc += detail::load_as_int64(s, dtype_, off + k * step);
      detail::store_from_int64(o, out_dtype, i++, acc);
    } else {
      double acc = 0.0;
      for (std::int64_t k = 0; k < n; ++k) acc += detail::load_as_double(s, dtype_, off + k * step);
      detail::store_from_double(o, out_dtype, i++, acc);
    }
  });
  if (keepdim && dim() > 0) {
    std::vector<std::int64_t> kept = sizes_.vec();
    kept[a] = 1;
    return out.view(Size(std::move(kept)));
  }
  return out;
}

Tensor Tensor::neg() const {
  check_defined();
  if (dtype_ == kBool) {
    throw RuntimeError(
        "Negation, the `-` operator, on a bool tensor is not supported. If you are trying to "
        "invert a mask, use the `~` or `logical_not()` operator instead.");
  }
  if (is_cuda()) return to(Device(kCPU)).neg().to(device());
  Tensor out = clone();
  void* p = out.data_ptr();
  for (std::int64_t i = 0; i < out.numel(); ++i) {
    if (dtype_ == kInt64) {
      // Two's-complement wrap like PyTorch (INT64_MIN stays INT64_MIN), without signed overflow.
      const auto v = static_cast<std::uint64_t>(detail::load_as_int64(p, dtype_, i));
      detail::store_from_int64(p, dtype_, i, static_cast<std::int64_t>(~v + 1));
    } else {
      detail::store_from_double(p, dtype_, i, -detail::load_as_double(p, dtype_, i));
    }
  }
  return out;
}

Tensor neg(const Tensor& x) { return x.neg(); }

bool allclose(const Tensor& a, const Tensor& b, double rtol, double atol) {
  if (!(a.sizes() == b.sizes())) {
    throw RuntimeError("The size of tensor a (" + a.sizes().str() +
                       ") must match the size of tensor b (" + b.sizes().str() + ")");
  }
  const Tensor ac = a.to(Device(kCPU)).contiguous();
  const Tensor bc = b.to(Device(kCPU)).contiguous();
  for (std::int64_t i = 0; i < a.numel(); ++i) {
    const double x = detail::load_as_double(ac.data_ptr(), ac.dtype(), i);
    const double y = detail::load_as_double(bc.data_ptr(), bc.dtype(), i);
    if (x == y) continue;  // also equal infinities
    if (!std::isfinite(x) || !std::isfinite(y)) return false;
    if (std::fabs(x - y) > atol + rtol * std::fabs(y)) return false;
  }
  return true;
}

}  // namespace smx
