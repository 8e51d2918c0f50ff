// oneDNN 2.6 (Debian): softmax_forward / logsoftmax_forward over any axis (forward only here).
#include "bench_problem.h"

#ifdef SMX_BENCH_HAVE_DNNL
#include <omp.h>

#include <dnnl.hpp>
#endif

namespace smx::bench {

#ifdef SMX_BENCH_HAVE_DNNL
Runner make_dnnl_runner(const Problem& p, const Buffers& b, int threads) try {
  if (p.pass != Pass::kSoftmax && p.pass != Pass::kLogSoftmax) return std::nullopt;
  omp_set_num_threads(threads);
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  static dnnl::stream stream(engine);
  dnnl::memory::dims dims(p.shape.begin(), p.shape.end());
  const auto dt = p.type == Type::kF32 ? dnnl::memory::data_type::f32 : dnnl::memory::data_type::bf16;
  dnnl::memory::dims strides(p.shape.size());  // C-contiguous
  std::int64_t s = 1;
  for (std::size_t i = p.shape.size(); i-- > 0;) {
    strides[i] = s;
    s *= p.shape[i];
  }
  const dnnl::memory::desc md(dims, dt, strides);
  dnnl::memory src(md, engine, b.x);
  dnnl::memory dst(md, engine, b.out);
  const int axis = static_cast<int>(p.wrapped_dim());
  if (p.pass == Pass::kSoftmax) {
    dnnl::softmax_forward::desc d(dnnl::prop_kind::forward_inference, md, axis);
    dnnl::softmax_forward prim(dnnl::softmax_forward::primitive_desc(d, engine));
    return [=]() mutable {
      prim.execute(stream, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}});
      stream.wait();
    };
  }
  dnnl::logsoftmax_forward::desc d(dnnl::prop_kind::forward_inference, md, axis);
  dnnl::logsoftmax_forward prim(dnnl::logsoftmax_forward::primitive_desc(d, engine));
  return [=]() mutable {
    prim.execute(stream, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}});
    stream.wait();
  };
} catch (const dnnl::error&) {
  // oneDNN has no implementation for this problem on this CPU (bfloat16 without AVX-512, say):
  // the table says n/a, as for a pass it lacks.
  return std::nullopt;
}
#else
Runner make_dnnl_runner(const Problem&, const Buffers&, int) { return std::nullopt; }
#endif

}  // namespace smx::bench
