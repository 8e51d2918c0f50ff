// The softmax family with PyTorch's semantics: torch.softmax / log_softmax / nn.functional.softmin,
// their `out=` forms, and the backward passes of torch._softmax_backward_data and
// torch._log_softmax_backward_data.
//
// dim: wrapped like PyTorch (negative counts from the end; 0-d accepts -1 and 0); std::nullopt
//      applies PyTorch's implicit rule (0 for 0-, 1- and 3-D input, else 1) and prints its
//      deprecation warning once per process and op on stderr.
// dtype: if given, the input is cast to it before the op (so integer input can be used).
// Errors: smx::IndexError for a dim out of range, smx::RuntimeError for non-floating input.
#pragma once

#include <cstdint>
#include <optional>

#include "smx/op.h"
#include "smx/tensor.h"

namespace smx {

// The op as a value (smx/op.h): forward(Op::kLogSoftmax, x, dim) is log_softmax(x, dim), and so
// on; `op` must be a forward op (softmax, log_softmax, softmin), else smx::ValueError.
Tensor forward(Op op, const Tensor& x, std::optional<std::int64_t> dim = std::nullopt,
               std::optional<Dtype> dtype = std::nullopt);
void forward_out(Op op, Tensor& out, const Tensor& x, std::int64_t dim);
// backward(Op::kSoftmaxBackward, g, y, dim) is softmax_backward(g, y, dim); `op` must be a
// backward op.
Tensor backward(Op op, const Tensor& grad_output, const Tensor& output, std::int64_t dim);
void backward_out(Op op, Tensor& grad_input, const Tensor& grad_output, const Tensor& output, std::int64_t dim);

Tensor softmax(const Tensor& x, std::optional<std::int64_t> dim = std::nullopt,
               std::optional<Dtype> dtype = std::nullopt);
Tensor log_softmax(const Tensor& x, std::optional<std::int64_t> dim = std::nullopt,
                   std::optional<Dtype> dtype = std::nullopt);
// softmax(-x): the negation is fused into the kernel, no negated copy is made.
Tensor softmin(const Tensor& x, std::optional<std::int64_t> dim = std::nullopt,
               std::optional<Dtype> dtype = std::nullopt);

// Write the result into `out`, which must be defined, have x's shape and a floating dtype equal
// to x's (any strides; it may be x itself for an in-place op).
void softmax_out(Tensor& out, const Tensor& x, std::int64_t dim);
void log_softmax_out(Tensor& out, const Tensor& x, std::int64_t dim);
void softmin_out(Tensor& out, const Tensor& x, std::int64_t dim);

// Given y = softmax(x, dim) and dL/dy, returns dL/dx = y * (g - sum(g * y, dim)).
Tensor softmax_backward(const Tensor& grad_output, const Tensor& output, std::int64_t dim);
// Given y = log_softmax(x, dim) and dL/dy, returns dL/dx = g - exp(y) * sum(g, dim).
Tensor log_softmax_backward(const Tensor& grad_output, const Tensor& output, std::int64_t dim);
// The same, written into `grad_input` (defined, same shape and dtype as grad_output; any strides;
// it may be grad_output itself).
void softmax_backward_out(Tensor& grad_input, const Tensor& grad_output, const Tensor& output,
                          std::int64_t dim);
void log_softmax_backward_out(Tensor& grad_input, const Tensor& grad_output, const Tensor& output,
                              std::int64_t dim);

// The dim PyTorch picks when none is given (no warning printed).
std::int64_t implicit_softmax_dim(std::int64_t ndim);
// The same, printing PyTorch's deprecation warning for `op` on stderr the first time (what
// softmax(x) with no dim does).
std::int64_t implicit_softmax_dim_warned(Op op, std::int64_t ndim);

}  // namespace smx

#include "smx/softmax_dims.h"  // the same ops over a list of dims
