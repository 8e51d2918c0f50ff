// XNNPACK (Debian): softmax_nc_f32, which only normalises the last dim of float32.
#include "bench_problem.h"

#ifdef SMX_BENCH_HAVE_XNNPACK
#include <pthreadpool.h>
#include <xnnpack.h>
#endif

namespace smx::bench {

#ifdef SMX_BENCH_HAVE_XNNPACK
Runner make_xnnpack_runner(const Problem& p, const Buffers& b, void* pool) {
  if (p.pass != Pass::kSoftmax || p.type != Type::kF32) return std::nullopt;
  if (p.wrapped_dim() != static_cast<std::int64_t>(p.shape.size()) - 1) return std::nullopt;
  static const bool initialized = xnn_initialize(nullptr) == xnn_status_success;
  if (!initialized) return std::nullopt;
  const auto channels = static_cast<std::size_t>(p.shape.back());
  const auto batch = static_cast<std::size_t>(p.numel()) / channels;
  xnn_operator_t op = nullptr;
  if (xnn_create_softmax_nc_f32(channels, channels, channels, 0, &op) != xnn_status_success) return std::nullopt;
  auto* threadpool = static_cast<pthreadpool_t>(pool);
  if (xnn_setup_softmax_nc_f32(op, batch, static_cast<const float*>(b.x), static_cast<float*>(b.out), threadpool) !=
      xnn_status_success) {
    return std::nullopt;
  }
  // The operator is leaked on purpose: it lives as long as the benchmark row that times it.
  return [op, threadpool]() { xnn_run_operator(op, threadpool); };
}
#else
Runner make_xnnpack_runner(const Problem&, const Buffers&, void*) { return std::nullopt; }
#endif

}  // namespace smx::bench
