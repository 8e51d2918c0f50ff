// Many threads calling the allocating ops at once: they share the thread pool (one job at a time)
// and the block cache, and every result must be the bits a lone call gives (results do not
// depend on the thread count, see thread_pool_test's Threads.*) and close to a float64 softmax.
#include <gtest/gtest.h>

#include <cmath>
#include <thread>
#include <vector>

#include "smx/smx.h"
#include "test_support.h"
#include "tolerances.h"

namespace smx {
namespace {

struct Case {
  Tensor x;
  std::int64_t dim;
  std::vector<double> expected;
};

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
      const auto want = test::oracle(test::values(x), shape, dim, test::Op::kSoftmax);
      ASSERT_LE(test::excess(cases.back().expected, want,
                             test::tolerance(test::Pass::kForward, test::Reference::kOracle, kFloat32)),
                1.0);
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
