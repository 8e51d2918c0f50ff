// What the benchmark measures: one softmax problem and the buffers every implementation shares.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace smx::bench {

// kAllocSoftmax: softmax(x, dim) returning a new tensor (smx::softmax, torch::softmax), allocation
// included, as a user's loop calls it; the other passes write into the shared `out` buffer.
// kMaskedSoftmax: softmax over the last dim with a (1, S) key-padding mask (masked_mask_keeps);
// kCausalSoftmax: softmax over the last dim of (..., L, S) with the causal (tril) mask. Both
// allocate their result, as smx::masked_softmax does.
enum class Pass { kSoftmax, kLogSoftmax, kBackward, kAllocSoftmax, kMaskedSoftmax, kCausalSoftmax };
enum class Type { kF32, kBF16 };

struct Problem {
  std::string label;
  std::vector<std::int64_t> shape;
  std::int64_t dim;  // may be negative
  Type type = Type::kF32;
  Pass pass = Pass::kSoftmax;
  bool in_cache = false;
  // Non-empty: softmax over this group of dims (smx/softmax_dims.h), `dim` unused. smx runs
  // softmax(x, dims) (allocating, as the "alloc" rows); libtorch, which has no dim lists, runs
  // the best a user can write: x.permute(rest + dims).reshape(outer, -1), then softmax(-1).
  std::vector<std::int64_t> dims = {};

  std::int64_t numel() const;
  std::size_t element_bytes() const { return type == Type::kF32 ? 4 : 2; }
  std::int64_t wrapped_dim() const { return dim < 0 ? dim + static_cast<std::int64_t>(shape.size()) : dim; }
};

// x: input (forward) or y (backward); g: dL/dy (backward only); out: the result. All 64-byte
// aligned, C-contiguous, of problem.numel() elements.
struct Buffers {
  void* x;
  void* g;
  void* out;
};

// A ready-to-time call, or nullopt when the implementation cannot do this problem.
using Runner = std::optional<std::function<void()>>;

// The kMaskedSoftmax rows' mask, shared by every implementation: key j of S is kept when it
// lies in the first 3/4 of the row (trailing padding, as in a batch of padded sequences).
inline bool masked_mask_keeps(std::int64_t j, std::int64_t s) { return j < s * 3 / 4; }

Runner make_torch_runner(const Problem& p, const Buffers& b, int threads);
Runner make_dnnl_runner(const Problem& p, const Buffers& b, int threads);
Runner make_xnnpack_runner(const Problem& p, const Buffers& b, void* pthreadpool);

}  // namespace smx::bench
