// The softmax family over one dim: PyTorch's argument handling, in PyTorch's order (implicit
// dim, softmin's negation check, dtype cast, dim wrap, empty shortcut, dtype check; ops/checks.h),
// then the executor.
#include <string>

#include "ops/checks.h"
#include "engine/engine.h"
#include "smx/errors.h"
#include "smx/softmax.h"

namespace smx {

namespace {

using detail::check_defined;

void check_forward_op(Op op) {
  if (is_backward(op)) throw ValueError(std::string("forward: ") + op_name(op) + " is a backward op");
}

void check_backward_op(Op op) {
  if (!is_backward(op)) throw ValueError(std::string("backward: ") + op_name(op) + " is not a backward op");
}

bool last_dim(const Tensor& t, std::int64_t wrapped) { return t.dim() == 0 || wrapped == t.dim() - 1; }

// Checks backward arguments; returns the wrapped dim.
std::int64_t check_backward(Op op, const Tensor& grad, const Tensor& output, std::int64_t dim) {
  detail::check_backward_pair(grad, output);
  const std::int64_t wrapped = detail::wrap_dim(dim, grad.dim());
  if (grad.numel() != 0) detail::check_kernel_dtype(op, grad, last_dim(grad, wrapped));
  return wrapped;
}

}  // namespace

Tensor forward(Op op, const Tensor& x, std::optional<std::int64_t> dim, std::optional<Dtype> dtype) {
  check_forward_op(op);
  check_defined(x, "input");
  const std::int64_t d = detail::resolve_dim(op, dim, x.dim());
  detail::check_negation(op, x);  // F.softmin negates before it casts
  const Tensor input = dtype ? x.to(*dtype) : x;
  const std::int64_t wrapped = detail::wrap_dim(d, input.dim());
  if (input.numel() == 0) return empty(input.sizes(), input.dtype(), input.device());
  detail::check_kernel_dtype(op, input, last_dim(input, wrapped));
  Tensor out = empty(input.sizes(), input.dtype(), input.device());
  detail::engine_forward(op, input, out, std::span<const std::int64_t>(&wrapped, 1));
  return out;
}

void forward_out(Op op, Tensor& out, const Tensor& x, std::int64_t dim) {
  check_forward_op(op);
  check_defined(x, "input");
  check_defined(out, "out");
  detail::check_negation(op, x);
  const std::int64_t wrapped = detail::wrap_dim(dim, x.dim());
  detail::check_out(out, x);
  if (x.numel() == 0) return;
  detail::check_kernel_dtype(op, x, last_dim(x, wrapped));
  detail::engine_forward(op, x, out, std::span<const std::int64_t>(&wrapped, 1));
}

Tensor backward(Op op, const Tensor& grad, const Tensor& output, std::int64_t dim) {
  check_backward_op(op);
  const std::int64_t wrapped = check_backward(op, grad, output, dim);
  Tensor dx = empty(grad.sizes(), grad.dtype(), grad.device());
  if (grad.numel() != 0) detail::engine_backward(op, grad, output, dx, std::span<const std::int64_t>(&wrapped, 1));
  return dx;
}

void backward_out(Op op, Tensor& dx, const Tensor& grad, const Tensor& output, std::int64_t dim) {
  check_backward_op(op);
  check_defined(dx, "grad_input");
  const std::int64_t wrapped = check_backward(op, grad, output, dim);
  detail::check_grad_input(dx, grad);
  if (grad.numel() != 0) detail::engine_backward(op, grad, output, dx, std::span<const std::int64_t>(&wrapped, 1));
}

Tensor softmax(const Tensor& x, std::optional<std::int64_t> dim, std::optional<Dtype> dtype) {
  return forward(Op::kSoftmax, x, dim, dtype);
}
Tensor log_softmax(const Tensor& x, std::optional<std::int64_t> dim, std::optional<Dtype> dtype) {
  return forward(Op::kLogSoftmax, x, dim, dtype);
}
Tensor softmin(const Tensor& x, std::optional<std::int64_t> dim, std::optional<Dtype> dtype) {
  return forward(Op::kSoftmin, x, dim, dtype);
}

void softmax_out(Tensor& out, const Tensor& x, std::int64_t dim) { forward_out(Op::kSoftmax, out, x, dim); }
void log_softmax_out(Tensor& out, const Tensor& x, std::int64_t dim) { forward_out(Op::kLogSoftmax, out, x, dim); }
void softmin_out(Tensor& out, const Tensor& x, std::int64_t dim) { forward_out(Op::kSoftmin, out, x, dim); }

Tensor softmax_backward(const Tensor& grad_output, const Tensor& output, std::int64_t dim) {
  return backward(Op::kSoftmaxBackward, grad_output, output, dim);
}
Tensor log_softmax_backward(const Tensor& grad_output, const Tensor& output, std::int64_t dim) {
  return backward(Op::kLogSoftmaxBackward, grad_output, output, dim);
}
void softmax_backward_out(Tensor& grad_input, const Tensor& grad_output, const Tensor& output, std::int64_t dim) {
  backward_out(Op::kSoftmaxBackward, grad_input, grad_output, output, dim);
}
void log_softmax_backward_out(Tensor& grad_input, const Tensor& grad_output, const Tensor& output,
                              std::int64_t dim) {
  backward_out(Op::kLogSoftmaxBackward, grad_input, grad_output, output, dim);
}

}  // namespace smx
