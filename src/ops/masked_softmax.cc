// masked_softmax / masked_log_softmax / masked_softmax_backward: argument checks, then the fast
// last-dim path (ops/masked_rows.cc) or the generic path below, which materialises
// x' = (kept ? scale * x : -inf) for any dim and layout, runs the plain executor on it and
// fixes up fully masked groups. Both give the same bits: they stage the same x' and run the
// same per-row/per-column kernels.
#include "smx/masked_softmax.h"

#include <algorithm>
#include <string>
#include <vector>

#include "ops/checks.h"
#include "ops/masked_layout.h"
#include "ops/masked_rows.h"
#include "ops/masked_stage.h"
#include "ops/softmax_executor.h"
#include "smx/errors.h"
#include "tensor/dim_wrap.h"

namespace smx {

namespace {

using detail::MaskLayout;

// Wraps dim and checks the mask and causal option against `shape`; returns the wrapped dim.
std::int64_t check_mask_args(const Size& shape, const std::optional<Tensor>& mask, std::int64_t dim,
                             const MaskedSoftmaxOptions& o, const char* op, MaskLayout& layout) {
  const auto nd = static_cast<std::int64_t>(shape.size());
  const std::int64_t wrapped = detail::wrap_dim(dim, nd);
  layout = detail::broadcast_mask(mask, shape, op);
  if (o.causal) {
    if (nd < 2) {
      throw RuntimeError(std::string(op) + ": causal needs an input of shape (..., L, S) with at least 2 dims, got " +
                         "shape " + shape.str());
    }
    if (wrapped != nd - 1) {
      throw RuntimeError(std::string(op) + ": causal applies only to the last dim (S of an input of shape (..., L, S)), "
                         "got dim " + std::to_string(dim) + " of an input with " + std::to_string(nd) + " dims");
    }
    layout.causal = true;
  }
  return wrapped;
}

// Element e of a contiguous tensor of `shape` belongs to group (outer, inner) along `dim`.
struct GroupIndex {
  std::int64_t n, inner;
  std::int64_t operator()(std::int64_t e) const { return e / (n * inner) * inner + e % inner; }
};

GroupIndex group_index(const Size& shape, std::int64_t dim) {
  GroupIndex g{shape.size() == 0 ? 1 : shape[static_cast<std::size_t>(dim)], 1};
  for (std::size_t d = static_cast<std::size_t>(dim) + 1; d < shape.size(); ++d) g.inner *= shape[d];
  return g;
}

// Any dim, any layout: x' staged whole, the plain executor, then fully masked groups.
template <typename S>
void generic_forward(Op kind, const Tensor& x, const MaskLayout& mask, std::int64_t dim,
                     std::optional<double> scale, FullyMasked policy, const Tensor& y) {
  using C = detail::ComputeType<S>;
  const Size& shape = x.sizes();
  const std::int64_t nd = x.dim();
  const GroupIndex group = group_index(shape, dim);
  std::vector<std::uint8_t> kept(static_cast<std::size_t>(x.numel() / group.n), 0);
  Tensor staged = empty(shape, x.dtype());
  const S* xp = static_cast<const S*>(x.data_ptr());
  S* sp = static_cast<S*>(staged.data_ptr());
  const C s = scale ? static_cast<C>(*scale) : C(1);
  // Row by row along the last dim (x' staged as in the fast path); a row's elements belong to
  // consecutive groups (dim before the last) or all to group r (dim is the last).
  const std::int64_t last = nd == 0 ? 1 : shape[static_cast<std::size_t>(nd - 1)];
  const std::int64_t rows = x.numel() / last;
  const std::int64_t xs = nd == 0 ? 1 : x.stride(-1);
  const std::int64_t ms = nd == 0 ? 0 : mask.strides.back();
  const bool dim_last = nd == 0 || dim == nd - 1;
  for (std::int64_t r = 0; r < rows; ++r) {
    std::int64_t xo = 0, mo = 0, i = 0, rest = r;
    for (std::int64_t d = nd - 2; d >= 0; --d) {
      const std::int64_t idx = rest % shape[static_cast<std::size_t>(d)];
      rest /= shape[static_cast<std::size_t>(d)];
      xo += idx * x.stride(d);
      mo += idx * mask.strides[static_cast<std::size_t>(d)];
      if (d == nd - 2) i = idx;
    }
    const std::uint8_t* m = mask.base ? mask.base + mo : nullptr;
    const std::int64_t keep_end = mask.causal ? std::min(i + 1, last) : last;
    S* out = sp + r * last;
    const bool any = scale ? detail::stage_row<S, true>(xp + xo, xs, m, ms, keep_end, last, s, out)
                           : detail::stage_row<S, false>(xp + xo, xs, m, ms, keep_end, last, s, out);
    if (dim_last) {
      kept[static_cast<std::size_t>(r)] = any;
    } else {
      std::uint8_t* k = kept.data() + group(r * last);
      for (std::int64_t j = 0; j < keep_end; ++j) k[j] = static_cast<std::uint8_t>(k[j] | (m == nullptr || m[j * ms] != 0));
    }
  }
  detail::execute_forward(kind, staged, y, dim);
  if (std::find(kept.begin(), kept.end(), std::uint8_t{0}) == kept.end()) return;  // none fully masked
  const S fill = detail::fully_masked_value<S>(policy, kind == Op::kLogSoftmax);
  S* yp = static_cast<S*>(y.data_ptr());
  for (std::int64_t r = 0; r < rows; ++r) {
    S* out = yp + r * last;
    if (dim_last) {
      if (!kept[static_cast<std::size_t>(r)]) std::fill(out, out + last, fill);
    } else {
      const std::uint8_t* k = kept.data() + group(r * last);
      for (std::int64_t j = 0; j < last; ++j) {
        if (!k[j]) out[j] = fill;
      }
    }
  }
}

Tensor masked_forward(Op kind, const char* op, const Tensor& x_in, const std::optional<Tensor>& mask_in,
                      std::int64_t dim, const MaskedSoftmaxOptions& o) {
  detail::check_defined(x_in, "input", op);
  if (x_in.is_cuda() || (mask_in && mask_in->defined() && mask_in->is_cuda())) {
    // No CUDA kernel for the masked forms yet: a host round trip, the result back on x's device.
    std::optional<Tensor> host_mask;
    if (mask_in && mask_in->defined()) host_mask = mask_in->to(kCPU);
    return masked_forward(kind, op, x_in.to(kCPU), host_mask, dim, o).to(x_in.device());
  }
  MaskLayout layout;
  const std::int64_t wrapped = check_mask_args(x_in.sizes(), mask_in, dim, o, op, layout);
  detail::check_floating(x_in, op, "input");
  Tensor y = empty(x_in.sizes(), x_in.dtype());
  if (x_in.numel() == 0) return y;
  const bool last = x_in.dim() > 0 && wrapped == x_in.dim() - 1;
  if (last && detail::masked_rows_forward(kind, x_in, layout, o.scale, o.fully_masked, y)) return y;
  detail::visit_floating(x_in.dtype(), [&](auto tag) {
    generic_forward<decltype(tag)>(kind, x_in, layout, wrapped, o.scale, o.fully_masked, y);
  });
  return y;
}

// dx = plain softmax backward, then scale at kept elements and 0 at masked ones (autograd's
// order through scale * x and masked_fill: the 16-bit result is rounded as PyTorch rounds it).
template <typename S>
void mask_gradient(const Tensor& dx, const MaskLayout& mask, std::optional<double> scale) {
  using C = detail::ComputeType<S>;
  S* dp = static_cast<S*>(dx.data_ptr());
  const C s = scale ? static_cast<C>(*scale) : C(1);
  const S zero = detail::from_compute<S>(0);
  const std::vector<std::int64_t> strides = dx.sizes().contiguous_strides();
  detail::for_each_element<2>(dx.sizes(), {&strides, &mask.strides}, [&](const auto& index, const auto& off) {
    S& v = dp[off[0]];
    if (!detail::element_kept(mask, index, off[1])) v = zero;
    else if (scale) v = detail::from_compute<S>(detail::to_compute(v) * s);
  });
}

Tensor masked_backward(const Tensor& grad_in, const Tensor& output_in, const std::optional<Tensor>& mask_in,
                       std::int64_t dim, const MaskedSoftmaxOptions& o) {
  const char* op = "masked_softmax_backward";
  detail::check_defined(grad_in, "grad_output", op);
  detail::check_defined(output_in, "output", op);
  if (grad_in.is_cuda() || output_in.is_cuda() || (mask_in && mask_in->defined() && mask_in->is_cuda())) {
    std::optional<Tensor> host_mask;
    if (mask_in && mask_in->defined()) host_mask = mask_in->to(kCPU);
    return masked_backward(grad_in.to(kCPU), output_in.to(kCPU), host_mask, dim, o).to(grad_in.device());
  }
  detail::check_backward_pair(grad_in, output_in, op);
  MaskLayout layout;
  const std::int64_t wrapped = check_mask_args(grad_in.sizes(), mask_in, dim, o, op, layout);
  detail::check_floating(grad_in, op, "grad_output");
  Tensor dx = empty(grad_in.sizes(), grad_in.dtype());
  if (grad_in.numel() == 0) return dx;
  detail::execute_backward(Op::kSoftmaxBackward, grad_in, output_in, dx, wrapped);
  detail::visit_floating(dx.dtype(), [&](auto tag) { mask_gradient<decltype(tag)>(dx, layout, o.scale); });
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
