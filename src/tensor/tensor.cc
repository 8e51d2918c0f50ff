// Tensor metadata and views: nothing here copies element data.
#include "smx/tensor.h"

#include <algorithm>
#include <ostream>
#include <string>

#include "smx/errors.h"
#include "tensor/dim_wrap.h"
#include "tensor/storage.h"
#include "tensor/strided_loop.h"

namespace smx {

namespace detail {

void throw_dtype_mismatch(Dtype expected, Dtype actual) {
  throw RuntimeError("expected scalar type " + scalar_type_name(expected) + " but found " +
                     scalar_type_name(actual));
}

void throw_item_numel(std::int64_t numel) {
  throw RuntimeError("a Tensor with " + std::to_string(numel) +
                     " elements cannot be converted to Scalar");
}

namespace {

// PyTorch's infer_size: resolves one -1 and checks the element count.
Size infer_size(const Size& shape, std::int64_t numel) {
  std::vector<std::int64_t> out(shape.begin(), shape.end());
  std::int64_t known = 1;
  int infer_at = -1;
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      if (infer_at >= 0) throw RuntimeError("only one dimension can be inferred");
      infer_at = static_cast<int>(i);
    } else if (out[i] < 0) {
      throw RuntimeError("invalid shape dimension " + std::to_string(out[i]));
    } else {
      known *= out[i];
    }
  }
  if (infer_at >= 0) {
    if (known == 0 || numel % known != 0) {
      throw RuntimeError("shape '" + shape.list_str() + "' is invalid for input of size " +
                         std::to_string(numel));
    }
    out[infer_at] = numel / known;
  } else if (known != numel) {
    throw RuntimeError("shape '" + shape.list_str() + "' is invalid for input of size " +
                       std::to_string(numel));
  }
  return Size(std::move(out));
}

// PyTorch's computeStride: strides for viewing (old sizes, old strides) as new sizes without a
// copy, or false when some new dim would span two non-contiguous chunks.
bool compute_view_strides(const std::vector<std::int64_t>& old_sizes,
                          const std::vector<std::int64_t>& old_strides,
                          const std::vector<std::int64_t>& new_sizes,
                          std::vector<std::int64_t>& new_strides) {
  new_strides.assign(new_sizes.size(), 0);
  if (old_sizes.empty()) {
    new_strides.assign(new_sizes.size(), 1);
    return true;
  }
  std::int64_t numel = 1;
  for (auto s : old_sizes) numel *= s;
  if (numel == 0) {
    new_strides = Size(new_sizes).contiguous_strides();
    return true;
  }
  std::int64_t view_d = static_cast<std::int64_t>(new_sizes.size()) - 1;
  std::int64_t chunk_base_stride = old_strides.back();
  std::int64_t tensor_numel = 1;
  std::int64_t view_numel = 1;
  for (std::int64_t tensor_d = static_cast<std::int64_t>(old_sizes.size()) - 1; tensor_d >= 0;
       --tensor_d) {
    tensor_numel *= old_sizes[tensor_d];
    if (tensor_d == 0 ||
        (old_sizes[tensor_d - 1] != 1 &&
         old_strides[tensor_d - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || new_sizes[view_d] == 1)) {
        new_strides[view_d] = view_numel * chunk_base_stride;
        view_numel *= new_sizes[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return false;
      if (tensor_d > 0) {
        chunk_base_stride = old_strides[tensor_d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  return view_d == -1;
}

}  // namespace
}  // namespace detail

Tensor::Tensor(std::shared_ptr<detail::Storage> storage, Size sizes,
               std::vector<std::int64_t> strides, std::int64_t storage_offset, Dtype dtype)
    : storage_(std::move(storage)),
      sizes_(std::move(sizes)),
      strides_(std::move(strides)),
      offset_(storage_offset),
      dtype_(dtype) {}

void Tensor::check_defined() const {
  if (!defined()) throw RuntimeError("the tensor is undefined (default-constructed)");
}

std::int64_t Tensor::size(std::int64_t d) const {
  return sizes_[static_cast<std::size_t>(detail::wrap_dim(d, dim()))];
}

std::int64_t Tensor::stride(std::int64_t d) const {
  return strides_[static_cast<std::size_t>(detail::wrap_dim(d, dim()))];
}

void* Tensor::data_ptr() const {
  check_defined();
  return static_cast<char*>(storage_->data.get()) +
         offset_ * static_cast<std::int64_t>(element_size());
}

bool Tensor::is_contiguous() const {
  std::int64_t expected = 1;
  for (std::size_t i = sizes_.size(); i-- > 0;) {
    if (sizes_[i] == 0) return true;
    if (sizes_[i] != 1 && strides_[i] != expected) return false;
    expected *= sizes_[i];
  }
  return true;
}

Tensor Tensor::view(const Size& shape) const {
  check_defined();
  Size inferred = detail::infer_size(shape, numel());
  std::vector<std::int64_t> new_strides;
  if (!detail::compute_view_strides(sizes_.vec(), strides_, inferred.vec(), new_strides)) {
    throw RuntimeError(
        "view size is not compatible with input tensor's size and stride (at least one dimension "
        "spans across two contiguous subspaces). Use .reshape(...) instead.");
  }
  return Tensor(storage_, std::move(inferred), std::move(new_strides), offset_, dtype_);
}

Tensor Tensor::reshape(const Size& shape) const {
  check_defined();
  Size inferred = detail::infer_size(shape, numel());
  std::vector<std::int64_t> new_strides;
  if (detail::compute_view_strides(sizes_.vec(), strides_, inferred.vec(), new_strides)) {
    return Tensor(storage_, std::move(inferred), std::move(new_strides), offset_, dtype_);
  }
  return contiguous().view(inferred);
}

Tensor Tensor::transpose(std::int64_t dim0, std::int64_t dim1) const {
  check_defined();
  const auto a = static_cast<std::size_t>(detail::wrap_dim(dim0, dim()));
  const auto b = static_cast<std::size_t>(detail::wrap_dim(dim1, dim()));
  if (dim() == 0) return *this;
  std::vector<std::int64_t> sizes = sizes_.vec();
  std::vector<std::int64_t> strides = strides_;
  std::swap(sizes[a], sizes[b]);
  std::swap(strides[a], strides[b]);
  return Tensor(storage_, Size(std::move(sizes)), std::move(strides), offset_, dtype_);
}

Tensor Tensor::permute(const std::vector<std::int64_t>& dims) const {
  check_defined();
  if (static_cast<std::int64_t>(dims.size()) != dim()) {
    throw RuntimeError("permute(): number of dimensions in the tensor input does not match the "
                       "length of the desired ordering of dimensions i.e. input.dim() = " +
                       std::to_string(dim()) + " is not equal to len(dims) = " +
                       std::to_string(dims.size()));
  }
  std::vector<std::int64_t> sizes(dims.size());
  std::vector<std::int64_t> strides(dims.size());
  std::vector<bool> seen(dims.size(), false);
  for (std::size_t i = 0; i < dims.size(); ++i) {
    const auto d = static_cast<std::size_t>(detail::wrap_dim(dims[i], dim()));
    if (seen[d]) throw RuntimeError("permute(): duplicate dims are not allowed.");
    seen[d] = true;
    sizes[i] = sizes_[d];
    strides[i] = strides_[d];
  }
  return Tensor(storage_, Size(std::move(sizes)), std::move(strides), offset_, dtype_);
}

Tensor Tensor::narrow(std::int64_t d, std::int64_t start, std::int64_t length) const {
  check_defined();
  if (dim() == 0) throw RuntimeError("narrow() cannot be applied to a 0-dim tensor.");
  const auto a = static_cast<std::size_t>(detail::wrap_dim(d, dim()));
  const std::int64_t n = sizes_[a];
  if (start < -n || start > n) {
    throw IndexError("start out of range (expected to be in range of [" + std::to_string(-n) +
                     ", " + std::to_string(n) + "], but got " + std::to_string(start) + ")");
  }
  if (start < 0) start += n;
  if (length < 0 || start + length > n) {
    throw RuntimeError("start (" + std::to_string(start) + ") + length (" +
                       std::to_string(length) + ") exceeds dimension size (" + std::to_string(n) +
                       ").");
  }
  std::vector<std::int64_t> sizes = sizes_.vec();
  sizes[a] = length;
  return Tensor(storage_, Size(std::move(sizes)), strides_, offset_ + start * strides_[a], dtype_);
}

Tensor Tensor::select(std::int64_t d, std::int64_t index) const {
  check_defined();
  if (dim() == 0) throw IndexError("select() cannot be applied to a 0-dim tensor.");
  const auto a = static_cast<std::size_t>(detail::wrap_dim(d, dim()));
  const std::int64_t n = sizes_[a];
  if (index < -n || index >= n) {
    throw IndexError("index " + std::to_string(index) + " is out of bounds for dimension " +
                     std::to_string(a) + " with size " + std::to_string(n));
  }
  if (index < 0) index += n;
  std::vector<std::int64_t> sizes = sizes_.vec();
  std::vector<std::int64_t> strides = strides_;
  sizes.erase(sizes.begin() + static_cast<std::ptrdiff_t>(a));
  strides.erase(strides.begin() + static_cast<std::ptrdiff_t>(a));
  return Tensor(storage_, Size(std::move(sizes)), std::move(strides),
                offset_ + index * strides_[a], dtype_);
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.repr(); }

}  // namespace smx
