// The softmax family over a list of dims (smx/softmax_dims.h): argument handling in the
// single-dim ops' order (negation check, dtype cast, dims wrapped and checked, empty shortcut,
// dtype check; ops/checks.h), then the group executor. A list of one dim is the single-dim op.
#include <string>

#include "ops/checks.h"
#include "engine/engine.h"
#include "ops/host_fallback.h"
#include "smx/errors.h"
#include "smx/softmax.h"
#include "smx/softmax_dims.h"

namespace smx {

namespace {

DimList as_list(std::initializer_list<std::int64_t> dims) { return {dims.begin(), dims.size()}; }

}  // namespace

Tensor forward(Op op, const Tensor& x, DimList dims, std::optional<Dtype> dtype) {
  if (dims.size() == 1) return forward(op, x, std::optional<std::int64_t>(dims[0]), dtype);
  if (is_backward(op)) throw ValueError(std::string("forward: ") + op_name(op) + " is a backward op");
  detail::check_defined(x, "input");
  if (dims.empty()) detail::wrap_dims(op, dims, x.dim());  // the empty-list error first
  detail::check_negation(op, x);  // PyTorch's error: negation before cast
  const Tensor input = dtype ? x.to(*dtype) : x;
  const std::vector<std::int64_t> wrapped = detail::wrap_dims(op, dims, input.dim());
  if (input.numel() == 0) return empty(input.sizes(), input.dtype(), input.device());
  detail::check_kernel_dtype(op, input, /*last=*/false);  // a group is never a plain last-dim row
  if (detail::on_device(input)) {  // no CUDA kernel for groups
    return forward(op, detail::to_host(input), dims, std::nullopt).to(input.device());
  }
  Tensor out = empty(input.sizes(), input.dtype());
  detail::engine_forward(op, input, out, wrapped);
  return out;
}

Tensor backward(Op op, const Tensor& grad, const Tensor& output, DimList dims) {
  if (dims.size() == 1) return backward(op, grad, output, dims[0]);
  if (!is_backward(op)) throw ValueError(std::string("backward: ") + op_name(op) + " is not a backward op");
  detail::check_defined(grad, "grad_output");
  detail::check_defined(output, "output");
  if (dims.empty()) detail::wrap_dims(op, dims, grad.dim());  // the empty-list error first
  detail::check_backward_pair(grad, output);
  const std::vector<std::int64_t> wrapped = detail::wrap_dims(op, dims, grad.dim());
  if (grad.numel() == 0) return empty(grad.sizes(), grad.dtype(), grad.device());
  detail::check_kernel_dtype(op, grad, /*last=*/false);
  if (detail::on_device(grad)) {
    return backward(op, detail::to_host(grad), detail::to_host(output), dims).to(grad.device());
  }
  Tensor dx = empty(grad.sizes(), grad.dtype());
  detail::engine_backward(op, grad, output, dx, wrapped);
  return dx;
}

Tensor forward(Op op, const Tensor& x, std::initializer_list<std::int64_t> dims, std::optional<Dtype> dtype) {
  return forward(op, x, as_list(dims), dtype);
}
Tensor backward(Op op, const Tensor& grad_output, const Tensor& output, std::initializer_list<std::int64_t> dims) {
  return backward(op, grad_output, output, as_list(dims));
}

Tensor softmax(const Tensor& x, DimList dims, std::optional<Dtype> dtype) { return forward(Op::kSoftmax, x, dims, dtype); }
Tensor softmax(const Tensor& x, std::initializer_list<std::int64_t> dims, std::optional<Dtype> dtype) {
  return forward(Op::kSoftmax, x, as_list(dims), dtype);
}
Tensor log_softmax(const Tensor& x, DimList dims, std::optional<Dtype> dtype) {
  return forward(Op::kLogSoftmax, x, dims, dtype);
}
Tensor log_softmax(const Tensor& x, std::initializer_list<std::int64_t> dims, std::optional<Dtype> dtype) {
  return forward(Op::kLogSoftmax, x, as_list(dims), dtype);
}
Tensor softmin(const Tensor& x, DimList dims, std::optional<Dtype> dtype) { return forward(Op::kSoftmin, x, dims, dtype); }
Tensor softmin(const Tensor& x, std::initializer_list<std::int64_t> dims, std::optional<Dtype> dtype) {
  return forward(Op::kSoftmin, x, as_list(dims), dtype);
}

Tensor softmax_backward(const Tensor& grad_output, const Tensor& output, DimList dims) {
  return backward(Op::kSoftmaxBackward, grad_output, output, dims);
}
Tensor softmax_backward(const Tensor& grad_output, const Tensor& output, std::initializer_list<std::int64_t> dims) {
  return backward(Op::kSoftmaxBackward, grad_output, output, as_list(dims));
}
Tensor log_softmax_backward(const Tensor& grad_output, const Tensor& output, DimList dims) {
  return backward(Op::kLogSoftmaxBackward, grad_output, output, dims);
}
Tensor log_softmax_backward(const Tensor& grad_output, const Tensor& output,
                            std::initializer_list<std::int64_t> dims) {
  return backward(Op::kLogSoftmaxBackward, grad_output, output, as_list(dims));
}

}  // namespace smx
