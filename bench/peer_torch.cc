// libtorch 1.13 (Debian): at::_softmax_out, at::_log_softmax_out, at::_softmax_backward_data_out
// on the same memory (at::from_blob); for the allocating rows at::softmax (torch::softmax) with
// libtorch's own CPU allocator.
#include "bench_problem.h"

#ifdef SMX_BENCH_HAVE_TORCH
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <limits>
#endif

namespace smx::bench {

#ifdef SMX_BENCH_HAVE_TORCH
// A group of dims: permute them last, reshape (a copy unless they already are last and
// adjacent), softmax over the merged dim. The result's reshape + inverse permute back to x's
// shape are views, so they are left out.
Runner torch_dims_runner(const Problem& p, const at::Tensor& x) {
  if (p.pass != Pass::kAllocSoftmax) return std::nullopt;
  std::vector<std::int64_t> perm, group;
  std::int64_t outer = 1;
  for (std::int64_t d = 0; d < static_cast<std::int64_t>(p.shape.size()); ++d) {
    bool in = false;
    for (std::int64_t g : p.dims) in = in || (g < 0 ? g + static_cast<std::int64_t>(p.shape.size()) : g) == d;
    if (!in) {
      perm.push_back(d);
      outer *= p.shape[static_cast<std::size_t>(d)];
    } else {
      group.push_back(d);
    }
  }
  perm.insert(perm.end(), group.begin(), group.end());
  return [=]() { at::Tensor y = at::softmax(x.permute(perm).reshape({outer, -1}), 1); };
}

Runner make_torch_runner(const Problem& p, const Buffers& b, int threads) {
  at::set_num_threads(threads);
  const auto type = p.type == Type::kF32 ? at::kFloat : at::kBFloat16;
  const auto opts = at::TensorOptions().dtype(type);
  at::Tensor x = at::from_blob(b.x, p.shape, opts);
  at::Tensor out = at::from_blob(b.out, p.shape, opts);
  const std::int64_t dim = p.dim;
  if (!p.dims.empty()) return torch_dims_runner(p, x);
  switch (p.pass) {
    case Pass::kSoftmax: return [=]() mutable { at::_softmax_out(out, x, dim, false); };
    case Pass::kLogSoftmax: return [=]() mutable { at::_log_softmax_out(out, x, dim, false); };
    case Pass::kBackward: {
      at::Tensor g = at::from_blob(b.g, p.shape, opts);
      return [=]() mutable { at::_softmax_backward_data_out(out, g, x, dim, type); };
    }
    case Pass::kAllocSoftmax: return [=]() { at::Tensor y = at::softmax(x, dim); };
    case Pass::kMaskedSoftmax:
    case Pass::kCausalSoftmax: {
      // The best a torch user can do: the inverted mask made once, then masked_fill and softmax
      // allocating their results (as SDPA's math path does).
      const std::int64_t s = p.shape.back();
      at::Tensor inverted;
      if (p.pass == Pass::kCausalSoftmax) {
        const std::int64_t l = p.shape[p.shape.size() - 2];
        inverted = at::ones({l, s}, at::kBool).tril().logical_not();
      } else {
        inverted = at::empty({1, s}, at::kBool);
        for (std::int64_t j = 0; j < s; ++j) inverted[0][j] = !masked_mask_keeps(j, s);
      }
      const double ninf = -std::numeric_limits<double>::infinity();
      return [=]() { at::Tensor y = at::softmax(x.masked_fill(inverted, ninf), dim); };
    }
  }
  return std::nullopt;
}
#else
Runner make_torch_runner(const Problem&, const Buffers&, int) { return std::nullopt; }
#endif

}  // namespace smx::bench
