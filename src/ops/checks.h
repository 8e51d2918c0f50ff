// PyTorch's argument handling for every entry point, in one place: the implicit dim and its
// warning, dim wrapping (single dims and lists), the dtype rules and PyTorch's words for each
// error. The softmax family, the dim-list ops, the masked ops and the modules all call these,
// so the same mistake gets the same message whichever door it comes through.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/mask_spec.h"
#include "smx/masked_softmax.h"
#include "smx/op.h"
#include "smx/softmax_dims.h"
#include "smx/tensor.h"
#include "tensor/dim_wrap.h"

namespace smx::detail {

// ---- dims ----

// PyTorch's _get_softmax_dim: `dim` itself, or, when none is given, the implicit choice (0 for
// 0-, 1- and 3-d input, else 1) with PyTorch's deprecation warning printed on stderr the first
// time each op asks (a C++ library has no call sites to key Python's once-per-site rule on).
std::int64_t resolve_dim(Op op, std::optional<std::int64_t> dim, std::int64_t ndim);
// The warning's text for `op`.
std::string implicit_dim_warning(Op op);

// A list of dims wrapped as torch.sum wraps them: every dim range-checked first (IndexError for
// the first out of range), then repeats looked for in list order (RuntimeError). An empty list
// is an error for the op (torch reads dim=() as every dim, scipy and JAX as none).
std::vector<std::int64_t> wrap_dims(Op op, DimList dims, std::int64_t ndim);

// ---- tensors ----

// "<op>: <what> is an undefined tensor" (no prefix when op is null).
void check_defined(const Tensor& t, const char* what, const char* op = nullptr);
// PyTorch's words when operands live on different devices.
void check_same_device(const Tensor& a, const Tensor& b);
// F.softmin negates before it casts: bool input fails there, with neg()'s own error.
void check_negation(Op op, const Tensor& x);
// PyTorch's dispatch error for a non-floating dtype, under the name of the kernel PyTorch would
// have run: "\"softmax_lastdim_kernel_impl\" not implemented for 'Long'". `last` says whether
// the op runs over the last dim (a 0-d input counts; a list of dims never does).
void check_kernel_dtype(Op op, const Tensor& t, bool last);
// The masked ops' own dtype message (torch.masked has none to copy).
void check_floating(const Tensor& t, const char* op, const char* what);

// out= of a forward op: x's shape and dtype, x's device.
void check_out(const Tensor& out, const Tensor& x);
// grad_output and output of a backward op: defined, one device, one shape, one dtype. `op`
// prefixes the messages when given (the masked ops).
void check_backward_pair(const Tensor& grad, const Tensor& output, const char* op = nullptr);
// grad_input= of a backward op: grad_output's shape and dtype, its device.
void check_grad_input(const Tensor& grad_input, const Tensor& grad);

// ---- the masked ops ----

// The masked ops' arguments against x's `shape`: dim wrapped; the mask (bool, broadcastable to the
// shape under NumPy's rules, read through stride-0 views, never expanded; PyTorch's words where
// they apply); causal only over the last dim of an input of at least 2 dims. Returns the wrapped
// dim and fills `spec` (the mask's bytes, its strides over x's dims, the options).
std::int64_t check_masked(const Size& shape, const std::optional<Tensor>& mask, std::int64_t dim,
                          const MaskedSoftmaxOptions& options, const char* op, MaskSpec& spec);

}  // namespace smx::detail
