// Masked, scaled and causal softmax: the attention-style softmax that torch.softmax lacks.
//
//   y = masked_softmax(x, mask, dim, {scale, causal, fully_masked})
//
// is softmax(scale * x) over the *kept* elements of each group along `dim`; masked elements
// give 0 (log form: -inf). It equals PyTorch's
//   torch.softmax((scale * x).masked_fill(~mask, -inf), dim)
// wherever a group keeps at least one element, and torch.masked.softmax(scale * x, dim, mask=mask).
//
// mask: optional (std::nullopt or an undefined Tensor: every element is kept, unless `causal`).
//       dtype bool, True = the element takes part (as torch.masked.softmax, SDPA's boolean
//       attn_mask, jax.nn.softmax(where=)). Broadcast to x's shape under NumPy's rules (it may
//       have fewer dims, and size-1 dims) and read through stride-0 views, never expanded in
//       memory. It may not have more dims than x nor grow one of x's size-1 dims.
// scale: if given, x is multiplied by it before masking (rounded once in x's dtype, as
//       `scale * x` in PyTorch); the backward pass includes the factor.
// causal: for the last dim of x of shape (..., L, S): element (i, j) is kept only if j <= i, i.e.
//       torch.ones(L, S).tril() - the top-left aligned mask of SDPA's is_causal, also when
//       L != S (rows i >= S keep everything; FlashAttention 2.1+ aligns bottom-right instead).
//       Combined with `mask` by AND. Any other dim, or x with fewer than 2 dims, is an error.
// fully_masked: what a group with no kept element gives.
//       kZero (default): softmax 0, log_softmax -inf, gradient 0 - what SDPA (_safe_softmax),
//         jax.nn.softmax(where=), FlashAttention and MLX give: padding rows stay finite.
//       kNan: NaN in every element of the group, as torch.masked.softmax / log_softmax (and
//         masked_fill + softmax) give.
//       A group that keeps elements which are all -inf is not "fully masked": it gives NaN like
//       torch.softmax of an all -inf row. NaN or +inf at a kept element gives a NaN group (as
//       torch.softmax); NaN or inf at a masked element is ignored (masked_fill removes it).
// Backward: given y = masked_softmax(x, ...) and dL/dy, returns dL/dx =
//       scale * y * (g - sum(g * y, dim)) at kept elements and 0 at masked ones (fully masked
//       groups included, under both policies) - what autograd through scale * x, masked_fill and
//       softmax gives.
// Dtypes: float32, float64, float16, bfloat16 (x, grad and y alike). Any strides.
// Threads: results are the same bits for any thread count.
// CUDA tensors: computed through a host copy (the result is copied back to x's device).
// Errors: smx::IndexError for a dim out of range; smx::RuntimeError for a non-bool mask, a mask
//       that does not broadcast to x (PyTorch's "The size of tensor a (..) must match ..." where
//       it applies), a non-floating x, causal on a dim other than the last.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "smx/tensor.h"

namespace smx {

enum class FullyMasked : std::uint8_t { kZero, kNan };

struct MaskedSoftmaxOptions {
  std::optional<double> scale;
  bool causal = false;
  FullyMasked fully_masked = FullyMasked::kZero;
};

Tensor masked_softmax(const Tensor& x, const std::optional<Tensor>& mask, std::int64_t dim = -1,
                      const MaskedSoftmaxOptions& options = {});
Tensor masked_log_softmax(const Tensor& x, const std::optional<Tensor>& mask, std::int64_t dim = -1,
                          const MaskedSoftmaxOptions& options = {});
// grad_output and output: same shape and floating dtype; mask broadcast to that shape.
Tensor masked_softmax_backward(const Tensor& grad_output, const Tensor& output,
                               const std::optional<Tensor>& mask, std::int64_t dim = -1,
                               const MaskedSoftmaxOptions& options = {});

// "zero" or "nan" (the Python and command spelling); throws smx::ValueError otherwise.
FullyMasked parse_fully_masked(const std::string& name);

}  // namespace smx
