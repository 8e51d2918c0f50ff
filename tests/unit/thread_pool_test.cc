// The thread pool: its setting, a forked child's own workers, and results that are bitwise
// identical for any thread count - on shapes that cross every kernel edge (long rows cut into
// chunks that run in parallel, tall tiled columns split into lane blocks, strided views,
// backward), every dtype.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <cstdint>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "kernel_edges.h"
#include "kernel_oracle.h"
#include "engine/report.h"
#include "runtime/parallel.h"
#include "runtime/tuning.h"
#include "smx/smx.h"
#include "test_support.h"

namespace smx {
namespace {

using detail::kColShortN;
using detail::kColTile;
using detail::kFusedRowMax;

// Restores the thread count a test changed, even when an assertion returns early.
class ThreadCountGuard {
 public:
  ThreadCountGuard() : saved_(get_num_threads()) {}
  ~ThreadCountGuard() { set_num_threads(saved_); }
  ThreadCountGuard(const ThreadCountGuard&) = delete;
  ThreadCountGuard& operator=(const ThreadCountGuard&) = delete;

 private:
  int saved_;
};

struct Case {
  Tensor x;
  std::int64_t dim;
};

// Every result a case has - the three forward ops, both backward passes - in one vector.
std::vector<double> all_results(const Case& c) {
  const Tensor g = randn(c.x.sizes(), 99, c.x.dtype());
  std::vector<double> out;
  auto add = [&out](const Tensor& t) {
    const auto v = test::values(t);
    out.insert(out.end(), v.begin(), v.end());
  };
  const Tensor y = softmax(c.x, c.dim);
  const Tensor ly = log_softmax(c.x, c.dim);
  add(y);
  add(ly);
  add(softmin(c.x, c.dim));
  add(softmax_backward(g, y, c.dim));
  add(log_softmax_backward(g, ly, c.dim));
  return out;
}

std::string describe(const Case& c) {
  std::ostringstream os;
  os << dtype_name(c.x.dtype()) << " shape " << c.x.sizes() << " dim " << c.dim;
  return os.str();
}

void expect_identical_for_thread_counts(const std::vector<Case>& cases) {
  ThreadCountGuard guard;
  for (const Case& c : cases) {
    set_num_threads(1);
    const auto one = all_results(c);
    for (int threads : {2, 3, 7}) {
      set_num_threads(threads);
      EXPECT_TRUE(test::same_values(all_results(c), one)) << threads << " threads vs 1, " << describe(c);
    }
  }
}

// Long rows: one row (its chunks run in parallel), three rows (rows in parallel), a strided
// view; lengths just past one and two chunks, with a second chunk crossing a stats block, and
// NaN and -inf in a long row.
TEST(Threads, LongRowsAreIdenticalForAnyThreadCount) {
  const std::int64_t past_block = kFusedRowMax + detail::edges::kStatsBlockUsed + 1;
  std::vector<Case> cases;
  for (Dtype dtype : {kFloat32, kFloat64, kFloat16, kBFloat16}) {
    cases.push_back({randn({1, 2 * kFusedRowMax + 1}, 1, dtype), 1});
    cases.push_back({randn({3, past_block}, 2, dtype), 1});
  }
  cases.push_back({randn({past_block, 2}, 3).transpose(0, 1), 1});
  std::vector<double> special = test::values(randn({2, past_block}, 4, kFloat64));
  special[static_cast<std::size_t>(kFusedRowMax)] = NAN;  // row 0: NaN starting the second chunk
  for (std::int64_t i = 0; i < kFusedRowMax; ++i) special[static_cast<std::size_t>(past_block + i)] = -INFINITY;
  cases.push_back({tensor(special).view({2, past_block}), 1});  // row 1: a first chunk of -inf
  expect_identical_for_thread_counts(cases);
}

// Columns: tall (tiled) and short, with more lanes than one lane block so threads split them,
// a leftover of lanes that are not a whole vector, a batch, and a strided-lane view.
TEST(Threads, ColumnsAreIdenticalForAnyThreadCount) {
  const std::int64_t tall = kColShortN + kColTile + 1;
  std::vector<Case> cases;
  for (Dtype dtype : {kFloat32, kFloat64, kFloat16, kBFloat16}) {
    cases.push_back({randn({tall, 203}, 5, dtype), 0});
    cases.push_back({randn({2, kColShortN, 131}, 6, dtype), 1});
  }
  cases.push_back({randn({203, tall}, 7).transpose(0, 1), 0});
  cases.push_back({randn({3, kColTile + 1, 70}, 8), 1});
  expect_identical_for_thread_counts(cases);
}

// Many short rows and other layouts the executor splits by rows.
TEST(Threads, ShortRowsAreIdenticalForAnyThreadCount) {
  expect_identical_for_thread_counts({{randn({64, 1000}, 9), 1},
                                      {randn({300, 700}, 10).transpose(0, 1), 1},
                                      {randn({4096, 33}, 11), 0},
                                      {randn({2, 3, kFusedRowMax}, 12, kBFloat16), 2}});
}

// The engine really splits the work: the family that ran, how many units it was cut into and on
// how many threads they ran (engine/report.h), with the chunks of each parallel step made to wait
// for each other so that the split shows however fast one thread could have been.
struct Split {
  detail::Family family;
  std::int64_t units, threads;
};

Split split_of(const std::function<void()>& call, int threads) {
  ThreadCountGuard guard;
  set_num_threads(threads);
  detail::record_executions_for_test(true);
  detail::chunks_wait_for_each_other_for_test(true);
  call();
  detail::chunks_wait_for_each_other_for_test(false);
  detail::record_executions_for_test(false);
  const detail::ExecutionReport r = detail::last_execution_for_test();
  return {r.family, r.units, r.threads};
}

TEST(Threads, WorkIsCutIntoUnitsThatRunOnEveryThread) {
  using detail::Family;
  const Tensor rows = randn({64, 4096}, 1);
  const Tensor long_row = randn({1, 4 * kFusedRowMax}, 2);
  const Tensor columns = randn({2048, 4096}, 3);
  const Tensor groups = randn({64, 64, 64}, 4);
  const Tensor y = softmax(rows, 1);
  // Row blocks: one block of rows per thread.
  Split s = split_of([&] { softmax(rows, 1); }, 2);
  EXPECT_EQ(s.family, Family::kRowBlocks);
  EXPECT_EQ(s.units, 2);
  EXPECT_EQ(s.threads, 2);
  s = split_of([&] { softmax(rows, 1); }, 1);
  EXPECT_EQ(s.units, 1);
  EXPECT_EQ(s.threads, 1);
  s = split_of([&] { softmax_backward(rows, y, 1); }, 2);
  EXPECT_EQ(s.family, Family::kRowBlocks);
  EXPECT_EQ(s.threads, 2);
  // One long row: its 4 chunks in parallel, twice (statistics, then the write).
  s = split_of([&] { log_softmax(long_row, 1); }, 2);
  EXPECT_EQ(s.family, Family::kRowChunks);
  EXPECT_EQ(s.units, 8);
  EXPECT_EQ(s.threads, 2);
  // Columns: 4096 lanes in one block per thread.
  s = split_of([&] { softmax(columns, 0); }, 2);
  EXPECT_EQ(s.family, Family::kColumns);
  EXPECT_EQ(s.units, 2);
  EXPECT_EQ(s.threads, 2);
  // Dim groups: adjacent dims of a contiguous tensor are one run (the single-dim families);
  // (0, 2) gathers each group of 4096 elements (one unit per thread's range of groups); a longer
  // group of rows is cut into tiles of groups (3 groups of 90000 elements: 3 tiles).
  s = split_of([&] { softmax(groups, {0, 1}); }, 2);
  EXPECT_EQ(s.family, Family::kColumns);
  s = split_of([&] { softmax(groups, {0, 2}); }, 2);
  EXPECT_EQ(s.family, Family::kGroupGather);
  EXPECT_EQ(s.units, 2);
  EXPECT_EQ(s.threads, 2);
  const Tensor long_groups = randn({300, 3, 300}, 5);
  s = split_of([&] { softmax(long_groups, {0, 2}); }, 2);
  EXPECT_EQ(s.family, Family::kGroupRows);
  EXPECT_EQ(s.units, 3);
  EXPECT_EQ(s.threads, 2);
}

TEST(Threads, SettingIsValidated) {
  ThreadCountGuard guard;
  EXPECT_THROW(set_num_threads(0), ValueError);
  set_num_threads(3);
  EXPECT_EQ(get_num_threads(), 3);
}

// A forked child (Python's multiprocessing does this) gets a working pool of its own: the
// parent's workers do not exist there, so without a fresh pool the child would run every chunk
// on one thread (or hang, had a worker held the pool's lock at the fork).
TEST(Threads, ForkedChildGetsItsOwnWorkers) {
  ThreadCountGuard guard;
  set_num_threads(2);
  auto distinct_threads = [] {
    std::mutex mutex;
    std::set<std::thread::id> ids;
    detail::parallel_for(2, 2, [&](std::int64_t, std::int64_t) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));  // time for the worker to join
      std::lock_guard<std::mutex> lock(mutex);
      ids.insert(std::this_thread::get_id());
    });
    return ids.size();
  };
  ASSERT_EQ(distinct_threads(), 2u);  // the parent's pool has its worker now
  const Tensor x = randn({256, 4096}, 8);
  const auto before = test::values(softmax(x, 1));
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const bool ok = distinct_threads() == 2 && test::values(softmax(x, 1)) == before;
    std::_Exit(ok ? 0 : 3);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

// The store policy reaches the kernels: an output past the threshold (runtime/tuning.h) written
// as one contiguous region takes non-temporal stores; a small output does not, nor one written
// through a view whose elements are far apart.
TEST(StorePolicy, LargeContiguousOutputsStreamOthersDoNot) {
  const std::int64_t threshold = detail::tuning().stream_output_bytes;
  const std::int64_t row = 4096;
  const std::int64_t rows = threshold / (row * 4) + 1;
  auto stream_of = [](const std::function<void()>& call) {
    detail::record_executions_for_test(true);
    call();
    detail::record_executions_for_test(false);
    return detail::last_execution_for_test().stream;
  };
  const Tensor big = randn({rows, row}, 21);
  EXPECT_TRUE(stream_of([&] { softmax(big, 1); }));
  EXPECT_TRUE(stream_of([&] { softmax(big, 0); }));                            // columns
  EXPECT_TRUE(stream_of([&] { softmax(randn({rows * 8, 512}, 22), 1); }));      // short rows, one block
  EXPECT_FALSE(stream_of([&] { softmax(randn({64, 1000}, 23), 1); }));
  Tensor strided = empty({row, rows}).transpose(0, 1);  // row elements `rows` apart
  EXPECT_FALSE(stream_of([&] { softmax_out(strided, big, 1); }));
}

}  // namespace
}  // namespace smx
