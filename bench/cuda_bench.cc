// GPU benchmark: smx's CUDA softmax family against a device-to-device copy of the same bytes,
// timed with CUDA events on one stream (median of the repeats after warm-up calls). Prints a
// CSV row per problem: the copy's time, smx's time, and smx's share of the copy's bandwidth
// (bytes the op must move / its time, over bytes the copy moves / its time).
//
// Usage: smx_cuda_bench [--repeats N] [--only TEXT]   (scripts/device-check.sh runs it; --only
// keeps the problems whose name contains TEXT, e.g. for a profiler)
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "smx/smx.h"

namespace {

void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) {
    std::fprintf(stderr, "cuda_bench: %s: %s\n", what, cudaGetErrorString(status));
    std::exit(1);
  }
}

// Median time in microseconds of `fn`, each repeat timed by its own pair of events.
double median_us(const std::function<void()>& fn, int repeats) {
  cudaEvent_t start, stop;
  check(cudaEventCreate(&start), "event");
  check(cudaEventCreate(&stop), "event");
  for (int i = 0; i < 3; ++i) fn();
  std::vector<double> times;
  for (int i = 0; i < repeats; ++i) {
    check(cudaEventRecord(start), "record");
    fn();
    check(cudaEventRecord(stop), "record");
    check(cudaEventSynchronize(stop), "sync");
    float ms = 0;
    check(cudaEventElapsedTime(&ms, start, stop), "elapsed");
    times.push_back(ms * 1000.0);
  }
  check(cudaEventDestroy(start), "event");
  check(cudaEventDestroy(stop), "event");
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

struct Problem {
  std::string name;
  std::vector<std::int64_t> sizes;
  std::int64_t dim;
  smx::Dtype dtype;
  std::string op;  // softmax, log_softmax, softmax_backward
};

}  // namespace

int main(int argc, char** argv) {
  int repeats = 50;
  std::string only;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--repeats") == 0 && i + 1 < argc) repeats = std::atoi(argv[++i]);
    else if (std::strcmp(argv[i], "--only") == 0 && i + 1 < argc) only = argv[++i];
  }
  if (!smx::cuda::is_available()) {
    std::fprintf(stderr, "cuda_bench: no CUDA device\n");
    return 1;
  }
  const smx::Device gpu(smx::kCUDA, 0);
  const std::vector<Problem> problems = {
      {"seed 3x2 dim 0", {3, 2}, 0, smx::kFloat32, "softmax"},
      {"4096x256 last", {4096, 256}, 1, smx::kFloat32, "softmax"},
      {"4096x1024 last", {4096, 1024}, 1, smx::kFloat32, "softmax"},
      {"4096x4096 last", {4096, 4096}, 1, smx::kFloat32, "softmax"},
      {"4096x12672 last", {4096, 12672}, 1, smx::kFloat32, "softmax"},
      {"8x12x512x512 last", {8, 12, 512, 512}, 3, smx::kFloat32, "softmax"},
      {"128x128256 last", {128, 128256}, 1, smx::kFloat32, "softmax"},
      {"1x16777216 last", {1, 16777216}, 1, smx::kFloat32, "softmax"},
      {"4096x4096 dim 0", {4096, 4096}, 0, smx::kFloat32, "softmax"},
      {"256x256x64 dim 1", {256, 256, 64}, 1, smx::kFloat32, "softmax"},
      {"bf16 4096x4096 last", {4096, 4096}, 1, smx::kBFloat16, "softmax"},
      {"f16 4096x4096 last", {4096, 4096}, 1, smx::kFloat16, "softmax"},
      {"bf16 4096x4096 dim 0", {4096, 4096}, 0, smx::kBFloat16, "softmax"},
      {"log_softmax 4096x4096 last", {4096, 4096}, 1, smx::kFloat32, "log_softmax"},
      {"backward 4096x4096 last", {4096, 4096}, 1, smx::kFloat32, "softmax_backward"},
      {"backward 4096x4096 dim 0", {4096, 4096}, 0, smx::kFloat32, "softmax_backward"},
      {"backward 1x16777216 last", {1, 16777216}, 1, smx::kFloat32, "softmax_backward"},
  };
  std::printf("problem,shape,dim,dtype,op,bytes,copy_us,smx_us,copy_fraction\n");
  std::fflush(stdout);
  for (const Problem& p : problems) {
    if (!only.empty() && p.name.find(only) == std::string::npos) continue;
    const smx::Tensor x = smx::randn(smx::Size(p.sizes), 1, p.dtype).to(gpu);
    smx::Tensor y = smx::empty(x.sizes(), p.dtype, gpu);
    const smx::Tensor g = smx::randn(smx::Size(p.sizes), 2, p.dtype).to(gpu);
    const auto bytes = static_cast<std::size_t>(x.numel()) * x.element_size();
    const double copy = median_us([&] {
      check(cudaMemcpyAsync(y.data_ptr(), x.data_ptr(), bytes, cudaMemcpyDeviceToDevice, nullptr), "copy");
    }, repeats);
    std::function<void()> run;
    double traffic = 2.0;  // bytes moved / tensor bytes: read x, write y
    if (p.op == "softmax") {
      run = [&] { smx::softmax_out(y, x, p.dim); };
    } else if (p.op == "log_softmax") {
      run = [&] { smx::log_softmax_out(y, x, p.dim); };
    } else {
      const smx::Tensor out = smx::softmax(x, p.dim);
      run = [&, out] { smx::softmax_backward_out(y, g, out, p.dim); };
      traffic = 3.0;  // read grad and output, write dx
    }
    const double t = median_us(run, repeats);
    check(cudaGetLastError(), "kernel");
    std::string shape;
    for (auto v : p.sizes) shape += (shape.empty() ? "" : "x") + std::to_string(v);
    std::printf("%s,%s,%lld,%s,%s,%zu,%.2f,%.2f,%.3f\n", p.name.c_str(), shape.c_str(),
                static_cast<long long>(p.dim), smx::dtype_name(p.dtype).c_str(), p.op.c_str(), bytes, copy, t,
                (traffic / 2.0) * copy / t);
    std::fflush(stdout);
  }
  return 0;
}
