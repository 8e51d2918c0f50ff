// masked_softmax / masked_log_softmax / masked_softmax_backward: argument checks (ops/checks.h),
// then the engine with the mask as a load (forward) and a store (backward): no staged copy of x.
// CUDA operands have no masked kernel yet: they run on host copies (ops/host_fallback.h).
#include "smx/masked_softmax.h"

#include <string>

#include "engine/engine.h"
#include "ops/checks.h"
#include "ops/host_fallback.h"
#include "smx/errors.h"

namespace smx {

namespace {

Tensor masked_forward(Op op, const char* name, const Tensor& x, const std::optional<Tensor>& mask, std::int64_t dim,
                      const MaskedSoftmaxOptions& o) {
  detail::check_defined(x, "input", name);
  if (detail::on_device(x, mask)) {
    return masked_forward(op, name, detail::to_host(x), detail::to_host(mask), dim, o).to(x.device());
  }
  detail::MaskSpec spec;
  const std::int64_t wrapped = detail::check_masked(x.sizes(), mask, dim, o, name, spec);
  detail::check_floating(x, name, "input");
  Tensor y = empty(x.sizes(), x.dtype());
  if (x.numel() != 0) detail::engine_forward(op, x, y, std::span<const std::int64_t>(&wrapped, 1), &spec);
  return y;
}

Tensor masked_backward(const Tensor& grad, const Tensor& output, const std::optional<Tensor>& mask, std::int64_t dim,
                       const MaskedSoftmaxOptions& o) {
  const char* name = "masked_softmax_backward";
  detail::check_defined(grad, "grad_output", name);
  detail::check_defined(output, "output", name);
  if (detail::on_device(grad, mask) || output.is_cuda()) {
    return masked_backward(detail::to_host(grad), detail::to_host(output), detail::to_host(mask), dim, o)
        .to(grad.device());
  }
  detail::check_backward_pair(grad, output, name);
  detail::MaskSpec spec;
  const std::int64_t wrapped = detail::check_masked(grad.sizes(), mask, dim, o, name, spec);
  detail::check_floating(grad, name, "grad_output");
  Tensor dx = empty(grad.sizes(), grad.dtype());
  // (autograd's order through scale * x, masked_fill and softmax: the mask and the scale are the
  // backward kernels' store)
  if (grad.numel() != 0) detail::engine_backward(Op::kSoftmaxBackward, grad, output, dx, std::span<const std::int64_t>(&wrapped, 1), &spec);
  return dx;
}

}  // namespace

Tensor masked_softmax(const Tensor& x, const std::optional<Tensor>& mask, std::int64_t dim,
                      const MaskedSoftmaxOptions& options) {
  return masked_forward(Op::kSoftmax, "masked_softmax", x, mask, dim, options);
}

Tensor masked_log_softmax(const Tensor& x, const std::optional<Tensor>& mask, std::int64_t dim,
                          const MaskedSoftmaxOptions& options) {
  return masked_forward(Op::kLogSoftmax, "masked_log_softmax", x, mask, dim, options);
}

Tensor masked_softmax_backward(const Tensor& grad_output, const Tensor& output, const std::optional<Tensor>& mask,
                               std::int64_t dim, const MaskedSoftmaxOptions& options) {
  return masked_backward(grad_output, output, mask, dim, options);
}

FullyMasked parse_fully_masked(const std::string& name) {
  if (name == "zero") return FullyMasked::kZero;
  if (name == "nan") return FullyMasked::kNan;
  throw ValueError("fully_masked must be \"zero\" or \"nan\", got \"" + name + "\"");
}

}  // namespace smx
