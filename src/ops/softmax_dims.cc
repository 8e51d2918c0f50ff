// The softmax family over a list of dims (smx/softmax_dims.h): argument handling in the
// single-dim ops' order (bool negation, dtype cast, dims wrapped and checked, empty shortcut,
// dtype check), then the group executor. A list of one dim is handed to the single-dim op.
#include <algorithm>
#include <string>

#include "ops/softmax_dims_executor.h"
#include "smx/errors.h"
#include "smx/softmax.h"
#include "smx/softmax_dims.h"
#include "tensor/dim_wrap.h"

namespace smx {

std::vector<std::int64_t> wrap_dim_list(DimList dims, std::int64_t ndim) {
  // As torch.sum: every dim is wrapped first (IndexError for the first out of range), then
  // repeats are looked for in list order.
  std::vector<std::int64_t> wrapped;
  for (std::int64_t d : dims) wrapped.push_back(detail::wrap_dim(d, ndim));
  for (auto it = wrapped.begin(); it != wrapped.end(); ++it) {
    if (std::find(wrapped.begin(), it, *it) != it) {
      throw RuntimeError("dim " + std::to_string(*it) + " appears multiple times in the list of dims");
    }
  }
  return wrapped;
}

namespace {

using detail::BackwardKind;
using detail::SoftmaxKind;
using detail::op_name;

void check_defined(const Tensor& t, const char* what) {
  if (!t.defined()) throw RuntimeError(std::string(what) + " is an undefined tensor");
}

[[noreturn]] void throw_empty_list(const char* op) {
  throw RuntimeError(std::string(op) +
                     ": an empty list of dims is ambiguous (torch's reductions read dim=() as every dim, "
                     "scipy and JAX read axis=() as no dim); name the dims, e.g. (0, 1)");
}

// The single-dim op's non-floating error, under the name of PyTorch's kernel for a dim that is
// not the last (a group is never a plain last-dim row).
void check_floating(const Tensor& t, const std::string& kernel) {
  if (is_floating(t.dtype())) return;
  throw RuntimeError("\"" + kernel + "\" not implemented for '" + scalar_type_name(t.dtype()) + "'");
}

Tensor single_forward(SoftmaxKind kind, const Tensor& x, std::int64_t dim, std::optional<Dtype> dtype) {
  switch (kind) {
    case SoftmaxKind::kSoftmax: return softmax(x, std::optional<std::int64_t>(dim), dtype);
    case SoftmaxKind::kLogSoftmax: return log_softmax(x, std::optional<std::int64_t>(dim), dtype);
    case SoftmaxKind::kSoftmin: return softmin(x, std::optional<std::int64_t>(dim), dtype);
  }
  return {};
}

Tensor forward(SoftmaxKind kind, const Tensor& x, DimList dims, std::optional<Dtype> dtype) {
  if (dims.size() == 1) return single_forward(kind, x, dims[0], dtype);
  check_defined(x, "input");
  if (dims.empty()) throw_empty_list(op_name(kind));
  if (kind == SoftmaxKind::kSoftmin && x.dtype() == kBool) x.neg();  // PyTorch's error: negation before cast
  const Tensor input = dtype ? x.to(*dtype) : x;
  const std::vector<std::int64_t> wrapped = wrap_dim_list(dims, input.dim());
  if (input.numel() == 0) return empty(input.sizes(), input.dtype(), input.device());
  check_floating(input, "softmax_kernel_impl");
  if (input.is_cuda()) {  // no CUDA kernel for groups: through the host, back to x's device
    return forward(kind, input.to(Device(kCPU)), dims, std::nullopt).to(input.device());
  }
  Tensor out = empty(input.sizes(), input.dtype());
  detail::execute_forward_dims(kind, input, out, wrapped);
  return out;
}

Tensor backward(BackwardKind kind, const Tensor& grad, const Tensor& output, DimList dims) {
  if (dims.size() == 1) {
    return kind == BackwardKind::kSoftmax ? softmax_backward(grad, output, dims[0])
                                          : log_softmax_backward(grad, output, dims[0]);
  }
  check_defined(grad, "grad_output");
  check_defined(output, "output");
  const char* name = kind == BackwardKind::kSoftmax ? "softmax_backward" : "log_softmax_backward";
  if (dims.empty()) throw_empty_list(name);
  if (grad.device() != output.device()) {
    throw RuntimeError("Expected all tensors to be on the same device, but found at least two devices, " +
                       grad.device().str() + " and " + output.device().str() + "!");
  }
  if (!(grad.sizes() == output.sizes())) {
    throw RuntimeError("grad_output has shape " + grad.sizes().str() + " but output has shape " +
                       output.sizes().str());
  }
  if (grad.dtype() != output.dtype()) {
    throw RuntimeError("grad_output has dtype " + dtype_name(grad.dtype()) + " but output has dtype " +
                       dtype_name(output.dtype()));
  }
  const std::vector<std::int64_t> wrapped = wrap_dim_list(dims, grad.dim());
  if (grad.numel() == 0) return empty(grad.sizes(), grad.dtype(), grad.device());
  check_floating(grad, kind == BackwardKind::kSoftmax ? "softmax_backward_kernel_impl"
                                                      : "log_softmax_backward_kernel_impl");
  if (grad.is_cuda()) {
    const Device cpu(kCPU);
    return backward(kind, grad.to(cpu), output.to(cpu), dims).to(grad.device());
  }
  Tensor dx = empty(grad.sizes(), grad.dtype());
  detail::execute_backward_dims(kind, grad, output, dx, wrapped);
  return dx;
}

DimList as_list(std::initializer_list<std::int64_t> dims) { return {dims.begin(), dims.size()}; }

}  // namespace

Tensor softmax(const Tensor& x, DimList dims, std::optional<Dtype> dtype) {
  return forward(SoftmaxKind::kSoftmax, x, dims, dtype);
}
Tensor softmax(const Tensor& x, std::initializer_list<std::int64_t> dims, std::optional<Dtype> dtype) {
  return forward(SoftmaxKind::kSoftmax, x, as_list(dims), dtype);
}
Tensor log_softmax(const Tensor& x, DimList dims, std::optional<Dtype> dtype) {
  return forward(SoftmaxKind::kLogSoftmax, x, dims, dtype);
}
Tensor log_softmax(const Tensor& x, std::initializer_list<std::int64_t> dims, std::optional<Dtype> dtype) {
  return forward(SoftmaxKind::kLogSoftmax, x, as_list(dims), dtype);
}
Tensor softmin(const Tensor& x, DimList dims, std::optional<Dtype> dtype) {
  return forward(SoftmaxKind::kSoftmin, x, dims, dtype);
}
Tensor softmin(const Tensor& x, std::initializer_list<std::int64_t> dims, std::optional<Dtype> dtype) {
  return forward(SoftmaxKind::kSoftmin, x, as_list(dims), dtype);
}

Tensor softmax_backward(const Tensor& grad_output, const Tensor& output, DimList dims) {
  return backward(BackwardKind::kSoftmax, grad_output, output, dims);
}
Tensor softmax_backward(const Tensor& grad_output, const Tensor& output, std::initializer_list<std::int64_t> dims) {
  return backward(BackwardKind::kSoftmax, grad_output, output, as_list(dims));
}
Tensor log_softmax_backward(const Tensor& grad_output, const Tensor& output, DimList dims) {
  return backward(BackwardKind::kLogSoftmax, grad_output, output, dims);
}
Tensor log_softmax_backward(const Tensor& grad_output, const Tensor& output,
                            std::initializer_list<std::int64_t> dims) {
  return backward(BackwardKind::kLogSoftmax, grad_output, output, as_list(dims));
}

}  // namespace smx
