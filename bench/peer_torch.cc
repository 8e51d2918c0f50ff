// libtorch 1.13 (Debian): at::_softmax_out, at::_log_softmax_out, at::_softmax_backward_data_out
// on the same memory (at::from_blob); for the allocating rows at::softmax (torch::softmax) with
// libtorch's own CPU allocator.
#include "bench_problem.h"

#ifdef SMX_BENCH_HAVE_TORCH
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#endif

namespace smx::bench {

#ifdef SMX_BENCH_HAVE_TORCH
Runner make_torch_runner(const Problem& p, const Buffers& b, int threads) {
  at::set_num_threads(threads);
  const auto type = p.type == Type::kF32 ? at::kFloat : at::kBFloat16;
  const auto opts = at::TensorOptions().dtype(type);
  at::Tensor x = at::from_blob(b.x, p.shape, opts);
  at::Tensor out = at::from_blob(b.out, p.shape, opts);
  const std::int64_t dim = p.dim;
  switch (p.pass) {
    case Pass::kSoftmax: return [=]() mutable { at::_softmax_out(out, x, dim, false); };
    case Pass::kLogSoftmax: return [=]() mutable { at::_log_softmax_out(out, x, dim, false); };
    case Pass::kBackward: {
      at::Tensor g = at::from_blob(b.g, p.shape, opts);
      return [=]() mutable { at::_softmax_backward_data_out(out, g, x, dim, type); };
    }
    case Pass::kAllocSoftmax: return [=]() { at::Tensor y = at::softmax(x, dim); };
  }
  return std::nullopt;
}
#else
Runner make_torch_runner(const Problem&, const Buffers&, int) { return std::nullopt; }
#endif

}  // namespace smx::bench
