// The public softmax family: PyTorch's argument handling, in PyTorch's order (implicit dim,
// dtype cast, dim wrap, empty shortcut, dtype check), then the executor.
#include <string>

#include "ops/implicit_dim.h"
#include "ops/softmax_executor.h"
#include "smx/errors.h"
#include "smx/softmax.h"
#include "tensor/dim_wrap.h"

namespace smx {

namespace {

using detail::BackwardKind;
using detail::SoftmaxKind;
using detail::op_name;

void check_defined(const Tensor& t, const char* what) {
  if (!t.defined()) throw RuntimeError(std::string(what) + " is an undefined tensor");
}

// PyTorch's dispatch error for a non-floating dtype: `"<base>[_lastdim]<suffix>" not implemented
// for 'Long'`, where a 0-d input counts as last-dim.
[[noreturn]] void throw_not_implemented(const std::string& base, const std::string& suffix, const Tensor& x,
                                        std::int64_t dim) {
  const bool last = x.dim() == 0 || dim == x.dim() - 1;
  throw RuntimeError("\"" + base + (last ? "_lastdim" : "") + suffix + "\" not implemented for '" +
                     scalar_type_name(x.dtype()) + "'");
}

// Forward: softmin runs the softmax kernel, and PyTorch's kernel over other dims is named
// "softmax_kernel_impl" for log_softmax too.
void check_floating(SoftmaxKind kind, const Tensor& x, std::int64_t dim) {
  if (is_floating(x.dtype())) return;
  const bool last = x.dim() == 0 || dim == x.dim() - 1;
  throw_not_implemented(kind == SoftmaxKind::kLogSoftmax && last ? "log_softmax" : "softmax", "_kernel_impl", x, dim);
}

// PyTorch's words when operands live on different devices.
void check_same_device(const Tensor& a, const Tensor& b) {
  if (a.device() == b.device()) return;
  throw RuntimeError("Expected all tensors to be on the same device, but found at least two devices, " +
                     a.device().str() + " and " + b.device().str() + "!");
}

void check_bool_negation(SoftmaxKind kind, const Tensor& x) {
  if (kind == SoftmaxKind::kSoftmin && x.dtype() == kBool) x.neg();  // throws PyTorch's error
}

Tensor forward(SoftmaxKind kind, const Tensor& x, std::optional<std::int64_t> dim,
               std::optional<Dtype> dtype) {
  check_defined(x, "input");
  const std::int64_t d = dim ? *dim : detail::implicit_dim_with_warning(op_name(kind), x.dim());
  check_bool_negation(kind, x);  // F.softmin negates before it casts
  const Tensor input = dtype ? x.to(*dtype) : x;
  const std::int64_t wrapped = detail::wrap_dim(d, input.dim());
  if (input.numel() == 0) return empty(input.sizes(), input.dtype(), input.device());
  check_floating(kind, input, wrapped);
  Tensor out = empty(input.sizes(), input.dtype(), input.device());
  detail::execute_forward(kind, input, out, wrapped);
  return out;
}

void forward_out(SoftmaxKind kind, Tensor& out, const Tensor& x, std::int64_t dim) {
  check_defined(x, "input");
  check_defined(out, "out");
  check_bool_negation(kind, x);
  const std::int64_t wrapped = detail::wrap_dim(dim, x.dim());
  check_same_device(out, x);
  if (!(out.sizes() == x.sizes())) {
    throw RuntimeError("out has shape " + out.sizes().str() + " but the input has shape " +
                       x.sizes().str());
  }
  if (out.dtype() != x.dtype()) {
    throw RuntimeError("Expected out tensor to have dtype " + dtype_name(x.dtype()) +
                       ", but got " + dtype_name(out.dtype()) + " instead");
  }
  if (x.numel() == 0) return;
  check_floating(kind, x, wrapped);
  detail::execute_forward(kind, x, out, wrapped);
}

// Checks backward arguments; returns the wrapped dim.
std::int64_t check_backward(BackwardKind kind, const Tensor& grad, const Tensor& output, std::int64_t dim) {
  check_defined(grad, "grad_output");
  check_defined(output, "output");
  check_same_device(grad, output);
  if (!(grad.sizes() == output.sizes())) {
    throw RuntimeError("grad_output has shape " + grad.sizes().str() + " but output has shape " +
                       output.sizes().str());
  }
  if (grad.dtype() != output.dtype()) {
    throw RuntimeError("grad_output has dtype " + dtype_name(grad.dtype()) +
                       " but output has dtype " + dtype_name(output.dtype()));
  }
  const std::int64_t wrapped = detail::wrap_dim(dim, grad.dim());
  if (grad.numel() != 0 && !is_floating(grad.dtype())) {
    throw_not_implemented(kind == BackwardKind::kLogSoftmax ? "log_softmax" : "softmax", "_backward_kernel_impl",
                          grad, wrapped);
  }
  return wrapped;
}

Tensor backward(BackwardKind kind, const Tensor& grad, const Tensor& output, std::int64_t dim) {
  const std::int64_t wrapped = check_backward(kind, grad, output, dim);
  Tensor dx = empty(grad.sizes(), grad.dtype(), grad.device());
  if (grad.numel() != 0) detail::execute_backward(kind, grad, output, dx, wrapped);
  return dx;
}

void backward_out(BackwardKind kind, Tensor& dx, const Tensor& grad, const Tensor& output, std::int64_t dim) {
  check_defined(dx, "grad_input");
  const std::int64_t wrapped = check_backward(kind, grad, output, dim);
  check_same_device(dx, grad);
  if (!(dx.sizes() == grad.sizes()) || dx.dtype() != grad.dtype()) {
    throw RuntimeError("grad_input must have grad_output's shape " + grad.sizes().str() + " and dtype " +
                       dtype_name(grad.dtype()) + ", got " + dx.sizes().str() + " and " + dtype_name(dx.dtype()));
  }
  if (grad.numel() != 0) detail::execute_backward(kind, grad, output, dx, wrapped);
}

}  // namespace

Tensor softmax(const Tensor& x, std::optional<std::int64_t> dim, std::optional<Dtype> dtype) {
  return forward(SoftmaxKind::kSoftmax, x, dim, dtype);
}
Tensor log_softmax(const Tensor& x, std::optional<std::int64_t> dim, std::optional<Dtype> dtype) {
  return forward(SoftmaxKind::kLogSoftmax, x, dim, dtype);
}
Tensor softmin(const Tensor& x, std::optional<std::int64_t> dim, std::optional<Dtype> dtype) {
  return forward(SoftmaxKind::kSoftmin, x, dim, dtype);
}

void softmax_out(Tensor& out, const Tensor& x, std::int64_t dim) {
  forward_out(SoftmaxKind::kSoftmax, out, x, dim);
}
void log_softmax_out(Tensor& out, const Tensor& x, std::int64_t dim) {
  forward_out(SoftmaxKind::kLogSoftmax, out, x, dim);
}
void softmin_out(Tensor& out, const Tensor& x, std::int64_t dim) {
  forward_out(SoftmaxKind::kSoftmin, out, x, dim);
}

Tensor softmax_backward(const Tensor& grad_output, const Tensor& output, std::int64_t dim) {
  return backward(BackwardKind::kSoftmax, grad_output, output, dim);
}
Tensor log_softmax_backward(const Tensor& grad_output, const Tensor& output, std::int64_t dim) {
  return backward(BackwardKind::kLogSoftmax, grad_output, output, dim);
}
void softmax_backward_out(Tensor& grad_input, const Tensor& grad_output, const Tensor& output, std::int64_t dim) {
  backward_out(BackwardKind::kSoftmax, grad_input, grad_output, output, dim);
}
void log_softmax_backward_out(Tensor& grad_input, const Tensor& grad_output, const Tensor& output,
                              std::int64_t dim) {
  backward_out(BackwardKind::kLogSoftmax, grad_input, grad_output, output, dim);
}

}  // namespace smx
