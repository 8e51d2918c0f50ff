// Strong and weak scaling of smx::dist::softmax (docs/distributed.md).
// Run under mpirun, one thread per rank (SMX_NUM_THREADS=1), e.g.
//   SMX_NUM_THREADS=1 tests/mpi/mpirun.sh -n 2 build/release/src/dist/smx_dist_bench
// Each figure is the median over --reps calls of the slowest rank's time for one call
// (MPI_Barrier before, MPI_Allreduce(MAX) of the elapsed times after).
//   strong: a [G, N] float32 tensor, softmax over dim 1 sharded evenly between the ranks;
//   weak:   [G, N / 2] per rank (the dim grows with the ranks);
//   latency: [G, 1] per rank - the header and statistics exchanges and nothing else to speak of;
//   local:  plain smx::softmax on the whole [G, N] tensor in one process (rank 0 only), the
//           baseline that strong scaling is measured against.
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "smx/dist.h"
#include "smx/smx.h"

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Median over reps of the slowest rank's seconds for fn().
double time_collective(int reps, const std::function<void()>& fn) {
  std::vector<double> t;
  fn();  // warm-up (first-touch of the output pages, MPI connections)
  for (int r = 0; r < reps; ++r) {
    MPI_Barrier(MPI_COMM_WORLD);
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    const double mine = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    double slowest = 0;
    MPI_Allreduce(&mine, &slowest, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    t.push_back(slowest);
  }
  return median(t);
}

smx::Tensor filled(std::int64_t g, std::int64_t n, unsigned seed) {
  smx::Tensor t = smx::empty(smx::Size{g, n}, smx::kFloat32);
  float* p = t.data<float>();
  unsigned s = seed;
  for (std::int64_t i = 0; i < t.numel(); ++i) {
    s = s * 1664525u + 1013904223u;
    p[i] = static_cast<float>(s >> 8) * (8.0f / 16777216.0f) - 4.0f;
  }
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  std::int64_t g = 16, n = std::int64_t{1} << 20;
  int reps = 9;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--groups") g = std::atoll(argv[i + 1]);
    else if (a == "--n") n = std::atoll(argv[i + 1]);
    else if (a == "--reps") reps = std::atoi(argv[i + 1]);
  }
  const std::int64_t begin = n * rank / size, end = n * (rank + 1) / size;
  const smx::Tensor strong = filled(g, end - begin, 1u + static_cast<unsigned>(rank));
  const smx::Tensor weak = filled(g, n / 2, 7u + static_cast<unsigned>(rank));
  const smx::Tensor tiny = filled(g, 1, 9u);
  smx::Tensor out;
  const double t_strong = time_collective(reps, [&] { out = smx::dist::softmax(strong, 1, MPI_COMM_WORLD); });
  const double t_weak = time_collective(reps, [&] { out = smx::dist::softmax(weak, 1, MPI_COMM_WORLD); });
  const double t_latency = time_collective(reps * 10, [&] { out = smx::dist::softmax(tiny, 1, MPI_COMM_WORLD); });
  double t_local = 0;
  if (rank == 0) {
    const smx::Tensor whole = filled(g, n, 3u);
    std::vector<double> t;
    out = smx::softmax(whole, 1);
    for (int r = 0; r < reps; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      out = smx::softmax(whole, 1);
      t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    t_local = median(t);
    const double stats_bytes = 16.0 * static_cast<double>(g) * size, header_bytes = 64.0 * size;
    std::printf("ranks %d, threads/rank %d, float32, G=%lld groups, N=%lld (softmax over the sharded dim)\n", size,
                smx::get_num_threads(), static_cast<long long>(g), static_cast<long long>(n));
    std::printf("  one process, smx::softmax [G, N]          %9.3f ms\n", t_local * 1e3);
    std::printf("  strong: smx::dist [G, N/%d] per rank       %9.3f ms  (speedup %.2fx over one process)\n", size,
                t_strong * 1e3, t_local / t_strong);
    std::printf("  weak:   smx::dist [G, %lld] per rank     %9.3f ms  (efficiency: the 1-rank time / this)\n",
                static_cast<long long>(n / 2), t_weak * 1e3);
    std::printf("  latency: smx::dist [G, 1] per rank        %9.3f ms  (received per rank per call: %.0f B header + %.0f B stats)\n",
                t_latency * 1e3, header_bytes, stats_bytes);
  }
  MPI_Finalize();
  return 0;
}
