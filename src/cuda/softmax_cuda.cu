// Launching group_kernel for a planned problem: the block shape, whether n is cut into chunks,
// whether the block's inputs stay in shared memory, and the dtype/op dispatch.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "engine/device_kernels.h"
#include "cuda/cuda_guard.h"
#include "cuda/group_kernel.cuh"
#include "smx/errors.h"

namespace smx::detail::cuda {

namespace {

// Shared memory a block may use for its cache: with two such blocks an SM (228 KiB on H100,
// 164 KiB on A100) still runs 2 x 512 threads.
constexpr std::int64_t kCacheBytes = 96 * 1024;
// Units (packs, or single elements) each thread should own, so that a block's loads keep enough
// bytes in flight and the block's fixed costs (its reduction) are spread over enough elements.
constexpr std::int64_t kUnitsPerThread = 4;

std::int64_t pow2_at_least(std::int64_t v) {
  std::int64_t p = 1;
  while (p < v) p *= 2;
  return p;
}

Problem make_problem(const Plan& plan, void* const* base, int operands) {
  if (plan.batch.size() > static_cast<std::size_t>(kMaxBatchDims)) {
    throw RuntimeError("smx CUDA: this view's layout needs " + std::to_string(plan.batch.size()) +
                       " batch dims (at most " + std::to_string(kMaxBatchDims) +
                       " are supported); call .contiguous() on it first");
  }
  Problem p{};
  for (int o = 0; o < operands; ++o) {
    p.data[o] = base[o];
    p.n_stride[o] = plan.row.strides[static_cast<std::size_t>(o)];
    p.lane_stride[o] = plan.lanes.strides[static_cast<std::size_t>(o)];
  }
  p.n = plan.row.size;
  p.lanes = plan.lanes.size;
  p.batch = plan.batch_count();
  p.batch_dims = static_cast<int>(plan.batch.size());
  for (std::size_t d = 0; d < plan.batch.size(); ++d) {
    p.batch_sizes[d] = plan.batch[d].size;
    for (int o = 0; o < operands; ++o) p.batch_strides[o][d] = plan.batch[d].strides[static_cast<std::size_t>(o)];
  }
  return p;
}

int multiprocessors(int device) {
  static int cached[64] = {};
  if (device < 64 && cached[device]) return cached[device];
  int count = 0;
  check(cudaDeviceGetAttribute(&count, cudaDevAttrMultiProcessorCount, device), "reading the SM count");
  if (device < 64) cached[device] = count;
  return count;
}

// Elements per 16-byte pack when every operand's groups are contiguous rows starting on 16-byte
// boundaries (then one instruction moves a pack); else 1.
template <typename T>
int pack_width(const Problem& p, int operands) {
  constexpr int kPack = static_cast<int>(16 / sizeof(T));
  if (p.lanes != 1 || p.n % kPack != 0) return 1;
  for (int o = 0; o < operands; ++o) {
    if (p.n_stride[o] != 1 || reinterpret_cast<std::uintptr_t>(p.data[o]) % 16 != 0) return 1;
    for (int d = 0; d < p.batch_dims; ++d) {
      if ((p.batch_strides[o][d] * static_cast<std::int64_t>(sizeof(T))) % 16 != 0) return 1;
    }
  }
  return kPack;
}

template <class Op, int V>
void launch(const Problem& p, int device) {
  using Stat = typename Op::Stat;
  using T = typename Op::Elem;
  const std::int64_t unit_bytes = static_cast<std::int64_t>(sizeof(T)) * V * Op::kInputs;
  // Rows (lanes == 1): a block per group, threads along n. Columns: 32 lanes wide (8 when that is
  // what lets the cache fit, still a full 32-byte sector per row for float32).
  std::int64_t tl = 1;
  if (p.lanes > 1) {
    tl = std::min<std::int64_t>(32, pow2_at_least(p.lanes));
    if (p.n * tl * unit_bytes > kCacheBytes && p.lanes >= 8 && p.n * 8 * unit_bytes <= kCacheBytes) tl = 8;
  }
  const std::int64_t units = p.n / V;  // V divides n
  const std::int64_t max_r = 512 / tl;
  std::int64_t r = std::clamp<std::int64_t>(pow2_at_least((units + kUnitsPerThread - 1) / kUnitsPerThread),
                                            std::max<std::int64_t>(1, 32 / tl), max_r);
  Launch l{};
  l.tiles = (p.lanes + tl - 1) / tl;
  l.chunks = 1;
  l.chunk_len = p.n;
  const std::int64_t groups = p.batch * l.tiles;
  const std::int64_t sms = multiprocessors(device);
  // Too few groups to fill the GPU, and long ones: cut n into chunks (stats, then write), enough
  // of them that the blocks come in many small waves.
  if (groups < 2 * sms && units > r * kUnitsPerThread * 2) {
    const std::int64_t want = (16 * sms + groups - 1) / groups;
    const std::int64_t most = units / (r * kUnitsPerThread);
    l.chunks = std::max<std::int64_t>(1, std::min(want, most));
    l.chunk_len = (units + l.chunks - 1) / l.chunks * V;
    l.chunks = (p.n + l.chunk_len - 1) / l.chunk_len;
  }
  const std::int64_t per_thread = (l.chunk_len / V + r - 1) / r;
  const std::int64_t cache_bytes = tl * r * per_thread * unit_bytes;
  l.cache = l.chunks == 1 && cache_bytes <= kCacheBytes;
  const auto smem = static_cast<std::size_t>(reduction_bytes<Op>(tl, r) + (l.cache ? cache_bytes : 0));

  // Contiguous rows of a few packs per thread: held in registers (register_row_kernel).
  if constexpr (V > 1) {
    if (l.chunks == 1 && tl == 1 && p.batch <= 0x7fffffff) {
      const dim3 grid(static_cast<unsigned>(p.batch)), block(1, static_cast<unsigned>(r));
      cudaStream_t stream = static_cast<cudaStream_t>(smx::cuda::current_stream());
      if (per_thread <= 4) {
        register_row_kernel<Op, V, 4><<<grid, block, 0, stream>>>(p);
        check(cudaGetLastError(), "launching the softmax kernel");
        return;
      }
      if (per_thread <= 8 && Op::kInputs == 1) {
        register_row_kernel<Op, V, 8><<<grid, block, 0, stream>>>(p);
        check(cudaGetLastError(), "launching the softmax kernel");
        return;
      }
    }
  }
  static bool opted_in = false;  // per instantiation: allow more than the default 48 KiB
  if (!opted_in) {
    check(cudaFuncSetAttribute(group_kernel<Op, V>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                               static_cast<int>(kCacheBytes + 16 * 1024)),
          "raising the shared-memory limit");
    opted_in = true;
  }
  const dim3 block(static_cast<unsigned>(tl), static_cast<unsigned>(r));
  const std::int64_t blocks = groups * l.chunks;
  if (blocks > 0x7fffffff) throw RuntimeError("smx CUDA: the problem needs more than 2^31 blocks");
  const auto grid = static_cast<unsigned>(blocks);
  cudaStream_t stream = static_cast<cudaStream_t>(smx::cuda::current_stream());
  if (l.chunks == 1) {
    l.mode = LaunchMode::kFull;
    group_kernel<Op, V><<<grid, block, smem, stream>>>(p, l);
    check(cudaGetLastError(), "launching the softmax kernel");
    return;
  }
  // Stream-ordered scratch for the per-chunk statistics: no host synchronisation.
  const std::size_t partial_bytes = sizeof(Stat) * static_cast<std::size_t>(p.batch * l.chunks * p.lanes);
  check(cudaMallocAsync(&l.partials, partial_bytes, stream), "allocating softmax scratch");
  l.mode = LaunchMode::kStats;
  group_kernel<Op, V><<<grid, block, smem, stream>>>(p, l);
  const cudaError_t stats_error = cudaGetLastError();
  if (stats_error == cudaSuccess) {
    l.mode = LaunchMode::kWrite;
    group_kernel<Op, V><<<grid, block, smem, stream>>>(p, l);
  }
  const cudaError_t write_error = cudaGetLastError();
  check(cudaFreeAsync(l.partials, stream), "freeing softmax scratch");
  check(stats_error, "launching the softmax statistics kernel");
  check(write_error, "launching the softmax kernel");
}

template <class Op>
void run(const Problem& p, int device) {
  using T = typename Op::Elem;
  constexpr int kPack = static_cast<int>(16 / sizeof(T));
  if (pack_width<T>(p, Op::kInputs + 1) == kPack) return launch<Op, kPack>(p, device);
  launch<Op, 1>(p, device);
}

template <typename T>
void forward_typed(Op kind, const Problem& p, int device) {
  switch (kind) {
    case Op::kSoftmax: return run<ForwardOp<T, 0>>(p, device);
    case Op::kLogSoftmax: return run<ForwardOp<T, 1>>(p, device);
    case Op::kSoftmin: return run<ForwardOp<T, 2>>(p, device);
    default: throw RuntimeError("smx CUDA: not a forward op");
  }
}

template <typename T>
void backward_typed(Op kind, const Problem& p, int device) {
  if (kind == Op::kSoftmaxBackward) return run<BackwardOp<T, 0>>(p, device);
  return run<BackwardOp<T, 1>>(p, device);
}

}  // namespace

}  // namespace smx::detail::cuda

namespace smx::detail {

using cuda::backward_typed;
using cuda::DeviceGuard;
using cuda::forward_typed;
using cuda::make_problem;
using cuda::Problem;

void device_forward(Op kind, Dtype dtype, const Plan& plan, void* const base[2], int device) {
  const DeviceGuard guard(device);
  const Problem p = make_problem(plan, base, 2);
  switch (dtype) {
    case kFloat32: return forward_typed<float>(kind, p, device);
    case kFloat64: return forward_typed<double>(kind, p, device);
    case kFloat16: return forward_typed<__half>(kind, p, device);
    case kBFloat16: return forward_typed<__nv_bfloat16>(kind, p, device);
    default: throw RuntimeError("smx CUDA: softmax needs a floating dtype");
  }
}

void device_backward(Op kind, Dtype dtype, const Plan& plan, void* const base[3], int device) {
  const DeviceGuard guard(device);
  const Problem p = make_problem(plan, base, 3);
  switch (dtype) {
    case kFloat32: return backward_typed<float>(kind, p, device);
    case kFloat64: return backward_typed<double>(kind, p, device);
    case kFloat16: return backward_typed<__half>(kind, p, device);
    case kBFloat16: return backward_typed<__nv_bfloat16>(kind, p, device);
    default: throw RuntimeError("smx CUDA: softmax backward needs a floating dtype");
  }
}

}  // namespace smx::detail
