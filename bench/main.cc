// `make bench`: smx against a parallel memcpy of the same bytes (the physical limit) and against
// the peers a user would pick instead (libtorch, oneDNN, XNNPACK), in one process, on the same
// data and the same number of threads; the median of repeats for each.
//
// The "alloc" rows time the allocating call (smx::softmax vs torch::softmax, a new output each
// time) and then smx's allocating call and its softmax_out on the same shape in alternation
// (their ratio): a loop of allocating calls should cost no more than writing into a buffer the
// caller keeps (issue 9).
//
// Usage: smx_bench [--threads N] [--csv FILE] [--quick] [--only TEXT]  (problems whose label has TEXT)
#include <pthreadpool.h>
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "bench_problem.h"
#include "smx/smx.h"

namespace smx::bench {

std::int64_t Problem::numel() const {
  std::int64_t n = 1;
  for (auto s : shape) n *= s;
  return n;
}

namespace {

std::vector<Problem> problems() {
  using P = Pass;
  using T = Type;
  return {
      {"seed 3x2 dim 0", {3, 2}, 0, T::kF32, P::kSoftmax, true},
      {"4096x4096 last", {4096, 4096}, -1, T::kF32, P::kSoftmax, false},
      {"4096x4096 dim 0", {4096, 4096}, 0, T::kF32, P::kSoftmax, false},
      {"256x256x64 dim 1", {256, 256, 64}, 1, T::kF32, P::kSoftmax, false},
      {"8x12x512x512 last", {8, 12, 512, 512}, -1, T::kF32, P::kSoftmax, false},
      {"1x16777216 last", {1, 16777216}, -1, T::kF32, P::kSoftmax, false},
      {"128x128256 last", {128, 128256}, -1, T::kF32, P::kSoftmax, false},
      {"64x1000 dim 1 (in cache)", {64, 1000}, 1, T::kF32, P::kSoftmax, true},
      {"32x32000 last (in cache)", {32, 32000}, -1, T::kF32, P::kSoftmax, true},
      {"bf16 4096x4096 last", {4096, 4096}, -1, T::kBF16, P::kSoftmax, false},
      {"bf16 4096x4096 dim 0", {4096, 4096}, 0, T::kBF16, P::kSoftmax, false},
      {"log_softmax 4096x4096 last", {4096, 4096}, -1, T::kF32, P::kLogSoftmax, false},
      {"log_softmax 4096x4096 dim 0", {4096, 4096}, 0, T::kF32, P::kLogSoftmax, false},
      {"backward 4096x4096 last", {4096, 4096}, -1, T::kF32, P::kBackward, false},
      {"backward 4096x4096 dim 0", {4096, 4096}, 0, T::kF32, P::kBackward, false},
      {"backward 1x16777216 last", {1, 16777216}, -1, T::kF32, P::kBackward, false},
      {"alloc 4096x4096 last", {4096, 4096}, -1, T::kF32, P::kAllocSoftmax, false},
      {"alloc 4096x4096 dim 0", {4096, 4096}, 0, T::kF32, P::kAllocSoftmax, false},
      {"alloc 64x1000 dim 1 (in cache)", {64, 1000}, 1, T::kF32, P::kAllocSoftmax, true},
  };
}

// Every buffer, for every implementation alike, asks for transparent huge pages (this kernel
// grants them on request only): with 4 KiB pages, walking down a column of a 64 MiB matrix
// touches a new page per row and thrashes the TLB, which measures the page size, not softmax.
void* alloc(std::size_t bytes) {
  constexpr std::size_t kHuge = 2 << 20;
  const std::size_t rounded = (bytes + kHuge - 1) / kHuge * kHuge;
  void* p = std::aligned_alloc(kHuge, rounded);
  if (!p) {
    std::cerr << "smx_bench: out of memory\n";
    std::exit(1);
  }
  ::madvise(p, rounded, MADV_HUGEPAGE);
  return p;
}

// Deterministic values in [-4, 4): plenty of spread for exp, cheap to make.
void fill(void* p, std::int64_t n, Type type, std::uint64_t seed) {
  std::uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;
  for (std::int64_t i = 0; i < n; ++i) {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    const float v = static_cast<float>(static_cast<double>(s >> 11) * 0x1p-53 * 8.0 - 4.0);
    if (type == Type::kF32) static_cast<float*>(p)[i] = v;
    else static_cast<std::uint16_t*>(p)[i] = smx::float_to_bfloat16_bits(v);
  }
}

double median_seconds(const std::function<void()>& fn, double min_total) {
  using clock = std::chrono::steady_clock;
  // Let the previous implementation's idle threads stop spinning first (OpenMP, used by
  // oneDNN, spins for up to 200 ms by default) so nobody is timed against someone else's spin.
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  fn();  // warm up: page faults, lazy initialisation, caches
  fn();
  std::vector<double> times;
  double total = 0;
  while ((total < min_total || times.size() < 5) && times.size() < 500) {
    const auto t0 = clock::now();
    fn();
    const double dt = std::chrono::duration<double>(clock::now() - t0).count();
    times.push_back(dt);
    total += dt;
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

// Medians of a and b timed in alternation (a, b, a, b, ...), so that a noisy machine's slow spells
// hit both alike: for the ratio of two close times, which separate runs cannot resolve.
std::pair<double, double> paired_median_seconds(const std::function<void()>& a, const std::function<void()>& b,
                                                double min_total) {
  using clock = std::chrono::steady_clock;
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  a();
  b();
  a();
  b();
  std::vector<double> ta, tb;
  double total = 0;
  auto time = [](const std::function<void()>& fn) {
    const auto t0 = clock::now();
    fn();
    return std::chrono::duration<double>(clock::now() - t0).count();
  };
  while ((total < 2 * min_total || ta.size() < 5) && ta.size() < 1000) {
    ta.push_back(time(a));
    tb.push_back(time(b));
    total += ta.back() + tb.back();
  }
  std::sort(ta.begin(), ta.end());
  std::sort(tb.begin(), tb.end());
  return {ta[ta.size() / 2], tb[tb.size() / 2]};
}

struct CopyTask {
  const char* src;
  char* dst;
  std::size_t bytes;
  std::size_t parts;
};

void copy_part(void* ctx, std::size_t i) {
  auto* t = static_cast<CopyTask*>(ctx);
  const std::size_t begin = t->bytes * i / t->parts / 64 * 64;
  const std::size_t end = i + 1 == t->parts ? t->bytes : t->bytes * (i + 1) / t->parts / 64 * 64;
  std::memcpy(t->dst + begin, t->src + begin, end - begin);
}

Runner make_smx_runner(const Problem& p, const Buffers& b) {
  const Dtype dtype = p.type == Type::kF32 ? kFloat32 : kBFloat16;
  const Size size(p.shape);
  Tensor x = from_blob(b.x, size, dtype);
  Tensor out = from_blob(b.out, size, dtype);
  const std::int64_t dim = p.dim;
  switch (p.pass) {
    case Pass::kSoftmax: return [=]() mutable { softmax_out(out, x, dim); };
    case Pass::kLogSoftmax: return [=]() mutable { log_softmax_out(out, x, dim); };
    case Pass::kBackward: {
      Tensor g = from_blob(b.g, size, dtype);
      return [=]() mutable { softmax_backward_out(out, g, x, dim); };
    }
    case Pass::kAllocSoftmax: return [=]() { Tensor y = softmax(x, dim); };
  }
  return std::nullopt;
}

// softmax_out into the shared buffer: what an allocating row is compared with.
Runner make_smx_out_runner(const Problem& p, const Buffers& b) {
  Problem out = p;
  out.pass = Pass::kSoftmax;
  return make_smx_runner(out, b);
}

std::string shape_str(const std::vector<std::int64_t>& s) {
  std::string r;
  for (std::size_t i = 0; i < s.size(); ++i) r += (i ? "x" : "") + std::to_string(s[i]);
  return r;
}

const char* pass_name(Pass p) {
  switch (p) {
    case Pass::kSoftmax: return "softmax";
    case Pass::kLogSoftmax: return "log_softmax";
    case Pass::kBackward: return "softmax_backward";
    case Pass::kAllocSoftmax: return "softmax_allocating";
  }
  return "";
}

}  // namespace
}  // namespace smx::bench

int main(int argc, char** argv) {
  using namespace smx::bench;
  int threads = 2;
  std::string csv_path = "build/bench/bench.csv";
  double min_total = 0.5;
  std::string only;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--threads" && i + 1 < argc) threads = std::atoi(argv[++i]);
    else if (a == "--csv" && i + 1 < argc) csv_path = argv[++i];
    else if (a == "--quick") min_total = 0.1;
    else if (a == "--only" && i + 1 < argc) only = argv[++i];
    else {
      std::cerr << "usage: smx_bench [--threads N] [--csv FILE] [--quick] [--only TEXT]\n";
      return 2;
    }
  }
  smx::set_num_threads(threads);
  pthreadpool_t pool = pthreadpool_create(static_cast<std::size_t>(threads));

  std::ofstream csv(csv_path);
  if (!csv) {
    std::cerr << "smx_bench: cannot write " << csv_path << "\n";
    return 1;
  }
  csv << "label,shape,dim,dtype,pass,in_cache,impl,median_us,ratio_to_copy\n";
  std::printf("smx %s, SIMD target %s, %d threads; times are medians in microseconds, (x) = time / copy time\n\n",
              smx::version(), smx::simd_target(), threads);
  std::printf("%-30s %10s %18s %18s %18s %18s %9s\n", "problem", "copy", "smx", "libtorch", "oneDNN", "XNNPACK",
              "vs best");

  for (const Problem& p : problems()) {
    if (p.label.find(only) == std::string::npos) continue;
    const std::size_t bytes = static_cast<std::size_t>(p.numel()) * p.element_bytes();
    Buffers b{alloc(bytes), alloc(bytes), alloc(bytes)};
    fill(b.x, p.numel(), p.type, 1);
    fill(b.g, p.numel(), p.type, 2);
    std::memset(b.out, 0, bytes);
    if (p.pass == Pass::kBackward) {  // backward takes y = softmax(x), not x
      const smx::Dtype dt = p.type == Type::kF32 ? smx::kFloat32 : smx::kBFloat16;
      smx::Tensor x = smx::from_blob(b.x, smx::Size(p.shape), dt);
      smx::softmax_out(x, x, p.dim);
    }
    CopyTask task{static_cast<const char*>(b.x), static_cast<char*>(b.out), bytes, static_cast<std::size_t>(threads)};
    const double copy = median_seconds(
        [&] { pthreadpool_parallelize_1d(pool, copy_part, &task, task.parts, PTHREADPOOL_FLAG_DISABLE_DENORMALS * 0); },
        min_total);
    std::map<std::string, double> times;
    const std::pair<std::string, Runner> impls[] = {
        {"smx", make_smx_runner(p, b)},
        {"libtorch", make_torch_runner(p, b, threads)},
        {"oneDNN", make_dnnl_runner(p, b, threads)},
        {"XNNPACK", make_xnnpack_runner(p, b, pool)},
    };
    const char* dtype = p.type == Type::kF32 ? "float32" : "bfloat16";
    csv << '"' << p.label << "\"," << shape_str(p.shape) << ',' << p.dim << ',' << dtype << ',' << pass_name(p.pass)
        << ',' << p.in_cache << ",copy," << copy * 1e6 << ",1\n";
    std::printf("%-30s %10.1f", p.label.c_str(), copy * 1e6);
    double best_peer = 0;
    for (const auto& [name, runner] : impls) {
      if (!runner) {
        std::printf(" %18s", "n/a");
        continue;
      }
      const double t = median_seconds(*runner, min_total);
      times[name] = t;
      if (name != "smx" && (best_peer == 0 || t < best_peer)) best_peer = t;
      char cell[64];
      std::snprintf(cell, sizeof cell, "%.1f (%.2f)", t * 1e6, t / copy);
      std::printf(" %18s", cell);
      csv << '"' << p.label << "\"," << shape_str(p.shape) << ',' << p.dim << ',' << dtype << ','
          << pass_name(p.pass) << ',' << p.in_cache << ',' << name << ',' << t * 1e6 << ',' << t / copy << "\n";
    }
    if (best_peer > 0) std::printf(" %8.2fx", best_peer / times["smx"]);
    if (p.pass == Pass::kAllocSoftmax) {
      const auto [alloc, out] = paired_median_seconds(*make_smx_runner(p, b), *make_smx_out_runner(p, b), min_total);
      std::printf("   paired: smx allocating %.1f, softmax_out %.1f, ratio %.2f", alloc * 1e6, out * 1e6, alloc / out);
      csv << '"' << p.label << "\"," << shape_str(p.shape) << ',' << p.dim << ',' << dtype << ','
          << pass_name(Pass::kSoftmax) << ',' << p.in_cache << ",smx_out," << out * 1e6 << ',' << out / copy << "\n";
    }
    std::printf("\n");
    std::fflush(stdout);
    std::free(b.x);
    std::free(b.g);
    std::free(b.out);
  }
  pthreadpool_destroy(pool);
  std::printf("\nvs best: the fastest peer's time / smx's time (> 1: smx is faster). CSV: %s\n", csv_path.c_str());
  return 0;
}
