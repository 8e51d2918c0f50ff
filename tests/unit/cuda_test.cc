// The CUDA backend against the CPU path (which the other suites test against PyTorch): every op,
// dtype and kernel shape (short and long rows, cached, uncached and chunked columns, strided
// views), NaN/inf groups, errors, printing and streams. Without a GPU the device tests skip with
// "no CUDA device" and only the error paths run.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "kernel_oracle.h"
#include "smx/smx.h"
#include "tolerances.h"

#if defined(SMX_TEST_CUDA_RUNTIME)
#include <cuda_runtime.h>
#endif

namespace {

using smx::Device;
using smx::Dtype;
using smx::Tensor;

const Device kGpu(smx::kCUDA, 0);

#define SKIP_WITHOUT_GPU() \
  if (!smx::cuda::is_available()) GTEST_SKIP() << "no CUDA device"

// The CUDA results against the long-double oracle (tests/kernel_oracle.h), as float64 tensors
// of the input's shape, within the "device" rows of tests/tolerances.h.
smx::test::Tolerance tolerance(Dtype dtype, smx::test::Pass pass = smx::test::Pass::kForward) {
  return smx::test::tolerance(pass, smx::test::Reference::kDevice, dtype);
}

Tensor as_tensor(const std::vector<double>& v, const Tensor& like) {
  Tensor t = smx::empty(like.sizes(), smx::kFloat64);
  std::copy(v.begin(), v.end(), t.data<double>());
  return t;
}

smx::test::Op test_op(smx::Op op) {
  return op == smx::Op::kSoftmax ? smx::test::Op::kSoftmax
         : op == smx::Op::kLogSoftmax ? smx::test::Op::kLogSoftmax : smx::test::Op::kSoftmin;
}

Tensor forward_reference(smx::Op op, const Tensor& x, std::int64_t dim) {
  const std::int64_t d = x.dim() == 0 ? 0 : (dim < 0 ? dim + x.dim() : dim);
  return as_tensor(smx::test::forward_oracle(smx::test::values(x), x.sizes().vec(), d, test_op(op)).y, x);
}

Tensor backward_reference(bool log, const Tensor& g, const Tensor& y, std::int64_t dim) {
  const std::int64_t d = dim < 0 ? dim + g.dim() : dim;
  return as_tensor(smx::test::backward_oracle(smx::test::values(g), smx::test::values(y), g.sizes().vec(), d, log).dx, g);
}

// Element-wise |a - b| <= atol + rtol * |b|, NaN where the other is NaN; reports the worst.
void expect_close(const Tensor& gpu_result, const Tensor& reference, smx::test::Tolerance tol, const std::string& what) {
  ASSERT_TRUE(gpu_result.is_cuda()) << what;
  ASSERT_EQ(gpu_result.sizes(), reference.sizes()) << what;
  const Tensor a = gpu_result.to(smx::kCPU).to(smx::kFloat64).contiguous();
  const Tensor b = reference.to(smx::kFloat64).contiguous();
  const double* pa = a.data<double>();
  const double* pb = b.data<double>();
  std::int64_t bad = 0, first_bad = -1;
  for (std::int64_t i = 0; i < a.numel(); ++i) {
    const bool ok = (std::isnan(pa[i]) && std::isnan(pb[i])) || pa[i] == pb[i] ||
                    std::fabs(pa[i] - pb[i]) <= tol.atol + tol.rtol * std::fabs(pb[i]);
    if (!ok && bad++ == 0) first_bad = i;
  }
  EXPECT_EQ(bad, 0) << what << ": " << bad << " of " << a.numel() << " elements differ; first at flat index "
                    << first_bad << ": cuda " << (first_bad >= 0 ? pa[first_bad] : 0.0) << " reference "
                    << (first_bad >= 0 ? pb[first_bad] : 0.0);
}

struct Case {
  std::vector<std::int64_t> sizes;
  std::int64_t dim;
  const char* why;  // which kernel path the shape exercises
};

// Shapes chosen from the launcher's rules (src/cuda/softmax_cuda.cu): block sizes, rows held in
// registers (up to 4 or 8 packs per thread), the shared-memory cache limit (96 KiB), and chunking
// when there are fewer groups than 2 x the SM count (132 on an H100).
const std::vector<Case> kCases = {
    {{3, 2}, 0, "the seed, columns"},
    {{3, 2}, 1, "the seed, rows"},
    {{7}, 0, "one short row"},
    {{}, 0, "0-d"},
    {{64, 1000}, 1, "rows in registers (4 packs per thread)"},
    {{400, 12000}, 1, "rows in registers (8 packs per thread)"},
    {{300, 20000}, 1, "rows cached in shared memory"},
    {{5, 33}, -1, "rows shorter than a block"},
    {{3, 12672}, 1, "long rows, few groups: chunked"},
    {{1, 300001}, 0, "one long row: chunked, odd length"},
    {{300, 30000}, 1, "many rows, cache over the limit: uncached"},
    {{256, 7, 64}, 1, "columns, cached"},
    {{1000, 40}, 0, "columns, a partial lane tile"},
    {{4096, 64}, 0, "tall columns, few tiles: chunked"},
    {{3, 5, 2}, 1, "two lanes"},
    {{20000, 3}, 0, "tall narrow columns: chunked"},
    {{300, 5000, 12}, 1, "columns over the cache limit with many groups: uncached"},
    {{2, 3, 4, 5, 6}, 2, "rank 5, middle dim"},
};

const std::vector<Dtype> kDtypes = {smx::kFloat32, smx::kFloat64, smx::kFloat16, smx::kBFloat16};

std::string describe(const Case& c, Dtype dtype, const char* op) {
  return std::string(op) + " " + smx::Size(c.sizes).str() + " dim " + std::to_string(c.dim) + " " +
         smx::dtype_name(dtype) + " (" + c.why + ")";
}

TEST(CudaForward, EveryOpDtypeAndKernelPathMatchesTheCpu) {
  SKIP_WITHOUT_GPU();
  const smx::Op ops[] = {smx::Op::kSoftmax, smx::Op::kLogSoftmax, smx::Op::kSoftmin};
  std::uint64_t seed = 1;
  for (const Case& c : kCases) {
    for (Dtype dtype : kDtypes) {
      const Tensor x = smx::randn(smx::Size(c.sizes), seed++, dtype);
      const Tensor xg = x.to(kGpu);
      for (smx::Op op : ops) {
        expect_close(smx::forward(op, xg, c.dim), forward_reference(op, x, c.dim), tolerance(dtype),
                     describe(c, dtype, smx::op_name(op)));
      }
    }
  }
}

TEST(CudaBackward, BothOpsEveryDtypeAndKernelPathMatchTheCpu) {
  SKIP_WITHOUT_GPU();
  std::uint64_t seed = 100;
  for (const Case& c : kCases) {
    for (Dtype dtype : kDtypes) {
      const Tensor x = smx::randn(smx::Size(c.sizes), seed++, dtype);
      const Tensor g = smx::randn(smx::Size(c.sizes), seed++, dtype);
      const smx::test::Tolerance tol = tolerance(dtype, smx::test::Pass::kBackward);
      const Tensor y = smx::softmax(x, c.dim);  // (any y: the oracle takes it as given)
      expect_close(smx::softmax_backward(g.to(kGpu), y.to(kGpu), c.dim), backward_reference(false, g, y, c.dim), tol,
                   describe(c, dtype, "softmax_backward"));
      const Tensor ly = smx::log_softmax(x, c.dim);
      expect_close(smx::log_softmax_backward(g.to(kGpu), ly.to(kGpu), c.dim), backward_reference(true, g, ly, c.dim),
                   tol, describe(c, dtype, "log_softmax_backward"));
    }
  }
}

TEST(CudaForward, StridedViewsAndStridedOutputs) {
  SKIP_WITHOUT_GPU();
  const Tensor base = smx::randn({8, 50, 6}, 7);
  const Tensor base_gpu = base.to(kGpu);
  const std::vector<std::pair<Tensor, Tensor>> views = {
      {base.transpose(0, 2), base_gpu.transpose(0, 2)},
      {base.narrow(1, 3, 40), base_gpu.narrow(1, 3, 40)},
      {base.permute({1, 2, 0}), base_gpu.permute({1, 2, 0})},
      {base.select(2, 4), base_gpu.select(2, 4)},
  };
  for (std::size_t v = 0; v < views.size(); ++v) {
    const auto& [cpu, gpu] = views[v];
    ASSERT_TRUE(gpu.is_cuda());
    for (std::int64_t d = 0; d < cpu.dim(); ++d) {
      const std::string what = "view " + std::to_string(v) + " dim " + std::to_string(d);
      expect_close(smx::softmax(gpu, d), forward_reference(smx::Op::kSoftmax, cpu, d), tolerance(smx::kFloat32), what);
      // Into a transposed output: out's strides differ from x's.
      Tensor out = smx::empty(cpu.sizes(), smx::kFloat32, kGpu);
      smx::log_softmax_out(out, gpu, d);
      expect_close(out, forward_reference(smx::Op::kLogSoftmax, cpu, d), tolerance(smx::kFloat32), what + " (out=)");
    }
  }
  // In place.
  Tensor inplace = base.to(kGpu);
  smx::softmax_out(inplace, inplace, 1);
  expect_close(inplace, forward_reference(smx::Op::kSoftmax, base, 1), tolerance(smx::kFloat32), "in place");
}

TEST(CudaForward, NanAndInfinityGroupsAsPyTorch) {
  SKIP_WITHOUT_GPU();
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  // The first five rows: one NaN, one +inf, all -inf, a third -inf, plain. 5 rows take the
  // chunked launch, 300 the one-block-per-row kernels; 3000 elements fit in registers, 20000 in
  // shared memory.
  for (const std::int64_t rows : {5, 300}) {
    for (const std::int64_t n : {3000, 20000}) {
      std::vector<double> values;
      for (std::int64_t row = 0; row < rows; ++row) {
        for (std::int64_t i = 0; i < n; ++i) {
          double v = std::sin(static_cast<double>(i) * 0.37 + static_cast<double>(row));
          if (row == 0 && i == n / 2 + 7) v = nan;
          if (row == 1 && i == 5) v = inf;
          if (row == 2) v = -inf;
          if (row == 3 && i % 3 == 0) v = -inf;
          values.push_back(v);
        }
      }
      for (Dtype dtype : kDtypes) {
        const Tensor x = smx::tensor(values, dtype).view({rows, n});
        const Tensor xg = x.to(kGpu);
        for (std::int64_t d : {0, 1}) {
          const std::string what = smx::dtype_name(dtype) + " " + x.sizes().str() + " dim " + std::to_string(d);
          for (smx::Op op : {smx::Op::kSoftmax, smx::Op::kLogSoftmax, smx::Op::kSoftmin}) {
            expect_close(smx::forward(op, xg, d), forward_reference(op, x, d), tolerance(dtype),
                         std::string(smx::op_name(op)) + " " + what);
          }
        }
      }
    }
  }
}

TEST(CudaForward, SeedExamplePrintsAsPyTorchOnCuda) {
  SKIP_WITHOUT_GPU();
  const Tensor a = smx::tensor({1, 2, 4, 3, 5, 5}).view({3, 2}).to(kGpu);
  smx::nn::Softmax softmax(0);
  const Tensor y = softmax(a);
  EXPECT_TRUE(y.is_cuda());
  EXPECT_EQ(y.repr(),
            "tensor([[0.0132, 0.0420],\n"
            "        [0.2654, 0.1142],\n"
            "        [0.7214, 0.8438]], device='cuda:0')");
  // Each column sums to 1 within float32 rounding (on the GPU, as on PyTorch's, it may print 1.0000).
  const Tensor sums = y.sum(0);
  EXPECT_TRUE(sums.is_cuda());
  EXPECT_TRUE(smx::allclose(sums, smx::ones({2}), 0, 2e-7)) << sums;
  EXPECT_EQ(smx::softmax(smx::empty({0, 3}, smx::kFloat64, kGpu), 1).repr(),
            "tensor([], device='cuda:0', size=(0, 3), dtype=torch.float64)");
  EXPECT_EQ(smx::softmax(smx::scalar_tensor(3.0).to(kGpu), 0).item<float>(), 1.0f);
}

TEST(CudaForward, ErrorsAsOnTheCpu) {
  SKIP_WITHOUT_GPU();
  const Tensor x = smx::randn({4, 5}, 3).to(kGpu);
  EXPECT_THROW(smx::softmax(x, 2), smx::IndexError);
  EXPECT_THROW(smx::softmax(smx::arange(6, smx::kInt64).to(kGpu), 0), smx::RuntimeError);
  Tensor cpu_out = smx::empty({4, 5});
  try {
    smx::softmax_out(cpu_out, x, 1);
    ADD_FAILURE() << "no error for mixed devices";
  } catch (const smx::RuntimeError& e) {
    EXPECT_EQ(std::string(e.what()),
              "Expected all tensors to be on the same device, but found at least two devices, cpu and cuda:0!");
  }
  EXPECT_THROW(smx::softmax_backward(x, x.to(smx::kCPU), 1), smx::RuntimeError);
  EXPECT_THROW(x.to(Device(smx::kCUDA, smx::cuda::device_count())), smx::RuntimeError);
}

TEST(CudaDevice, CopiesRoundTripAndFromBlobBorrows) {
  SKIP_WITHOUT_GPU();
  const Tensor x = smx::randn({3, 4, 5}, 9, smx::kFloat64);
  const Tensor back = x.transpose(0, 2).to(kGpu).to(smx::kCPU);
  EXPECT_TRUE(smx::allclose(back, x.transpose(0, 2), 0, 0));
  const Tensor g = x.to(kGpu);
  const Tensor borrowed = smx::from_blob(g.data_ptr(), {3, 20}, smx::kFloat64, kGpu);
  EXPECT_TRUE(borrowed.is_cuda());
  EXPECT_TRUE(smx::allclose(borrowed.to(smx::kCPU), x.view({3, 20}), 0, 0));
}

#if defined(SMX_TEST_CUDA_RUNTIME)
TEST(CudaStream, CallsRunOnTheCurrentStream) {
  SKIP_WITHOUT_GPU();
  cudaStream_t stream = nullptr;
  ASSERT_EQ(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), cudaSuccess);
  smx::cuda::set_current_stream(stream);
  EXPECT_EQ(smx::cuda::current_stream(), static_cast<void*>(stream));
  const Tensor x = smx::randn({512, 2048}, 11);
  const Tensor y = smx::softmax(x.to(kGpu), 1);  // upload, kernel and readback all on `stream`
  smx::cuda::synchronize();
  expect_close(y, forward_reference(smx::Op::kSoftmax, x, 1), tolerance(smx::kFloat32), "on a created stream");
  smx::cuda::set_current_stream(nullptr);
  ASSERT_EQ(cudaStreamDestroy(stream), cudaSuccess);
}
#endif

// These run everywhere: what a user sees without a GPU (or without a CUDA build).
TEST(CudaDevice, DeviceNamesParseAndPrintAsTorchDevice) {
  EXPECT_EQ(Device("cpu").str(), "cpu");
  EXPECT_EQ(Device("cuda").str(), "cuda:0");
  EXPECT_EQ(Device("cuda:3").str(), "cuda:3");
  EXPECT_EQ(Device("cuda:3").index(), 3);
  EXPECT_TRUE(Device("cuda:1").is_cuda());
  EXPECT_EQ(smx::randn({2}, 1).device(), Device("cpu"));
  for (const char* bad : {"gpu", "cuda:", "cuda:x", "cuda0", "CPU"}) {
    EXPECT_THROW(Device{std::string(bad)}, smx::RuntimeError) << bad;
  }
}

TEST(CudaDevice, WithoutAGpuMovingToCudaIsAClearError) {
  if (smx::cuda::is_available()) GTEST_SKIP() << "a CUDA device is present";
  EXPECT_EQ(smx::cuda::device_count(), 0);
  try {
    (void)smx::randn({2, 2}, 1).to(kGpu);
    ADD_FAILURE() << "no error";
  } catch (const smx::RuntimeError& e) {
    const std::string expected = smx::cuda::is_built()
                                     ? "No CUDA GPUs are available"
                                     : "smx was not compiled with CUDA enabled (configure with -DSMX_CUDA=ON and a "
                                       "CUDA toolkit)";
    EXPECT_EQ(std::string(e.what()), expected);
  }
}

}  // namespace
