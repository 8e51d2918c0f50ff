// smx_kernel_probe: small measurements of the kernels, outside smx_bench:
//   run R C DIM DTYPE OP REPS         OP REPS times on an R x C tensor, one thread: for
//                                     instruction counts (bench/instruction_count.sh runs it
//                                     under valgrind; perf counters are not available in the VM)
//   time R C DIM DTYPE OP REPS THREADS  median and min of OP's time and of a 2-thread memcpy
//   dump FILE [THREADS]               the outputs of many shapes/dtypes/dims/ops (NaN/inf included,
//                                     2-d transposed views too) to FILE: cmp two builds' files
//                                     for a bitwise comparison
// DTYPE: f32 f64 f16 bf16; OP: softmax log softmin bwd (lbwd: log_softmax backward, dump only).
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>
#include <algorithm>
#include <chrono>
#include <thread>
#include <sys/mman.h>
#include "smx/smx.h"
using namespace smx;
static Dtype dt(const std::string& s) {
  if (s == "f64") return kFloat64;
  if (s == "f16") return kFloat16;
  if (s == "bf16") return kBFloat16;
  return kFloat32;
}
static Tensor make(const Size& sz, Dtype d, unsigned seed, bool specials, double scale) {
  Tensor t64 = empty(sz, kFloat64);
  double* p = static_cast<double*>(t64.data_ptr());
  std::mt19937 g(seed);
  std::normal_distribution<double> nd(0.0, scale);
  for (std::int64_t i = 0; i < t64.numel(); ++i) p[i] = nd(g);
  if (specials && t64.numel() > 50) {
    p[7] = -INFINITY;
    p[t64.numel() / 3] = -INFINITY;
    p[t64.numel() - 5] = NAN;
    p[t64.numel() / 2] = INFINITY;
  }
  return t64.to(d);
}
static Tensor run_op(const std::string& op, const Tensor& x, std::int64_t dim) {
  if (op == "softmax") return softmax(x, dim);
  if (op == "log") return log_softmax(x, dim);
  if (op == "softmin") return softmin(x, dim);
  Tensor y = softmax(x, dim);
  Tensor g = make(x.sizes(), x.dtype(), 99, false, 1.0);
  if (op == "bwd") return softmax_backward(g, y, dim);
  Tensor ly = log_softmax(x, dim);
  return log_softmax_backward(g, ly, dim);
}
int main(int argc, char** argv) {
  set_num_threads(1);
  std::string mode = argv[1];
  if (mode == "run") {
    Size sz{std::atoll(argv[2]), std::atoll(argv[3])};
    const std::int64_t dim = std::atoll(argv[4]);
    Dtype d = dt(argv[5]);
    std::string op = argv[6];
    int reps = std::atoi(argv[7]);
    Tensor x = make(sz, d, 1, false, 3.0);
    Tensor y = empty(sz, d);
    Tensor g = make(sz, d, 2, false, 1.0);
    Tensor yy = softmax(x, dim);
    for (int r = 0; r < reps; ++r) {
      if (op == "bwd") softmax_backward_out(y, g, yy, dim);
      else if (op == "log") log_softmax_out(y, x, dim);
      else softmax_out(y, x, dim);
    }
    return 0;
  }
  if (mode == "time") {  // time R C DIM DTYPE OP REPS THREADS: median op time / median 2-thread copy
    Size sz{std::atoll(argv[2]), std::atoll(argv[3])};
    const std::int64_t dim = std::atoll(argv[4]);
    Dtype d = dt(argv[5]);
    std::string op = argv[6];
    int reps = std::atoi(argv[7]);
    set_num_threads(std::atoi(argv[8]));
    Tensor x = make(sz, d, 1, false, 3.0);
    Tensor y = empty(sz, d);
    Tensor g = make(sz, d, 2, false, 1.0);
    Tensor yy = softmax(x, dim);
    const size_t bytes = static_cast<size_t>(x.numel()) * x.element_size();
    madvise(x.data_ptr(), bytes, MADV_HUGEPAGE);
    auto now = [] { return std::chrono::steady_clock::now(); };
    std::vector<double> t_op, t_copy;
    for (int r = 0; r < reps; ++r) {
      auto a = now();
      std::thread th([&] { std::memcpy(y.data_ptr(), x.data_ptr(), bytes / 2); });
      std::memcpy(static_cast<char*>(y.data_ptr()) + bytes / 2, static_cast<char*>(x.data_ptr()) + bytes / 2, bytes - bytes / 2);
      th.join();
      auto b = now();
      if (op == "bwd") softmax_backward_out(y, g, yy, dim);
      else if (op == "log") log_softmax_out(y, x, dim);
      else softmax_out(y, x, dim);
      auto c = now();
      t_copy.push_back(std::chrono::duration<double>(b - a).count());
      t_op.push_back(std::chrono::duration<double>(c - b).count());
    }
    std::sort(t_op.begin(), t_op.end());
    std::sort(t_copy.begin(), t_copy.end());
    std::printf("%s %sx%s dim %s %s: median op %.0f us / copy %.0f us = %.2f; min op %.0f / copy %.0f = %.2f\n", argv[5], argv[2], argv[3], argv[4], argv[6],
                t_op[t_op.size() / 2] * 1e6, t_copy[t_copy.size() / 2] * 1e6, t_op[t_op.size() / 2] / t_copy[t_copy.size() / 2],
                t_op[0] * 1e6, t_copy[0] * 1e6, t_op[0] / t_copy[0]);
    return 0;
  }
  if (argc > 3) set_num_threads(std::atoi(argv[3]));
  FILE* f = std::fopen(argv[2], "wb");
  std::vector<Size> shapes = {{3, 2}, {5, 17}, {2, 1000}, {1, 70000}, {3, 140001}, {1025, 9}, {2000, 40},
                              {1100, 67}, {4096, 3}, {40, 8, 33}, {8191, 2}, {8193, 5}, {17, 65537}, {1, 200000}};
  const char* ops[] = {"softmax", "log", "softmin", "bwd", "lbwd"};
  const char* dts[] = {"f32", "f64", "f16", "bf16"};
  for (const auto& s : shapes)
    for (std::int64_t dim = 0; dim < static_cast<std::int64_t>(s.size()); ++dim)
      for (auto dn : dts)
        for (auto op : ops)
          for (int sp = 0; sp < 2; ++sp) {
            Tensor x = make(s, dt(dn), 3 + sp, sp == 1, sp ? 30.0 : 2.0);
            Tensor y = run_op(op, x, dim);
            std::fwrite(y.data_ptr(), y.element_size(), static_cast<size_t>(y.numel()), f);
            // a non-contiguous view too: the transpose of a 2-d tensor
            if (s.size() == 2 && sp == 0) {
              Tensor xt = x.transpose(0, 1);
              Tensor yt = run_op(op, xt, dim).contiguous();
              std::fwrite(yt.data_ptr(), yt.element_size(), static_cast<size_t>(yt.numel()), f);
            }
          }
  std::fclose(f);
}
