// The softmax family over a list of dims at once: softmax over the flattened group of those
// dims, as scipy.special.softmax(x, axis=(1, 2)) and jax.nn.softmax(x, axis=(1, 2)) (PyTorch has
// no such form; its workaround is permute + reshape + softmax, a full copy, which smx avoids).
//
//   smx::softmax(x, {1, 2})          // every x[i, :, :, k] sums to 1
//   smx::softmax(x, {-1, 0})         // negative dims wrap; any order; need not be adjacent
//
// dims: each wrapped like PyTorch; a repeated dim (after wrapping) raises smx::RuntimeError
//       "dim 1 appears multiple times in the list of dims" and an out-of-range one raises
//       smx::IndexError "Dimension out of range (expected to be in range of [-2, 1], but got 5)",
//       PyTorch's words for dim lists (torch.sum, torch.amax); as there, every dim is
//       range-checked before repeats are looked for.
//       A list of one dim is exactly the single-dim op (same bits). An empty list raises
//       smx::RuntimeError: torch's reductions read dim=() as "every dim" while scipy and JAX read
//       axis=() as "no dim" (every element its own group, all ones); rather than pick one
//       silently, smx asks for the dims to be named.
// dtype, non-floating input, empty tensors and NaN/inf groups behave as the single-dim ops.
// Results are deterministic: the same bits at any thread count, and a view gives the same bits
// as its contiguous copy (when the group dims can be walked as one strided run - e.g. adjacent
// dims of a contiguous tensor - the single-dim kernels run on that run, so softmax(x, {2, 3})
// equals softmax(x.reshape(a, b, c * d), 2) bit for bit).
// CUDA tensors: computed through a host copy (correct, not fast), returned on x's device.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <vector>

#include "smx/dtype.h"
#include "smx/op.h"
#include "smx/tensor.h"

namespace smx {

using DimList = std::span<const std::int64_t>;

// The op as a value over a list of dims (see smx/softmax.h's forward and backward).
Tensor forward(Op op, const Tensor& x, DimList dims, std::optional<Dtype> dtype = std::nullopt);
Tensor forward(Op op, const Tensor& x, std::initializer_list<std::int64_t> dims,
               std::optional<Dtype> dtype = std::nullopt);
Tensor backward(Op op, const Tensor& grad_output, const Tensor& output, DimList dims);
Tensor backward(Op op, const Tensor& grad_output, const Tensor& output, std::initializer_list<std::int64_t> dims);

// The braced-list overloads make softmax(x, {1, 2}) (and {1}) pick the list form, while
// softmax(x, 1) and softmax(x) keep the single-dim form: a braced list converts to
// std::initializer_list by a standard conversion, to std::optional only by a user-defined one.
Tensor softmax(const Tensor& x, DimList dims, std::optional<Dtype> dtype = std::nullopt);
Tensor softmax(const Tensor& x, std::initializer_list<std::int64_t> dims,
               std::optional<Dtype> dtype = std::nullopt);
Tensor log_softmax(const Tensor& x, DimList dims, std::optional<Dtype> dtype = std::nullopt);
Tensor log_softmax(const Tensor& x, std::initializer_list<std::int64_t> dims,
                   std::optional<Dtype> dtype = std::nullopt);
Tensor softmin(const Tensor& x, DimList dims, std::optional<Dtype> dtype = std::nullopt);
Tensor softmin(const Tensor& x, std::initializer_list<std::int64_t> dims,
               std::optional<Dtype> dtype = std::nullopt);

// Given y = softmax(x, dims) and dL/dy: dL/dx = y * (g - sum(g * y over the group)).
Tensor softmax_backward(const Tensor& grad_output, const Tensor& output, DimList dims);
Tensor softmax_backward(const Tensor& grad_output, const Tensor& output,
                        std::initializer_list<std::int64_t> dims);
// Given y = log_softmax(x, dims) and dL/dy: dL/dx = g - exp(y) * sum(g over the group).
Tensor log_softmax_backward(const Tensor& grad_output, const Tensor& output, DimList dims);
Tensor log_softmax_backward(const Tensor& grad_output, const Tensor& output,
                            std::initializer_list<std::int64_t> dims);

// The dims wrapped and checked as above (in the caller's order), for a tensor of `ndim` dims.
std::vector<std::int64_t> wrap_dim_list(DimList dims, std::int64_t ndim);

}  // namespace smx
