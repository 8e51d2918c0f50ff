// A planned softmax-family problem in the form a CUDA kernel takes by value: operand pointers,
// strides along the softmax dim and across lanes, and the batch dims as sizes and strides (the
// plan of engine/plan.h, flattened to fixed-size arrays). Plain C++: shared by the host
// launcher and the kernels.
#pragma once

#include <cstdint>

namespace smx::detail::cuda {

inline constexpr int kMaxCudaOperands = 3;
// A contiguous tensor needs one batch dim; only views that no merge can simplify need more.
inline constexpr int kMaxBatchDims = 8;

struct Problem {
  void* data[kMaxCudaOperands];  // element [0, 0, ...] of each operand
  std::int64_t n_stride[kMaxCudaOperands];
  std::int64_t lane_stride[kMaxCudaOperands];
  std::int64_t n;
  std::int64_t lanes;
  std::int64_t batch;
  int batch_dims;
  std::int64_t batch_sizes[kMaxBatchDims];  // outermost first
  std::int64_t batch_strides[kMaxCudaOperands][kMaxBatchDims];
};

}  // namespace smx::detail::cuda
