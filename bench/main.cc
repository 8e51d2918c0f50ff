// `make bench`: smx against a parallel copy of the same bytes (the physical limit) and against
// the peers a user would pick instead (libtorch, oneDNN, XNNPACK), in one process, on the same
// data and the same number of threads; the median of repeats for each.
//
// The copy is the faster of two copies, a per-thread memcpy and a per-thread copy with
// non-temporal stores: which one wins depends on the size, the CPU and libc's own
// memcpy thresholds, and a baseline slower than the best copy would flatter every ratio. It is
// timed again right before each implementation (both copies in alternation, then the
// implementation), so each ratio divides by a copy measured in the same stretch of a shared
// machine's load, not by one taken minutes earlier. A row whose implementation beats the copy
// by more than 5% out of cache is impossible for a memory-bound op and means the baseline is
// broken; bench/report.py refuses such a run.
//
// The "alloc" rows time the allocating call (smx::softmax vs torch::softmax, a new output each
// time) and then smx's allocating call and its softmax_out on the same shape in alternation
// (their ratio): a loop of allocating calls should cost no more than writing into a buffer the
// caller keeps.
//
// Usage: smx_bench [--threads N] [--csv FILE] [--quick] [--only TEXT] [--smx-only]
//   --only TEXT: problems whose label has TEXT; --smx-only: skip the peers (smx and the copy
//   baseline only, for measuring a kernel change quickly)
#include <pthreadpool.h>
#include <sys/mman.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

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
      {"masked 4096x4096 last (1,S) mask", {4096, 4096}, -1, T::kF32, P::kMaskedSoftmax, false},
      {"causal 8x12x512x512 last", {8, 12, 512, 512}, -1, T::kF32, P::kCausalSoftmax, false},
  };
}

// Softmax over a group of dims, allocating, against a single dim of the same group
// size (4096 groups of 4096 in every row below, so each "dims" row is read against the "dims
// ref" rows): adjacent dims (one strided run), non-adjacent dims with the group innermost
// (rows), and with the group not innermost (columns). `--only dims` runs just these.
std::vector<Problem> dims_problems() {
  auto row = [](std::string label, std::vector<std::int64_t> shape, std::int64_t dim, std::vector<std::int64_t> dims) {
    Problem p{std::move(label), std::move(shape), dim, Type::kF32, Pass::kAllocSoftmax, false};
    p.dims = std::move(dims);
    return p;
  };
  return {
      row("dims ref 4096x4096 last", {4096, 4096}, -1, {}),
      row("dims ref 4096x4096 dim 0", {4096, 4096}, 0, {}),
      row("dims 64x64x64x64 (2,3)", {64, 64, 64, 64}, 0, {2, 3}),
      row("dims 64x64x64x64 (1,3)", {64, 64, 64, 64}, 0, {1, 3}),
      row("dims 64x64x64x64 (0,2)", {64, 64, 64, 64}, 0, {0, 2}),
      row("dims 16x256x16x256 (0,2)", {16, 256, 16, 256}, 0, {0, 2}),
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

// Thread i's share of the bytes, cut at 64-byte boundaries (the buffers are 2 MiB aligned).
std::pair<std::size_t, std::size_t> copy_range(const CopyTask& t, std::size_t i) {
  const std::size_t begin = t.bytes * i / t.parts / 64 * 64;
  const std::size_t end = i + 1 == t.parts ? t.bytes : t.bytes * (i + 1) / t.parts / 64 * 64;
  return {begin, end};
}

void copy_part(void* ctx, std::size_t i) {
  auto* t = static_cast<CopyTask*>(ctx);
  const auto [begin, end] = copy_range(*t, i);
  std::memcpy(t->dst + begin, t->src + begin, end - begin);
}

#if defined(__x86_64__) || defined(__i386__)
// Non-temporal stores skip the read-for-ownership of each destination line that an ordinary
// store costs: the other copy a memory-bound kernel (smx's own large outputs use them) can match.
// AVX when the CPU has it (the target attribute keeps the rest of the file at the baseline ISA),
// else SSE2, which every x86-64 has; the sfence orders the weakly-ordered stores before the pool
// reports the part done.
__attribute__((target("avx"))) void stream_avx(const char* src, char* dst, std::size_t n) {
  std::size_t i = 0;
  for (; i + 128 <= n; i += 128) {
    const __m256i a = _mm256_load_si256(reinterpret_cast<const __m256i*>(src + i));
    const __m256i b = _mm256_load_si256(reinterpret_cast<const __m256i*>(src + i + 32));
    const __m256i c = _mm256_load_si256(reinterpret_cast<const __m256i*>(src + i + 64));
    const __m256i d = _mm256_load_si256(reinterpret_cast<const __m256i*>(src + i + 96));
    _mm256_stream_si256(reinterpret_cast<__m256i*>(dst + i), a);
    _mm256_stream_si256(reinterpret_cast<__m256i*>(dst + i + 32), b);
    _mm256_stream_si256(reinterpret_cast<__m256i*>(dst + i + 64), c);
    _mm256_stream_si256(reinterpret_cast<__m256i*>(dst + i + 96), d);
  }
  _mm_sfence();
  std::memcpy(dst + i, src + i, n - i);
}

void stream_sse2(const char* src, char* dst, std::size_t n) {
  std::size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    for (std::size_t k = 0; k < 64; k += 16) {
      _mm_stream_si128(reinterpret_cast<__m128i*>(dst + i + k),
                       _mm_load_si128(reinterpret_cast<const __m128i*>(src + i + k)));
    }
  }
  _mm_sfence();
  std::memcpy(dst + i, src + i, n - i);
}

// __builtin_cpu_init first: the answer is cached in a static that may be set up before libgcc's
// own constructor has filled in the CPU model.
bool have_avx() {
  static const bool yes = (__builtin_cpu_init(), __builtin_cpu_supports("avx"));
  return yes;
}
#endif

void stream_part(void* ctx, std::size_t i) {
  auto* t = static_cast<CopyTask*>(ctx);
  const auto [begin, end] = copy_range(*t, i);
#if defined(__x86_64__) || defined(__i386__)
  if (have_avx()) stream_avx(t->src + begin, t->dst + begin, end - begin);
  else stream_sse2(t->src + begin, t->dst + begin, end - begin);
#else  // no portable non-temporal store: the memcpy variant stands in (and the min is the same)
  std::memcpy(t->dst + begin, t->src + begin, end - begin);
#endif
}

// The copy baseline, timed now: the medians of the memcpy and the non-temporal copy, timed in
// alternation, and the faster of the two.
struct CopyTimes {
  double memcpy_s;
  double stream_s;
  double best() const { return std::min(memcpy_s, stream_s); }
};

CopyTimes time_copy(pthreadpool_t pool, CopyTask& task, double min_total) {
  const auto [m, s] = paired_median_seconds(
      [&] { pthreadpool_parallelize_1d(pool, copy_part, &task, task.parts, 0); },
      [&] { pthreadpool_parallelize_1d(pool, stream_part, &task, task.parts, 0); }, min_total);
  return {m, s};
}

Runner make_smx_runner(const Problem& p, const Buffers& b) {
  const Dtype dtype = p.type == Type::kF32 ? kFloat32 : kBFloat16;
  const Size size(p.shape);
  Tensor x = from_blob(b.x, size, dtype);
  Tensor out = from_blob(b.out, size, dtype);
  const std::int64_t dim = p.dim;
  if (!p.dims.empty()) {
    const std::vector<std::int64_t> dims = p.dims;
    return [=]() { Tensor y = softmax(x, DimList(dims)); };
  }
  switch (p.pass) {
    case Pass::kSoftmax: return [=]() mutable { softmax_out(out, x, dim); };
    case Pass::kLogSoftmax: return [=]() mutable { log_softmax_out(out, x, dim); };
    case Pass::kBackward: {
      Tensor g = from_blob(b.g, size, dtype);
      return [=]() mutable { softmax_backward_out(out, g, x, dim); };
    }
    case Pass::kAllocSoftmax: return [=]() { Tensor y = softmax(x, dim); };
    case Pass::kMaskedSoftmax: {
      const std::int64_t s = p.shape.back();
      Tensor mask = empty({1, s}, kBool);
      for (std::int64_t j = 0; j < s; ++j) mask.data<bool>()[j] = masked_mask_keeps(j, s);
      return [=]() { Tensor y = masked_softmax(x, mask, dim); };
    }
    case Pass::kCausalSoftmax: {
      MaskedSoftmaxOptions o;
      o.causal = true;
      return [=]() { Tensor y = masked_softmax(x, std::nullopt, dim, o); };
    }
  }
  return std::nullopt;
}

// Plain smx::softmax on the same shape, allocating as masked_softmax does: what the masked rows
// are compared with (the target: within 1.2x).
Runner make_smx_plain_runner(const Problem& p, const Buffers& b) {
  Problem plain = p;
  plain.pass = Pass::kAllocSoftmax;
  return make_smx_runner(plain, b);
}

bool is_masked(Pass p) { return p == Pass::kMaskedSoftmax || p == Pass::kCausalSoftmax; }

// softmax_out into the shared buffer: what an allocating row is compared with.
// For a dims row: softmax_out over the last dim of the same memory seen as (groups, group size),
// the single-dim problem of the same group size, so the pair's ratio is multi-dim / single-dim.
Runner make_smx_out_runner(const Problem& p, const Buffers& b) {
  Problem out = p;
  out.pass = Pass::kSoftmax;
  if (!p.dims.empty()) {
    std::int64_t group = 1;
    for (std::int64_t d : p.dims) group *= p.shape[static_cast<std::size_t>(d < 0 ? d + static_cast<std::int64_t>(p.shape.size()) : d)];
    out.shape = {p.numel() / group, group};
    out.dim = -1;
    out.dims.clear();
  }
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
    case Pass::kMaskedSoftmax: return "masked_softmax";
    case Pass::kCausalSoftmax: return "causal_softmax";
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
  bool smx_only = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--threads" && i + 1 < argc) threads = std::atoi(argv[++i]);
    else if (a == "--csv" && i + 1 < argc) csv_path = argv[++i];
    else if (a == "--quick") min_total = 0.1;
    else if (a == "--only" && i + 1 < argc) only = argv[++i];
    else if (a == "--smx-only") smx_only = true;
    else {
      std::cerr << "usage: smx_bench [--threads N] [--csv FILE] [--quick] [--only TEXT] [--smx-only]\n";
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
  // copy_us: the baseline that row's ratio divides by (the faster of memcpy_us and stream_us,
  // the two copies timed just before that implementation).
  csv << "label,shape,dim,dtype,pass,in_cache,impl,median_us,ratio_to_copy,copy_us,memcpy_us,stream_us\n";
  bool any_broken = false;
  std::printf("smx %s, SIMD target %s, %d threads; times are medians in microseconds, (x) = time / copy time\n\n",
              smx::version(), smx::simd_target(), threads);
  std::printf("%-30s %10s %18s %18s %18s %18s %9s\n", "problem", "copy", "smx", "libtorch", "oneDNN", "XNNPACK",
              "vs best");

  std::vector<Problem> all = problems();
  for (Problem& p : dims_problems()) all.push_back(std::move(p));
  for (const Problem& p : all) {
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
    std::map<std::string, double> times;
    const std::pair<std::string, Runner> impls[] = {
        {"smx", make_smx_runner(p, b)},
        {"libtorch", smx_only ? Runner{} : make_torch_runner(p, b, threads)},
        // oneDNN and XNNPACK have no softmax over a list of dims
        {"oneDNN", smx_only || !p.dims.empty() ? Runner{} : make_dnnl_runner(p, b, threads)},
        {"XNNPACK", smx_only || !p.dims.empty() ? Runner{} : make_xnnpack_runner(p, b, pool)},
    };
    const char* dtype = p.type == Type::kF32 ? "float32" : "bfloat16";
    auto csv_row = [&](const char* pass, const std::string& impl, double t, const CopyTimes& c) {
      csv << '"' << p.label << "\"," << shape_str(p.shape) << ',' << p.dim << ',' << dtype << ',' << pass << ','
          << p.in_cache << ',' << impl << ',' << t * 1e6 << ',' << t / c.best() << ',' << c.best() * 1e6 << ','
          << c.memcpy_s * 1e6 << ',' << c.stream_s * 1e6 << "\n";
    };
    // Each implementation's ratio is to the copy timed just before it; the "copy" row (and the
    // printed copy column) is the one timed next to smx.
    std::vector<std::string> broken;
    std::string line;
    double best_peer = 0;
    CopyTimes smx_copy{0, 0};
    for (const auto& [name, runner] : impls) {
      if (!runner) {
        line += "                n/a";
        continue;
      }
      const CopyTimes c = time_copy(pool, task, min_total);
      const double t = median_seconds(*runner, min_total);
      times[name] = t;
      if (name == "smx") {
        smx_copy = c;
        csv_row(pass_name(p.pass), "copy", c.best(), c);
      }
      if (name != "smx" && (best_peer == 0 || t < best_peer)) best_peer = t;
      if (!p.in_cache && t / c.best() < 0.95) broken.push_back(name);
      char cell[64];
      std::snprintf(cell, sizeof cell, "%.1f (%.2f)", t * 1e6, t / c.best());
      char padded[80];
      std::snprintf(padded, sizeof padded, " %18s", cell);
      line += padded;
      csv_row(pass_name(p.pass), name, t, c);
    }
    std::printf("%-30s %10.1f%s", p.label.c_str(), smx_copy.best() * 1e6, line.c_str());
    if (best_peer > 0) std::printf(" %8.2fx", best_peer / times["smx"]);
    if (p.pass == Pass::kAllocSoftmax) {
      const auto [alloc, out] = paired_median_seconds(*make_smx_runner(p, b), *make_smx_out_runner(p, b), min_total);
      std::printf(p.dims.empty() ? "   paired: smx allocating %.1f, softmax_out %.1f, ratio %.2f"
                                 : "   paired: smx dims %.1f, single dim (same group size) %.1f, ratio %.2f",
                  alloc * 1e6, out * 1e6, alloc / out);
      // Both halves of the pair: their ratio, not the allocating call's separate median above, is
      // what says whether allocating costs more than writing into a kept buffer.
      // dims rows pair the dim-list call with a single-dim softmax_out of the same group size.
      const bool dims = !p.dims.empty();
      csv_row(pass_name(p.pass), dims ? "smx_dims_paired" : "smx_alloc_paired", alloc, smx_copy);
      csv_row(pass_name(Pass::kSoftmax), dims ? "smx_single_dim_out" : "smx_out", out, smx_copy);
    }
    if (is_masked(p.pass)) {
      const auto [masked, plain] =
          paired_median_seconds(*make_smx_runner(p, b), *make_smx_plain_runner(p, b), min_total);
      std::printf("   paired: smx masked %.1f, plain softmax %.1f, ratio %.2f (target <= 1.2)", masked * 1e6,
                  plain * 1e6, masked / plain);
      csv_row(pass_name(p.pass), "smx_masked_paired", masked, smx_copy);
      csv_row(pass_name(Pass::kAllocSoftmax), "smx_plain_paired", plain, smx_copy);
    }
    for (const auto& name : broken) {
      std::printf("   BROKEN BASELINE: %s faster than the copy", name.c_str());
      any_broken = true;
    }
    std::printf("\n");
    std::fflush(stdout);
    std::free(b.x);
    std::free(b.g);
    std::free(b.out);
  }
  pthreadpool_destroy(pool);
  std::printf("\nvs best: the fastest peer's time / smx's time (> 1: smx is faster). copy: the faster of a\n"
              "per-thread memcpy and a non-temporal copy, timed before each implementation (shown: smx's). CSV: %s\n",
              csv_path.c_str());
  if (any_broken) {
    // Not an error of this program: the run still wrote its CSV for inspection, and report.py is
    // the one that refuses it.
    std::printf("BROKEN BASELINE: an out-of-cache implementation ran faster than 0.95x the copy\n");
  }
  return 0;
}
