// One CUDA kernel for every softmax-family op, forward and backward, rows and columns.
//
// A problem is `batch` x `lanes` independent groups of `n` elements (the slab plan of
// engine/plan.h). A block owns one (batch entry, tile of TL lanes, chunk of n) and is TL x R
// threads: threadIdx.x walks lanes (coalesced for columns, where lanes are adjacent in memory)
// and threadIdx.y walks n (coalesced for rows, TL == 1). Each thread reduces its elements into a
// statistic (forward: running (max, sum of exp); backward: a sum), the block merges them (warp
// shuffles, then one pass through shared memory), then each thread writes its elements.
//
// Rows whose elements are contiguous and 16-byte aligned move in packs of V elements (16 bytes:
// 4 float32, 8 float16/bfloat16, 2 float64), one load or store instruction per pack; everything
// else moves one element at a time (V == 1).
//
// Passes over memory: when the block's elements fit in shared memory (`cache`), x is read once:
// loaded into shared memory, reduced from there and written from there. Otherwise it is read a
// second time for the write (mostly from L2, the block having just read it). When too few groups
// exist to fill the GPU, n is cut into chunks: a kStats launch writes one statistic per chunk, a
// kWrite launch merges them and writes, visiting blocks in reverse so that the chunks read last
// (still in L2) are read again first.
//
// Arithmetic: float32 accumulation for float32/float16/bfloat16 (as PyTorch's CUDA kernels),
// float64 for float64; exp/log are CUDA's accurate expf/logf (2 ulp / 1 ulp), not the fast
// intrinsics. 16-bit outputs are rounded once, to nearest even.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

#include "cuda/cuda_problem.h"

namespace smx::detail::cuda {

enum class LaunchMode : int { kFull, kStats, kWrite };

struct Launch {
  std::int64_t tiles;      // lane tiles per batch entry
  std::int64_t chunks;     // chunks of n per group
  std::int64_t chunk_len;  // elements of n per chunk (n when chunks == 1; a multiple of V)
  LaunchMode mode;
  void* partials;          // [batch][chunks][lanes] statistics (kStats writes, kWrite reads)
  bool cache;              // keep the block's inputs in shared memory between the passes
};

// ---- element conversions -----------------------------------------------------------------------
template <typename T> struct AccOf { using type = float; };
template <> struct AccOf<double> { using type = double; };

__device__ __forceinline__ float to_acc(float v) { return v; }
__device__ __forceinline__ double to_acc(double v) { return v; }
__device__ __forceinline__ float to_acc(__half v) { return __half2float(v); }
__device__ __forceinline__ float to_acc(__nv_bfloat16 v) { return __bfloat162float(v); }

template <typename T> __device__ __forceinline__ T from_acc(float v);
template <> __device__ __forceinline__ float from_acc<float>(float v) { return v; }
template <> __device__ __forceinline__ __half from_acc<__half>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 from_acc<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }
template <typename T> __device__ __forceinline__ T from_acc(double v) { return v; }

__device__ __forceinline__ float exp_acc(float v) { return expf(v); }
__device__ __forceinline__ double exp_acc(double v) { return exp(v); }
__device__ __forceinline__ float log_acc(float v) { return logf(v); }
__device__ __forceinline__ double log_acc(double v) { return log(v); }

template <typename Acc>
__device__ __forceinline__ Acc neg_inf() { return -static_cast<Acc>(INFINITY); }

// V elements moved by one instruction (V * sizeof(T) <= 16 bytes, aligned to its size).
template <typename T, int V>
struct alignas(sizeof(T) * V) Pack {
  T e[V];
};

// Loads V consecutive elements at p[i * stride] (contiguous when V > 1) into out[0..V).
template <int V, typename T>
__device__ __forceinline__ void load_pack(const T* p, std::int64_t i, std::int64_t stride, T* out) {
  if constexpr (V == 1) {
    out[0] = p[i * stride];
  } else {
    const Pack<T, V> pk = *reinterpret_cast<const Pack<T, V>*>(p + i);
#pragma unroll
    for (int e = 0; e < V; ++e) out[e] = pk.e[e];
  }
}

// Outputs are stored with the evict-first hint (st.global.cs): nothing in this kernel reads them
// back, and L2 is better spent keeping inputs that a chunked launch reads a second time.
__device__ __forceinline__ void store_streaming(float* p, float v) { __stcs(p, v); }
__device__ __forceinline__ void store_streaming(double* p, double v) { __stcs(p, v); }
__device__ __forceinline__ void store_streaming(__half* p, __half v) { *p = v; }
__device__ __forceinline__ void store_streaming(__nv_bfloat16* p, __nv_bfloat16 v) { *p = v; }

template <int V, typename T>
__device__ __forceinline__ void store_pack(T* p, std::int64_t i, std::int64_t stride, const T* in) {
  if constexpr (V == 1) {
    store_streaming(p + i * stride, in[0]);
  } else {
    static_assert(sizeof(T) * V == 16, "packs are 16 bytes");
    Pack<T, V> pk;
#pragma unroll
    for (int e = 0; e < V; ++e) pk.e[e] = in[e];
    uint4 bits;
    memcpy(&bits, &pk, sizeof bits);
    __stcs(reinterpret_cast<uint4*>(p + i), bits);
  }
}

// A thread's unit of input j, v[j * V .. j * V + V), to and from its shared-memory slot.
template <typename T, int V>
__device__ __forceinline__ Pack<T, V> to_unit(const T* v) {
  Pack<T, V> u;
#pragma unroll
  for (int e = 0; e < V; ++e) u.e[e] = v[e];
  return u;
}
template <typename T, int V>
__device__ __forceinline__ void from_unit(const Pack<T, V>& u, T* v) {
#pragma unroll
  for (int e = 0; e < V; ++e) v[e] = u.e[e];
}

// ---- forward: y = softmax / log_softmax / softmin of x --------------------------------------------
template <typename Acc>
struct MaxSum {
  Acc max;
  Acc sum;  // sum of exp(v - max) over the elements seen
};

template <typename Acc>
__device__ __forceinline__ MaxSum<Acc> shuffle_xor(MaxSum<Acc> s, int offset) {
  return {__shfl_xor_sync(0xffffffffu, s.max, offset), __shfl_xor_sync(0xffffffffu, s.sum, offset)};
}
__device__ __forceinline__ float shuffle_xor(float s, int offset) { return __shfl_xor_sync(0xffffffffu, s, offset); }
__device__ __forceinline__ double shuffle_xor(double s, int offset) { return __shfl_xor_sync(0xffffffffu, s, offset); }

// The ops see a unit of V elements of each input as v[input * V + element].
template <typename T, int kKind>  // kKind: 0 softmax, 1 log_softmax, 2 softmin (Op order)
struct ForwardOp {
  using Acc = typename AccOf<T>::type;
  using Stat = MaxSum<Acc>;
  using Elem = T;
  static constexpr int kInputs = 1;

  const T* x;
  T* y;
  std::int64_t xs, ys;
  Acc max = 0, scale = 0;  // after finish(): max, and 1/sum (softmax) or log(sum) (log_softmax)

  __device__ ForwardOp(const Problem& p, const std::int64_t* off, std::int64_t lane)
      : x(static_cast<const T*>(p.data[0]) + off[0] + lane * p.lane_stride[0]),
        y(static_cast<T*>(p.data[1]) + off[1] + lane * p.lane_stride[1]),
        xs(p.n_stride[0]),
        ys(p.n_stride[1]) {}

  template <int V>
  __device__ void load(std::int64_t i, T* v) const { load_pack<V>(x, i, xs, v); }
  __device__ static Acc value(T v) {
    const Acc a = to_acc(v);
    return kKind == 2 ? -a : a;
  }
  __device__ static Stat identity() { return {neg_inf<Acc>(), Acc(0)}; }
  // Online update with a unit of V elements: rescale the sum once if the unit raises the max,
  // then one exp per element (x := v - max <= 0). A NaN makes the max NaN for good, so that it
  // reaches finish(); while the max is -inf every element so far was -inf and the sum stays 0.
  template <int V>
  __device__ static void add(Stat& s, const T* v) {
    if (s.max != s.max) return;
    bool nan = false;
    const Acc unit = unit_max<V>(v, nan);
    if (nan) {
      s.max = static_cast<Acc>(NAN);
      return;
    }
    if (unit > s.max) {
      s.sum = s.sum == Acc(0) ? Acc(0) : s.sum * exp_acc(s.max - unit);
      s.max = unit;
    }
    if (s.max == neg_inf<Acc>()) return;
#pragma unroll
    for (int e = 0; e < V; ++e) s.sum += exp_acc(value(v[e]) - s.max);
  }
  // The two-pass form for a block whose inputs sit in shared memory: the thread's max first,
  // then sum(exp(v - max)), keeping each exp in place of its input when T holds it exactly, so
  // that the write needs no second exp (store_scaled).
  static constexpr bool kTwoPass = true;
  static constexpr bool kKeepExp = sizeof(T) == sizeof(Acc) && kKind != 1;
  template <int V>
  __device__ static Acc unit_max(const T* v, bool& nan) {
    Acc m = neg_inf<Acc>();
#pragma unroll
    for (int e = 0; e < V; ++e) {
      const Acc a = value(v[e]);
      nan |= a != a;
      m = a > m ? a : m;
    }
    return m;
  }
  template <int V>
  __device__ static Acc unit_sum_exp(T* v, Acc max) {
    Acc sum = 0;
#pragma unroll
    for (int e = 0; e < V; ++e) {
      const Acc ex = exp_acc(value(v[e]) - max);
      sum += ex;
      if constexpr (kKeepExp) v[e] = static_cast<T>(ex);
    }
    return sum;
  }
  // y = kept exp * exp(thread max - group max) / sum.
  template <int V>
  __device__ void store_scaled(std::int64_t i, const T* ex, Acc factor) const {
    T out[V];
#pragma unroll
    for (int e = 0; e < V; ++e) out[e] = from_acc<T>(to_acc(ex[e]) * factor);
    store_pack<V>(y, i, ys, out);
  }
  __device__ static Stat merge(Stat a, Stat b) {
    if (a.max != a.max) return a;
    if (b.max != b.max) return b;
    const Acc m = a.max > b.max ? a.max : b.max;
    const Acc sa = a.sum == Acc(0) ? Acc(0) : a.sum * exp_acc(a.max - m);
    const Acc sb = b.sum == Acc(0) ? Acc(0) : b.sum * exp_acc(b.max - m);
    return {m, sa + sb};
  }
  // A group whose max is not finite (it holds NaN or +inf, or is all -inf) is NaN throughout,
  // as in PyTorch, where exp(x - max) is NaN for the max element itself.
  __device__ void finish(Stat s) {
    max = s.max;
    const Acc sum = (s.max - s.max == Acc(0)) ? s.sum : static_cast<Acc>(NAN);
    scale = kKind == 1 ? log_acc(sum) : Acc(1) / sum;
  }
  template <int V>
  __device__ void store(std::int64_t i, const T* v) const {
    T out[V];
#pragma unroll
    for (int e = 0; e < V; ++e) {
      const Acc a = value(v[e]) - max;
      out[e] = from_acc<T>(kKind == 1 ? a - scale : exp_acc(a) * scale);
    }
    store_pack<V>(y, i, ys, out);
  }
};

// ---- backward: dx from grad (g) and output (y) ----------------------------------------------------
template <typename T, int kKind>  // kKind: 0 softmax, 1 log_softmax (Op order)
struct BackwardOp {
  using Acc = typename AccOf<T>::type;
  using Stat = Acc;
  using Elem = T;
  static constexpr int kInputs = 2;
  static constexpr bool kTwoPass = false;

  const T* g;
  const T* y;
  T* dx;
  std::int64_t gs, ysd, dxs;
  Acc total = 0;  // softmax: sum(g * y); log_softmax: sum(g)

  __device__ BackwardOp(const Problem& p, const std::int64_t* off, std::int64_t lane)
      : g(static_cast<const T*>(p.data[0]) + off[0] + lane * p.lane_stride[0]),
        y(static_cast<const T*>(p.data[1]) + off[1] + lane * p.lane_stride[1]),
        dx(static_cast<T*>(p.data[2]) + off[2] + lane * p.lane_stride[2]),
        gs(p.n_stride[0]),
        ysd(p.n_stride[1]),
        dxs(p.n_stride[2]) {}

  template <int V>
  __device__ void load(std::int64_t i, T* v) const {
    load_pack<V>(g, i, gs, v);
    load_pack<V>(y, i, ysd, v + V);
  }
  __device__ static Stat identity() { return Acc(0); }
  template <int V>
  __device__ static void add(Stat& s, const T* v) {
#pragma unroll
    for (int e = 0; e < V; ++e) s += kKind == 0 ? to_acc(v[e]) * to_acc(v[V + e]) : to_acc(v[e]);
  }
  __device__ static Stat merge(Stat a, Stat b) { return a + b; }
  __device__ void finish(Stat s) { total = s; }
  template <int V>
  __device__ void store(std::int64_t i, const T* v) const {
    T out[V];
#pragma unroll
    for (int e = 0; e < V; ++e) {
      const Acc gv = to_acc(v[e]);
      const Acc yv = to_acc(v[V + e]);
      out[e] = from_acc<T>(kKind == 0 ? yv * (gv - total) : gv - exp_acc(yv) * total);
    }
    store_pack<V>(dx, i, dxs, out);
  }
};

// ---- the kernel ------------------------------------------------------------------------------------
__device__ __forceinline__ void batch_offsets(const Problem& p, std::int64_t b, std::int64_t* off) {
  if (p.batch_dims == 1) {  // the common case, without a division
    for (int o = 0; o < kMaxCudaOperands; ++o) off[o] = b * p.batch_strides[o][0];
    return;
  }
  for (int o = 0; o < kMaxCudaOperands; ++o) off[o] = 0;
  for (int d = p.batch_dims - 1; d >= 0; --d) {
    const std::int64_t i = b % p.batch_sizes[d];
    b /= p.batch_sizes[d];
    for (int o = 0; o < kMaxCudaOperands; ++o) off[o] += i * p.batch_strides[o][d];
  }
}

// Bytes of shared memory the block needs for its reduction (before the cache, 16-aligned).
template <class Op>
__host__ __device__ constexpr std::int64_t reduction_bytes(std::int64_t tl, std::int64_t r) {
  const std::int64_t rows_per_warp = tl >= 32 ? 1 : 32 / tl;
  const std::int64_t warps = (r + rows_per_warp - 1) / rows_per_warp;
  return ((static_cast<std::int64_t>(sizeof(typename Op::Stat)) * tl * warps + 15) / 16) * 16;
}

// Merges the statistics of each lane (threadIdx.x) over the block's rows (threadIdx.y): within a
// warp by shuffles (threads of one lane are blockDim.x apart there), then across warps through
// shared memory `red`. Every thread of the block must call it; each gets its lane's total.
template <class Op>
__device__ __forceinline__ typename Op::Stat merge_block(typename Op::Stat st, typename Op::Stat* red) {
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int tl = blockDim.x, r = blockDim.y;
  for (int offset = tl; offset < 32; offset *= 2) st = Op::merge(st, shuffle_xor(st, offset));
  const int rows_per_warp = tl >= 32 ? 1 : 32 / tl;
  const int warps = (r + rows_per_warp - 1) / rows_per_warp;
  if (ty % rows_per_warp == 0) red[(ty / rows_per_warp) * tl + tx] = st;
  __syncthreads();
  typename Op::Stat total = red[tx];
  for (int w = 1; w < warps; ++w) total = Op::merge(total, red[w * tl + tx]);
  return total;
}

template <class Op, int V>
// At most 512 threads, and registers for three such blocks per SM (75% occupancy): profiling on an
// H100 showed the kernel latency-bound at the 50% occupancy that its free register use gave.
__global__ void __launch_bounds__(512, 3) group_kernel(Problem p, Launch l) {
  using Stat = typename Op::Stat;
  using T = typename Op::Elem;
  using Unit = Pack<T, V>;
  constexpr int kIn = Op::kInputs;
  extern __shared__ __align__(16) unsigned char shared[];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int tl = blockDim.x, r = blockDim.y;
  Stat* red = reinterpret_cast<Stat*>(shared);
  Unit* cache = reinterpret_cast<Unit*>(shared + reduction_bytes<Op>(tl, r));

  // Blocks: lane tile fastest, then chunk, then batch entry; kWrite walks them in reverse.
  // (64-bit division costs hundreds of cycles: skipped where a count is 1.)
  std::int64_t b = l.mode == LaunchMode::kWrite ? gridDim.x - 1 - blockIdx.x : blockIdx.x;
  std::int64_t tile = 0, chunk = 0;
  if (l.tiles > 1) {
    tile = b % l.tiles;
    b /= l.tiles;
  }
  if (l.chunks > 1) {
    chunk = b % l.chunks;
    b /= l.chunks;
  }
  const std::int64_t lane = tile * tl + tx;
  const bool active = lane < p.lanes;
  std::int64_t off[kMaxCudaOperands];
  batch_offsets(p, b, off);
  Op op(p, off, active ? lane : 0);
  const std::int64_t i0 = chunk * l.chunk_len;
  const std::int64_t i1 = min(p.n, i0 + l.chunk_len);
  const std::int64_t step = static_cast<std::int64_t>(r) * V;            // between a thread's units
  const std::int64_t slot_stride = static_cast<std::int64_t>(tl) * r;   // between its cache slots
  Unit* mine = cache + ty * tl + tx;
  T v[V * kIn];

  // Pass 1: this thread's units at i0 + ty * V, then every `step` elements, into its statistic.
  using Acc = typename Op::Acc;
  Stat st = Op::identity();
  Acc thread_max = 0;     // two-pass: this thread's max
  bool kept_exp = false;  // two-pass: the cache holds exp(v - thread_max) instead of v
  if (active && l.mode != LaunchMode::kWrite) {
    if (l.cache) {
      std::int64_t k = 0;
#pragma unroll 4
      for (std::int64_t i = i0 + ty * V; i < i1; i += step, ++k) {
        op.template load<V>(i, v);
#pragma unroll
        for (int j = 0; j < kIn; ++j) mine[(k * kIn + j) * slot_stride] = to_unit<T, V>(v + j * V);
      }
      const std::int64_t count = k;
      if constexpr (Op::kTwoPass) {
        bool nan = false;
        Acc m = neg_inf<Acc>();
        for (k = 0; k < count; ++k) {
          from_unit<T, V>(mine[k * slot_stride], v);
          const Acc u = Op::template unit_max<V>(v, nan);
          m = u > m ? u : m;
        }
        Acc sum = 0;
        if (nan) {
          m = static_cast<Acc>(NAN);
        } else if (m - m == Acc(0)) {  // a finite max; else the group is NaN or this part all -inf
          for (k = 0; k < count; ++k) {
            from_unit<T, V>(mine[k * slot_stride], v);
            sum += Op::template unit_sum_exp<V>(v, m);
            if constexpr (Op::kKeepExp) mine[k * slot_stride] = to_unit<T, V>(v);
          }
          kept_exp = Op::kKeepExp;
        }
        st = Stat{m, sum};
        thread_max = m;
      } else {
        for (k = 0; k < count; ++k) {
#pragma unroll
          for (int j = 0; j < kIn; ++j) from_unit<T, V>(mine[(k * kIn + j) * slot_stride], v + j * V);
          Op::template add<V>(st, v);
        }
      }
    } else {
      // Four units loaded before any is reduced: four loads in flight per thread, whatever the
      // compiler makes of the reduction's branches.
      constexpr int kBatch = 4;
      T w[kBatch][V * kIn];
      std::int64_t i = i0 + ty * V;
      for (; i + (kBatch - 1) * step < i1; i += kBatch * step) {
#pragma unroll
        for (int u = 0; u < kBatch; ++u) op.template load<V>(i + u * step, w[u]);
#pragma unroll
        for (int u = 0; u < kBatch; ++u) Op::template add<V>(st, w[u]);
      }
      for (; i < i1; i += step) {
        op.template load<V>(i, v);
        Op::template add<V>(st, v);
      }
    }
  }
  // kWrite: the statistic is the merge of every chunk's (written by the kStats launch).
  if (active && l.mode == LaunchMode::kWrite) {
    const Stat* part = static_cast<const Stat*>(l.partials) + b * l.chunks * p.lanes + lane;
    for (std::int64_t c = ty; c < l.chunks; c += r) st = Op::merge(st, part[c * p.lanes]);
  }

  const Stat total = merge_block<Op>(st, red);
  if (!active) return;
  if (l.mode == LaunchMode::kStats) {
    if (ty == 0) static_cast<Stat*>(l.partials)[(b * l.chunks + chunk) * p.lanes + lane] = total;
    return;
  }

  // Pass 2: write this thread's units.
  op.finish(total);
  if constexpr (Op::kTwoPass) {
    if (kept_exp) {
      const Acc factor = exp_acc(thread_max - op.max) * op.scale;
      std::int64_t k = 0;
#pragma unroll 4
      for (std::int64_t i = i0 + ty * V; i < i1; i += step, ++k) {
        from_unit<T, V>(mine[k * slot_stride], v);
        op.template store_scaled<V>(i, v, factor);
      }
      return;
    }
  }
  std::int64_t k = 0;
#pragma unroll 4
  for (std::int64_t i = i0 + ty * V; i < i1; i += step, ++k) {
    if (l.cache) {
#pragma unroll
      for (int j = 0; j < kIn; ++j) from_unit<T, V>(mine[(k * kIn + j) * slot_stride], v + j * V);
    } else {
      op.template load<V>(i, v);
    }
    op.template store<V>(i, v);
  }
}

}  // namespace smx::detail::cuda

namespace smx::detail::cuda {

// Rows that fit in registers: contiguous rows (TL == 1, packs of V) of at most kUnits packs per
// thread, no chunks. The same passes as group_kernel, with each thread's packs held in registers
// instead of shared memory: one read of x, and no shared-memory traffic but the merge's.
template <class Op, int V, int kUnits>
__global__ void __launch_bounds__(512, 2) register_row_kernel(Problem p) {
  using Stat = typename Op::Stat;
  using T = typename Op::Elem;
  using Acc = typename Op::Acc;
  constexpr int kIn = Op::kInputs;
  __shared__ Stat red[16];  // one per warp of at most 512 threads
  const int ty = threadIdx.y;
  std::int64_t off[kMaxCudaOperands];
  batch_offsets(p, blockIdx.x, off);
  Op op(p, off, 0);
  const std::int64_t step = static_cast<std::int64_t>(blockDim.y) * V;
  const std::int64_t first = static_cast<std::int64_t>(ty) * V;
  T w[kUnits][V * kIn];
#pragma unroll
  for (int u = 0; u < kUnits; ++u) {
    if (first + u * step < p.n) op.template load<V>(first + u * step, w[u]);
  }
  Stat st = Op::identity();
  Acc thread_max = 0;
  bool kept_exp = false;
  if constexpr (Op::kTwoPass) {
    bool nan = false;
    Acc m = neg_inf<Acc>();
#pragma unroll
    for (int u = 0; u < kUnits; ++u) {
      if (first + u * step < p.n) {
        const Acc um = Op::template unit_max<V>(w[u], nan);
        m = um > m ? um : m;
      }
    }
    Acc sum = 0;
    if (nan) {
      m = static_cast<Acc>(NAN);
    } else if (m - m == Acc(0)) {
#pragma unroll
      for (int u = 0; u < kUnits; ++u) {
        if (first + u * step < p.n) sum += Op::template unit_sum_exp<V>(w[u], m);
      }
      kept_exp = Op::kKeepExp;
    }
    st = Stat{m, sum};
    thread_max = m;
  } else {
#pragma unroll
    for (int u = 0; u < kUnits; ++u) {
      if (first + u * step < p.n) Op::template add<V>(st, w[u]);
    }
  }
  op.finish(merge_block<Op>(st, red));
  if constexpr (Op::kTwoPass) {
    if (kept_exp) {
      const Acc factor = exp_acc(thread_max - op.max) * op.scale;
#pragma unroll
      for (int u = 0; u < kUnits; ++u) {
        if (first + u * step < p.n) op.template store_scaled<V>(first + u * step, w[u], factor);
      }
      return;
    }
  }
#pragma unroll
  for (int u = 0; u < kUnits; ++u) {
    if (first + u * step < p.n) op.template store<V>(first + u * step, w[u]);
  }
}

}  // namespace smx::detail::cuda
