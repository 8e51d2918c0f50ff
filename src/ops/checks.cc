#include "ops/checks.h"

#include <algorithm>
#include <iostream>
#include <mutex>
#include <set>

#include "smx/errors.h"
#include "smx/softmax.h"

namespace smx {

std::int64_t implicit_softmax_dim(std::int64_t ndim) { return (ndim == 0 || ndim == 1 || ndim == 3) ? 0 : 1; }

std::int64_t implicit_softmax_dim_warned(Op op, std::int64_t ndim) { return detail::resolve_dim(op, std::nullopt, ndim); }

std::vector<std::int64_t> wrap_dim_list(DimList dims, std::int64_t ndim) {
  std::vector<std::int64_t> wrapped;
  for (std::int64_t d : dims) wrapped.push_back(detail::wrap_dim(d, ndim));
  for (auto it = wrapped.begin(); it != wrapped.end(); ++it) {
    if (std::find(wrapped.begin(), it, *it) != it) {
      throw RuntimeError("dim " + std::to_string(*it) + " appears multiple times in the list of dims");
    }
  }
  return wrapped;
}

namespace detail {

std::string implicit_dim_warning(Op op) {
  return std::string("Implicit dimension choice for ") + op_name(op) +
         " has been deprecated. Change the call to include dim=X as an argument.";
}

std::int64_t resolve_dim(Op op, std::optional<std::int64_t> dim, std::int64_t ndim) {
  if (dim) return *dim;
  static std::mutex mutex;
  static std::set<Op> warned;
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (warned.insert(op).second) std::cerr << "UserWarning: " << implicit_dim_warning(op) << std::endl;
  }
  return implicit_softmax_dim(ndim);
}

std::vector<std::int64_t> wrap_dims(Op op, DimList dims, std::int64_t ndim) {
  if (dims.empty()) {
    throw RuntimeError(std::string(op_name(op)) +
                       ": an empty list of dims is ambiguous (torch's reductions read dim=() as every dim, "
                       "scipy and JAX read axis=() as no dim); name the dims, e.g. (0, 1)");
  }
  return wrap_dim_list(dims, ndim);
}

void check_defined(const Tensor& t, const char* what, const char* op) {
  if (t.defined()) return;
  throw RuntimeError((op ? std::string(op) + ": " : std::string()) + what + " is an undefined tensor");
}

void check_same_device(const Tensor& a, const Tensor& b) {
  if (a.device() == b.device()) return;
  throw RuntimeError("Expected all tensors to be on the same device, but found at least two devices, " +
                     a.device().str() + " and " + b.device().str() + "!");
}

void check_negation(Op op, const Tensor& x) {
  if (op == Op::kSoftmin && x.dtype() == kBool) x.neg();  // throws PyTorch's error
}

void check_kernel_dtype(Op op, const Tensor& t, bool last) {
  if (is_floating(t.dtype())) return;
  // PyTorch's kernel over other dims is "softmax_kernel_impl" for log_softmax too; softmin runs
  // the softmax kernel.
  std::string base, suffix;
  if (is_backward(op)) {
    base = op == Op::kLogSoftmaxBackward ? "log_softmax" : "softmax";
    suffix = "_backward_kernel_impl";
  } else {
    base = op == Op::kLogSoftmax && last ? "log_softmax" : "softmax";
    suffix = "_kernel_impl";
  }
  throw RuntimeError("\"" + base + (last ? "_lastdim" : "") + suffix + "\" not implemented for '" +
                     scalar_type_name(t.dtype()) + "'");
}

void check_floating(const Tensor& t, const char* op, const char* what) {
  if (is_floating(t.dtype())) return;
  throw RuntimeError(std::string(op) + ": expected a floating " + what +
                     " (float32, float64, float16 or bfloat16), got " + dtype_name(t.dtype()));
}

void check_out(const Tensor& out, const Tensor& x) {
  check_same_device(out, x);
  if (!(out.sizes() == x.sizes())) {
    throw RuntimeError("out has shape " + out.sizes().str() + " but the input has shape " + x.sizes().str());
  }
  if (out.dtype() != x.dtype()) {
    throw RuntimeError("Expected out tensor to have dtype " + dtype_name(x.dtype()) + ", but got " +
                       dtype_name(out.dtype()) + " instead");
  }
}

void check_backward_pair(const Tensor& grad, const Tensor& output, const char* op) {
  check_defined(grad, "grad_output", op);
  check_defined(output, "output", op);
  const std::string prefix = op ? std::string(op) + ": " : std::string();
  if (!op) check_same_device(grad, output);
  if (!(grad.sizes() == output.sizes())) {
    throw RuntimeError(prefix + "grad_output has shape " + grad.sizes().str() + " but output has shape " +
                       output.sizes().str());
  }
  if (grad.dtype() != output.dtype()) {
    throw RuntimeError(prefix + "grad_output has dtype " + dtype_name(grad.dtype()) + " but output has dtype " +
                       dtype_name(output.dtype()));
  }
}

void check_grad_input(const Tensor& grad_input, const Tensor& grad) {
  check_same_device(grad_input, grad);
  if (!(grad_input.sizes() == grad.sizes()) || grad_input.dtype() != grad.dtype()) {
    throw RuntimeError("grad_input must have grad_output's shape " + grad.sizes().str() + " and dtype " +
                       dtype_name(grad.dtype()) + ", got " + grad_input.sizes().str() + " and " +
                       dtype_name(grad_input.dtype()));
  }
}

namespace {

// The mask's strides over x's dims (0 where it broadcasts), NumPy's rule aligned from the right.
std::vector<std::int64_t> broadcast_strides(const Tensor& m, const Size& shape, const char* op) {
  if (m.dtype() != kBool) {
    throw RuntimeError(std::string(op) + ": expected a bool mask (True = the element takes part), got mask with dtype " +
                       dtype_name(m.dtype()));
  }
  const auto nd = static_cast<std::int64_t>(shape.size());
  if (m.dim() > nd) {
    throw RuntimeError(std::string(op) + ": the mask's shape " + m.sizes().str() + " has more dims than the input's " +
                       "shape " + shape.str() + "; a mask must broadcast to the input's shape");
  }
  std::vector<std::int64_t> strides(shape.size(), 0);
  for (std::int64_t d = 0; d < m.dim(); ++d) {
    const std::int64_t xd = nd - m.dim() + d;
    const std::int64_t ms = m.size(d);
    const std::int64_t xs = shape[static_cast<std::size_t>(xd)];
    if (ms == xs) {
      strides[static_cast<std::size_t>(xd)] = ms == 1 ? 0 : m.stride(d);
    } else if (ms == 1) {
      strides[static_cast<std::size_t>(xd)] = 0;
    } else if (xs != 1) {  // PyTorch's words (a = the input, b = the mask; dim counted in the input)
      throw RuntimeError("The size of tensor a (" + std::to_string(xs) + ") must match the size of tensor b (" +
                         std::to_string(ms) + ") at non-singleton dimension " + std::to_string(xd));
    } else {
      throw RuntimeError(std::string(op) + ": the mask's shape " + m.sizes().str() +
                         " does not broadcast to the input's shape " + shape.str() +
                         " (the mask may not grow the input's size-1 dim " + std::to_string(xd) + ")");
    }
  }
  return strides;
}

}  // namespace

std::int64_t check_masked(const Size& shape, const std::optional<Tensor>& mask, std::int64_t dim,
                          const MaskedSoftmaxOptions& options, const char* op, MaskSpec& spec) {
  const auto nd = static_cast<std::int64_t>(shape.size());
  const std::int64_t wrapped = wrap_dim(dim, nd);
  spec = MaskSpec{};
  spec.strides.assign(shape.size(), 0);
  if (mask && mask->defined()) {
    spec.strides = broadcast_strides(*mask, shape, op);
    spec.base = static_cast<const std::uint8_t*>(mask->data_ptr());
  }
  if (options.causal) {
    if (nd < 2) {
      throw RuntimeError(std::string(op) + ": causal needs an input of shape (..., L, S) with at least 2 dims, got " +
                         "shape " + shape.str());
    }
    if (wrapped != nd - 1) {
      throw RuntimeError(std::string(op) + ": causal applies only to the last dim (S of an input of shape (..., L, S)), "
                         "got dim " + std::to_string(dim) + " of an input with " + std::to_string(nd) + " dims");
    }
    spec.causal = true;
  }
  spec.scale = options.scale;
  spec.fully_masked_nan = options.fully_masked == FullyMasked::kNan;
  return wrapped;
}

}  // namespace detail
}  // namespace smx
