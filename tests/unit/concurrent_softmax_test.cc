// Many threads calling the allocating ops at once: they share the thread pool (one job at a time)
// and the block cache, and every result must be the bits a lone call gives (results do not
// depend on the thread count, see thread_pool_test's Threads.*) and close to a float64 softmax.
#include <gtest/gtest.h>

#include <cmath>
#include <thread>
#include <vector>

#include "smx/smx.h"
#include "test_support.h"

namespace smx {
namespace {

struct Case {
  Tensor x;
  std::int64_t dim;
  std::vector<double> expected;
};

// softmax in double, straight from the definition.
std::vector<double> naive_softmax(const Tensor& x, std::int64_t dim) {
  const auto v = test::values(x);
  const auto rows = x.sizes()[0], cols = x.sizes()[1];
  std::vector<double> out(v.size());
  const std::int64_t groups = dim == 1 ? rows : cols, n = dim == 1 ? cols : rows;
  for (std::int64_t g = 0; g < groups; ++g) {
    auto at = [&](std::int64_t k) { return dim == 1 ? g * cols + k : k * cols + g; };
    double m = -INFINITY, s = 0;
    for (std::int64_t k = 0; k < n; ++k) m = std::max(m, v[at(k)]);
    for (std::int64_t k = 0; k < n; ++k) s += std::exp(v[at(k)] - m);
    for (std::int64_t k = 0; k < n; ++k) out[at(k)] = std::exp(v[at(k)] - m) / s;
  }
  return out;
}

TEST(ConcurrentSoftmax, ManyThreadsGetTheLoneCallsBits) {
  const int saved = get_num_threads();
  set_num_threads(2);
  std::vector<Case> cases;
  const std::vector<std::vector<std::int64_t>> shapes = {{3, 2}, {64, 1000}, {300, 257}, {17, 4096}};
  std::uint64_t seed = 1;
  for (const auto& shape : shapes) {
    for (std::int64_t dim : {0, 1}) {
      Tensor x = randn(Size(shape), seed++);
      cases.push_back({x, dim, test::values(softmax(x, dim))});
      const auto naive = naive_softmax(x, dim);
      ASSERT_LE(test::max_rel_error(cases.back().expected, naive), 1e-5);
    }
  }
  constexpr int kThreads = 6;
  constexpr int kRounds = 40;
  std::vector<int> mismatches(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int r = 0; r < kRounds; ++r) {
        const Case& c = cases[(t + r) % cases.size()];
        const Tensor y = softmax(c.x, c.dim);
        mismatches[t] += test::values(y) != c.expected;
      }
    });
  }
  for (auto& th : threads) th.join();
  set_num_threads(saved);
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(mismatches[t], 0) << "thread " << t;
}

}  // namespace
}  // namespace smx
