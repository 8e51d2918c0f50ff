// DLPack in and out (include/smx/dlpack.h). Built when CMake finds DLPack's header; else
// dlpack_unavailable.cc provides the same functions, raising an error.
#include "smx/dlpack.h"

#include <dlpack/dlpack.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "smx/errors.h"
#include "tensor/storage.h"

namespace smx {

namespace {

std::optional<Dtype> dtype_from(const DLDataType& t) {
  if (t.lanes != 1) return std::nullopt;
  if (t.code == kDLFloat && t.bits == 32) return kFloat32;
  if (t.code == kDLFloat && t.bits == 64) return kFloat64;
  if (t.code == kDLFloat && t.bits == 16) return kFloat16;
  if (t.code == kDLBfloat && t.bits == 16) return kBFloat16;
  if (t.code == kDLInt && t.bits == 64) return kInt64;
  // DLPack 0.8 added kDLBool (6). uint8 stays unsupported: it is an integer, not a bool (to_dlpack
  // writes bool as uint8 only because DLPack 0.6 has no bool code).
  if (t.code == 6 && t.bits == 8) return kBool;
  return std::nullopt;
}

DLDataType dl_type_of(Dtype d) {
  switch (d) {
    case kFloat32: return {kDLFloat, 32, 1};
    case kFloat64: return {kDLFloat, 64, 1};
    case kFloat16: return {kDLFloat, 16, 1};
    case kBFloat16: return {kDLBfloat, 16, 1};
    case kInt64: return {kDLInt, 64, 1};
    case kBool: return {kDLUInt, 8, 1};
  }
  return {kDLFloat, 32, 1};
}

// What a DLManagedTensor made by to_dlpack points into and keeps alive.
struct Export {
  Tensor tensor;
  std::vector<std::int64_t> shape, strides;
  DLManagedTensor managed{};
};

}  // namespace

Tensor from_dlpack(DLManagedTensor* managed) {
  if (managed == nullptr) throw RuntimeError("from_dlpack: null DLManagedTensor");
  // Owned from here on, whatever happens next.
  std::shared_ptr<DLManagedTensor> owner(managed, [](DLManagedTensor* m) {
    if (m->deleter) m->deleter(m);
  });
  const DLTensor& t = managed->dl_tensor;
  Device device;
  if (t.device.device_type == kDLCUDA) {
    device = Device(kCUDA, t.device.device_id);
  } else if (t.device.device_type != kDLCPU) {
    throw RuntimeError("from_dlpack: only CPU and CUDA tensors are supported (DLPack device type " +
                       std::to_string(static_cast<int>(t.device.device_type)) + ")");
  }
  const auto dtype = dtype_from(t.dtype);
  if (!dtype) {
    throw RuntimeError("from_dlpack: unsupported DLPack dtype (code " + std::to_string(t.dtype.code) + ", " +
                       std::to_string(t.dtype.bits) + " bits, " + std::to_string(t.dtype.lanes) + " lanes)");
  }
  std::vector<std::int64_t> sizes(t.shape, t.shape + t.ndim);
  // NULL strides mean C order.
  std::vector<std::int64_t> strides =
      t.strides != nullptr ? std::vector<std::int64_t>(t.strides, t.strides + t.ndim) : Size(sizes).contiguous_strides();
  std::int64_t extent = 1;  // elements spanned
  for (std::size_t d = 0; d < sizes.size(); ++d) {
    if (sizes[d] < 0) throw RuntimeError("from_dlpack: negative size");
    extent = sizes[d] == 0 || extent == 0 ? 0 : extent + (sizes[d] - 1) * std::abs(strides[d]);
  }
  auto storage = std::make_shared<detail::Storage>();
  // The aliasing constructor: points at the data, owns the producer's tensor.
  storage->data = std::shared_ptr<void>(owner, static_cast<char*>(t.data) + t.byte_offset);
  storage->nbytes = static_cast<std::size_t>(extent) * element_size(*dtype);
  storage->device = device;
  return Tensor(std::move(storage), Size(std::move(sizes)), std::move(strides), 0, *dtype);
}

DLManagedTensor* to_dlpack(const Tensor& t) {
  if (!t.defined()) throw RuntimeError("to_dlpack: the tensor is undefined");
  auto* ctx = new Export{t, t.sizes().vec(), t.strides(), {}};
  DLTensor& d = ctx->managed.dl_tensor;
  d.data = t.data_ptr();
  d.device = t.is_cuda() ? DLDevice{kDLCUDA, t.device().index()} : DLDevice{kDLCPU, 0};
  d.ndim = static_cast<int>(t.dim());
  d.dtype = dl_type_of(t.dtype());
  d.shape = ctx->shape.data();
  d.strides = ctx->strides.data();
  d.byte_offset = 0;
  ctx->managed.manager_ctx = ctx;
  ctx->managed.deleter = [](DLManagedTensor* m) { delete static_cast<Export*>(m->manager_ctx); };
  return &ctx->managed;
}

}  // namespace smx
