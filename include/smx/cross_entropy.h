// Cross entropy, token log-probabilities and entropy over the class dim, without the
// log_softmax tensor: each reads the logits for their per-row log-sum-exp (the engine's
// statistics pass) and gathers or sums what it needs; nothing of the logits' size is built
// except the gradient itself.
//
//   loss = cross_entropy(input, target, {weight, ignore_index, reduction, label_smoothing})
//
// is PyTorch 1.13's F.cross_entropy:
// input: (C), (N, C) or (N, C, d1, ...) - the class dim is 1 (0 for a 1-d input); float32,
//       float64, float16, bfloat16 (16-bit input is computed in double and rounded once; torch
//       1.13 has no CPU float16 log_softmax at all).
// target: class indices, int64, of the input's shape without the class dim (`ignore_index`
//       entries take no part), or class probabilities, floating, of the input's own shape.
// weight: optional (C) tensor of the input's dtype: class c's loss is multiplied by weight[c];
//       the mean of index targets is then divided by the summed weights of the kept targets.
// label_smoothing in [0, 1]: the target mixes (1 - e) of itself with e/C of every class, with
//       PyTorch's normalisation (the mean of both terms is over the kept targets' weight; a
//       negative value is ignored for index targets and applied for probabilities, as PyTorch).
// reduction: kNone (a loss per target, the target's shape), kMean, kSum (0-d).
// Loss dtype: the input's (with probability targets, the wider of input and target, as torch).
// A mean over no kept target is NaN, as PyTorch. Errors: PyTorch's types and words (IndexError
// "Target 5 is out of bounds.", ValueError for batch sizes and reductions, RuntimeError for
// shapes and dtypes).
//
// cross_entropy_backward(grad_loss, input, target, options) -> dL/dinput, and
// cross_entropy_with_grad(input, target, options) -> {loss, dL/dinput} for grad_loss = 1 with one
// statistics pass; with `inplace` the gradient is written over `input` (which must be contiguous
// and may not be a view of `target`), so that peak memory is the logits plus O(N).
//
// token_logprobs(logits, ids, dim) = log_softmax(logits, dim).gather(dim, ids): ids int64 of the
// logits' shape except along dim (any size there, gather's rule), each in [0, size(dim)).
// entropy(logits, dim) = -(p * log p).sum(dim) for p = softmax(logits, dim), in the logits' dtype;
// a -inf logit contributes 0 (as torch.distributions.Categorical(logits=...).entropy(); the
// literal expression would give 0 * -inf = NaN there).
// CPU tensors; every result is the same bits for any thread count.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "smx/tensor.h"

namespace smx {

enum class Reduction : std::uint8_t { kNone, kMean, kSum };

// "none", "mean" or "sum"; smx::ValueError "<name> is not a valid value for reduction" otherwise.
Reduction parse_reduction(const std::string& name);

struct CrossEntropyOptions {
  std::optional<Tensor> weight;
  std::int64_t ignore_index = -100;
  Reduction reduction = Reduction::kMean;
  double label_smoothing = 0.0;
};

Tensor cross_entropy(const Tensor& input, const Tensor& target, const CrossEntropyOptions& options = {});
Tensor cross_entropy_backward(const Tensor& grad_loss, const Tensor& input, const Tensor& target,
                              const CrossEntropyOptions& options = {});
// {loss, dL/dinput} with grad_loss = 1; inplace: dL/dinput is `input` itself, overwritten.
std::pair<Tensor, Tensor> cross_entropy_with_grad(const Tensor& input, const Tensor& target,
                                                  const CrossEntropyOptions& options = {}, bool inplace = false);

Tensor token_logprobs(const Tensor& logits, const Tensor& ids, std::int64_t dim = -1);
Tensor entropy(const Tensor& logits, std::int64_t dim = -1);

}  // namespace smx
