// Every SIMD kernel on every instruction-set target this CPU supports, against the float64
// oracle: tile-edge lengths, inputs that overflow without the max shift, NaN/inf rows, every
// dtype, rows and columns, forward and backward. Also: results do not depend on the thread
// count.
#include <gtest/gtest.h>

#include <hwy/targets.h>
#include <sys/wait.h>

#include <chrono>
#include <mutex>
#include <set>
#include <thread>
#include <unistd.h>

#include <cmath>
#include <string>

#include "kernels/simd_kernels.h"
#include "runtime/parallel.h"
#include "simd_target_fixture.h"
#include "smx/smx.h"
#include "test_support.h"

namespace smx {
namespace {

using test::Op;

using test::supported_targets;
using test::target_name;
class PerTarget : public test::SimdTargetTest {};

double tolerance(Dtype dtype) {
  switch (dtype) {
    case kFloat64: return 1e-13;
    case kFloat32: return 2e-6;
    case kFloat16: return 2e-3;
    default: return 1.6e-2;
  }
}

Tensor run(Op op, const Tensor& x, std::int64_t dim) {
  return op == Op::kSoftmax ? softmax(x, dim) : op == Op::kLogSoftmax ? log_softmax(x, dim) : softmin(x, dim);
}

void expect_matches_oracle(Op op, const Tensor& x, std::int64_t dim, const std::string& what) {
  const auto want = test::oracle(test::values(x), x.sizes().vec(), dim, op);
  const auto got = test::values(run(op, x, dim));
  const double tol = tolerance(x.dtype());
  // 16-bit outputs are compared after rounding the oracle to the same type.
  const Tensor rounded = tensor(want, kFloat64).to(x.dtype());
  const auto want_rounded = test::values(rounded);
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(want[i])) {
      ASSERT_TRUE(std::isnan(got[i])) << what << " element " << i;
      continue;
    }
    if (got[i] == want_rounded[i]) continue;
    const double floor = op == Op::kLogSoftmax ? 1.0 : 1e-30;
    // float16 subnormals (< 6.1e-5) have an absolute spacing of 2^-24: one step is allowed there.
    const double subnormal_step = x.dtype() == kFloat16 ? 0x1p-24 : 0.0;
    ASSERT_LE(std::fabs(got[i] - want[i]), tol * std::max(std::fabs(want[i]), floor) + subnormal_step)
        << what << " element " << i
                                                                                        << ": " << got[i] << " vs " << want[i];
  }
}

TEST_P(PerTarget, DispatchUsesTheForcedTarget) { EXPECT_STREQ(simd_target(), hwy::TargetName(GetParam())); }

TEST_P(PerTarget, RowsAtTileEdges) {
  const std::int64_t lengths[] = {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129,
                                  8191, 8192, 8193, 65535, 65536, 65537, 140001};
  for (Dtype dtype : {kFloat32, kFloat64, kFloat16, kBFloat16}) {
    for (std::int64_t n : lengths) {
      const Tensor x = randn({2, n}, static_cast<std::uint64_t>(n), dtype);
      for (Op op : {Op::kSoftmax, Op::kLogSoftmax, Op::kSoftmin}) {
        expect_matches_oracle(op, x, 1, dtype_name(dtype) + " row n=" + std::to_string(n));
      }
    }
  }
}

TEST_P(PerTarget, ColumnsAtTileEdges) {
  const std::int64_t lanes[] = {2, 3, 7, 8, 9, 15, 16, 17, 33, 64, 65, 100};
  for (Dtype dtype : {kFloat32, kFloat64, kFloat16, kBFloat16}) {
    for (std::int64_t l : lanes) {
      for (std::int64_t n : {1, 2, 5, 300}) {
        const Tensor x = randn({2, n, l}, static_cast<std::uint64_t>(n * 1000 + l), dtype);
        for (Op op : {Op::kSoftmax, Op::kLogSoftmax, Op::kSoftmin}) {
          const std::string what = dtype_name(dtype) + " cols n=" + std::to_string(n) + " lanes=" + std::to_string(l);
          expect_matches_oracle(op, x, 1, what);
          // Strided lanes (a transposed view) must give the very same bits.
          const Tensor view = x.transpose(1, 2).contiguous().transpose(1, 2);
          ASSERT_EQ(test::values(run(op, view, 1)), test::values(run(op, x, 1))) << what;
        }
      }
    }
  }
}

TEST_P(PerTarget, InputsThatOverflowWithoutTheMaxShift) {
  for (Dtype dtype : {kFloat32, kFloat64, kBFloat16}) {
    Tensor x = rand({5, 333}, 4, kFloat64);
    for (std::int64_t i = 0; i < x.numel(); ++i) x.data<double>()[i] = 90 + 10 * x.data<double>()[i];
    x = x.to(dtype);
    for (Op op : {Op::kSoftmax, Op::kLogSoftmax}) {
      expect_matches_oracle(op, x, 1, "hot rows " + dtype_name(dtype));
      expect_matches_oracle(op, x, 0, "hot columns " + dtype_name(dtype));
    }
  }
}

TEST_P(PerTarget, NonFiniteRowsAndColumns) {
  const double inf = INFINITY;
  // Row 0: +inf; row 1: NaN; row 2: all -inf; row 3: -inf among finite; row 4: NaN among -inf.
  std::vector<double> v(5 * 40, 0.0);
  for (int i = 0; i < 200; ++i) v[i] = std::sin(i);
  v[7] = inf;
  v[40 + 33] = NAN;
  v[40 + 7] = NAN;  // a NaN followed by smaller values in the same column tile
  v[40 + 8] = -inf;
  for (int i = 80; i < 120; ++i) v[i] = -inf;
  v[120 + 3] = -inf;
  for (int i = 160; i < 200; ++i) v[i] = -inf;
  v[160 + 39] = NAN;
  for (Dtype dtype : {kFloat32, kFloat64, kFloat16, kBFloat16}) {
    const Tensor x = tensor(v, dtype).view({5, 40});
    for (Op op : {Op::kSoftmax, Op::kLogSoftmax, Op::kSoftmin}) {
      expect_matches_oracle(op, x, 1, "special rows " + dtype_name(dtype));
      expect_matches_oracle(op, x.transpose(0, 1).contiguous(), 0, "special columns " + dtype_name(dtype));
    }
  }
}

TEST_P(PerTarget, BackwardRowsAndColumns) {
  for (Dtype dtype : {kFloat32, kFloat64, kFloat16, kBFloat16}) {
    for (std::int64_t dim : {0, 1}) {
      for (std::int64_t n : {1, 17, 1000, 70000}) {
        const Tensor x = randn({3, n}, 5, kFloat64);
        const Tensor g = randn({3, n}, 6, kFloat64);
        const std::int64_t d = dim == 0 ? 0 : 1;
        const Tensor xt = d == 0 ? x.transpose(0, 1).contiguous() : x;
        const Tensor gt = d == 0 ? g.transpose(0, 1).contiguous() : g;
        const std::int64_t sd = d == 0 ? 0 : 1;
        for (bool log : {false, true}) {
          const Tensor y64 = log ? log_softmax(xt, sd) : softmax(xt, sd);
          const auto want = test::values(log ? log_softmax_backward(gt, y64, sd) : softmax_backward(gt, y64, sd));
          // Same computation from inputs rounded to dtype, against the float64 result of those.
          const Tensor y = y64.to(dtype);
          const Tensor gd = gt.to(dtype);
          const auto want_d =
              test::values(log ? log_softmax_backward(gd.to(kFloat64), y.to(kFloat64), sd)
                               : softmax_backward(gd.to(kFloat64), y.to(kFloat64), sd));
          const auto got = test::values(log ? log_softmax_backward(gd, y, sd) : softmax_backward(gd, y, sd));
          const double tol = tolerance(dtype) * 4;
          double scale = 0;
          for (double w : want) scale = std::max(scale, std::fabs(w));
          for (std::size_t i = 0; i < got.size(); ++i) {
            ASSERT_NEAR(got[i], want_d[i], tol * std::max(scale, 1.0)) << dtype_name(dtype) << " n=" << n << " i=" << i;
          }
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllTargets, PerTarget, ::testing::ValuesIn(supported_targets()), target_name);

TEST(SimdDispatch, SeveralTargetsAreTestedHere) {
  // On x86 at least SSE4-class and the emulated fallback exist; this CPU (AVX-512) has more.
  EXPECT_GE(supported_targets().size(), 2u);
}

// Results are bitwise identical for any thread count: long rows (split into chunks),
// many rows, columns, strided views, backward.
TEST(Threads, ResultsDoNotDependOnTheThreadCount) {
  const int saved = get_num_threads();
  struct Case {
    Tensor x;
    std::int64_t dim;
  };
  const Tensor wide = randn({3, 70}, 3);
  const Case cases[] = {{randn({1, 1'000'003}, 1), 1}, {randn({64, 1000}, 2), 1}, {randn({4096, 33}, 3), 0},
                        {randn({300, 700}, 4).transpose(0, 1), 1}, {randn({2, 3, 200000}, 5, kBFloat16), 2},
                        {wide, 0}};
  for (const auto& c : cases) {
    std::vector<std::vector<double>> results;
    for (int threads : {1, 2, 3, 5}) {
      set_num_threads(threads);
      const Tensor y = softmax(c.x, c.dim);
      auto v = test::values(y);
      const auto b = test::values(softmax_backward(c.x, y, c.dim));
      v.insert(v.end(), b.begin(), b.end());
      const auto l = test::values(log_softmax(c.x, c.dim));
      v.insert(v.end(), l.begin(), l.end());
      results.push_back(std::move(v));
    }
    for (std::size_t i = 1; i < results.size(); ++i) {
      EXPECT_EQ(results[i], results[0]) << "shape " << c.x.sizes() << " dim " << c.dim;
    }
  }
  set_num_threads(saved);
}

TEST(Threads, SettingIsValidated) {
  const int saved = get_num_threads();
  EXPECT_THROW(set_num_threads(0), ValueError);
  set_num_threads(3);
  EXPECT_EQ(get_num_threads(), 3);
  set_num_threads(saved);
}

}  // namespace
}  // namespace smx

namespace smx {
namespace {

// A forked child (Python's multiprocessing does this) gets a working pool of its own: the
// parent's workers do not exist there, so without a fresh pool the child would run every chunk
// on one thread (or hang, had a worker held the pool's lock at the fork).
TEST(Threads, ForkedChildGetsItsOwnWorkers) {
  const int saved = get_num_threads();
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
  set_num_threads(saved);
}

}  // namespace
}  // namespace smx

namespace smx {
namespace {

// The scalar reference kernels (SMX_ISA=REFERENCE) and the SIMD kernels agree within each
// dtype's tolerance, forward and backward, rows, columns and strided views.
TEST(Reference, SimdKernelsAgreeWithTheReferenceKernels) {
  const Tensor base = randn({6, 130, 70}, 41, kFloat64);
  struct Case {
    Tensor x;
    std::int64_t dim;
  };
  std::vector<Case> cases;
  for (Dtype dtype : {kFloat32, kFloat64, kFloat16, kBFloat16}) {
    const Tensor x = base.to(dtype);
    for (std::int64_t dim : {0, 1, 2}) {
      cases.push_back({x, dim});
      cases.push_back({x.transpose(0, 2), dim});
    }
    cases.push_back({randn({2, 200000}, 42, kFloat64).to(dtype), 1});  // long rows, chunked
  }
  std::size_t differing = 0;  // the two paths round differently: proof both really ran
  for (const auto& c : cases) {
    std::vector<std::vector<double>> results[2];
    for (bool reference : {true, false}) {
      detail::force_reference_kernels_for_test(reference);
      EXPECT_EQ(std::string(simd_target()) == "REFERENCE", reference);
      for (Op op : {Op::kSoftmax, Op::kLogSoftmax, Op::kSoftmin}) results[reference].push_back(test::values(run(op, c.x, c.dim)));
      const Tensor y = softmax(c.x, c.dim);
      results[reference].push_back(test::values(softmax_backward(c.x, y, c.dim)));
      results[reference].push_back(test::values(log_softmax_backward(c.x, log_softmax(c.x, c.dim), c.dim)));
    }
    detail::force_reference_kernels_for_test(false);
    const double tol = tolerance(c.x.dtype()) * (c.x.dtype() == kFloat32 || c.x.dtype() == kFloat64 ? 4 : 2);
    for (std::size_t r = 0; r < results[0].size(); ++r) {
      double scale = 1e-30;
      for (double v : results[1][r]) scale = std::max(scale, std::fabs(v));
      for (std::size_t i = 0; i < results[0][r].size(); ++i) {
        const double a = results[0][r][i], b = results[1][r][i];
        differing += a != b;
        ASSERT_LE(std::fabs(a - b), tol * std::max(std::fabs(b), r >= 3 ? scale : 1e-30) + 1e-7 * (r >= 3))
            << dtype_name(c.x.dtype()) << " shape " << c.x.sizes() << " dim " << c.dim << " result " << r << " i " << i;
      }
    }
  }
  EXPECT_GT(differing, 0u);
}

}  // namespace
}  // namespace smx
