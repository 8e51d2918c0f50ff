// smx::dist under mpirun (tests/mpi/CMakeLists.txt runs this with 1, 2, 3 and 4 ranks).
// Every rank builds the same full tensor from a fixed seed, takes its slice of the sharded dim,
// runs the distributed op, and compares its slice of the result with the long-double oracle on
// the full tensor (tests/kernel_oracle.h), within the kernels' per-element bound: its double-sum
// term (2 n u for n terms) covers any split and fold order of the sum, which is all that a rank's
// slice changes.
// No ASSERT_* before a collective: a rank that returned early would leave the others waiting.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "kernel_oracle.h"
#include "smx/dist.h"
#include "smx/smx.h"
#include "tensor/element_access.h"

namespace {

using smx::Tensor;

int rank_of(MPI_Comm c = MPI_COMM_WORLD) {
  int r = 0;
  MPI_Comm_rank(c, &r);
  return r;
}
int size_of(MPI_Comm c = MPI_COMM_WORLD) {
  int s = 1;
  MPI_Comm_size(c, &s);
  return s;
}

std::vector<double> values(const Tensor& t) {
  const Tensor c = t.contiguous();
  std::vector<double> v(static_cast<std::size_t>(c.numel()));
  for (std::int64_t i = 0; i < c.numel(); ++i) v[i] = smx::detail::load_as_double(c.data_ptr(), c.dtype(), i);
  return v;
}

// Deterministic values in [-scale, scale], the same on every rank.
Tensor make(const smx::Size& sizes, smx::Dtype dtype, std::uint64_t seed, double scale = 8.0) {
  Tensor t = smx::empty(sizes, smx::kFloat64);
  auto* p = t.data<double>();
  std::uint64_t s = seed * 6364136223846793005ull + 1442695040888963407ull;
  for (std::int64_t i = 0; i < t.numel(); ++i) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    p[i] = scale * (static_cast<double>(s >> 11) / 9007199254740992.0 * 2.0 - 1.0);
  }
  return t.to(dtype);
}

// Each rank's length along the sharded dim: uneven, with empty slices, a fixed pattern.
std::vector<std::int64_t> uneven_parts(int size, std::int64_t scale) {
  const std::int64_t pattern[4] = {3, 0, 7, 1};
  std::vector<std::int64_t> parts;
  for (int r = 0; r < size; ++r) parts.push_back(pattern[r % 4] * scale);
  if (size == 1) parts[0] = 5 * scale;
  return parts;
}

std::int64_t offset_of(const std::vector<std::int64_t>& parts, int rank) {
  std::int64_t o = 0;
  for (int r = 0; r < rank; ++r) o += parts[static_cast<std::size_t>(r)];
  return o;
}

std::int64_t total_of(const std::vector<std::int64_t>& parts) { return offset_of(parts, static_cast<int>(parts.size())); }

smx::Size with_dim(std::vector<std::int64_t> others, std::int64_t dim, std::int64_t n) {
  others.insert(others.begin() + dim, n);
  return smx::Size(others);
}

const smx::Op kForwardOps[] = {smx::Op::kSoftmax, smx::Op::kLogSoftmax, smx::Op::kSoftmin};

const smx::Dtype kDtypes[] = {smx::kFloat32, smx::kFloat64, smx::kFloat16, smx::kBFloat16};

// A float64 tensor of `full`'s shape holding `v` (full's row-major order), narrowed to this
// rank's slice and read back in the slice's order.
std::vector<double> slice_of(const std::vector<double>& v, const Tensor& full, std::int64_t dim,
                             const std::vector<std::int64_t>& parts, int rank) {
  Tensor t = smx::empty(full.sizes(), smx::kFloat64);
  std::copy(v.begin(), v.end(), t.data<double>());
  return values(t.narrow(dim, offset_of(parts, rank), parts[static_cast<std::size_t>(rank)]));
}

// This rank's slice of a distributed forward result against the oracle of the full tensor.
void expect_forward_slice(const Tensor& got, const Tensor& full, std::int64_t dim, smx::Op op,
                          const std::vector<std::int64_t>& parts, int rank, const std::string& what) {
  const smx::test::Op oracle_op = op == smx::Op::kSoftmax      ? smx::test::Op::kSoftmax
                                   : op == smx::Op::kLogSoftmax ? smx::test::Op::kLogSoftmax
                                                                : smx::test::Op::kSoftmin;
  const auto e = smx::test::forward_oracle(values(full), full.sizes().vec(), dim, oracle_op);
  std::vector<double> bound(e.y.size());
  for (std::size_t i = 0; i < bound.size(); ++i) {
    bound[i] = smx::test::forward_bound(full.dtype(), oracle_op, full.size(dim), e, i);
  }
  const auto want = slice_of(e.y, full, dim, parts, rank), limit = slice_of(bound, full, dim, parts, rank);
  EXPECT_EQ(got.dtype(), full.dtype()) << what;
  EXPECT_TRUE(smx::test::within_bounds(values(got), want, [&](std::size_t i) { return limit[i]; }))
      << what << " rank " << rank;
}

// The same for a backward result, given the full g and y.
void expect_backward_slice(const Tensor& got, const Tensor& g, const Tensor& y, std::int64_t dim, bool log,
                           const std::vector<std::int64_t>& parts, int rank, const std::string& what) {
  const auto gv = values(g), yv = values(y);
  const auto e = smx::test::backward_oracle(gv, yv, g.sizes().vec(), dim, log);
  std::vector<double> bound(e.dx.size());
  for (std::size_t i = 0; i < bound.size(); ++i) bound[i] = smx::test::backward_bound(g.dtype(), log, g.size(dim), gv, yv, e, i);
  const auto want = slice_of(e.dx, g, dim, parts, rank), limit = slice_of(bound, g, dim, parts, rank);
  EXPECT_TRUE(smx::test::within_bounds(values(got), want, [&](std::size_t i) { return limit[i]; }))
      << what << " rank " << rank;
}

// One forward case: every op and dtype, sharded along `dim` of shape `others` with `dim` inserted.
void check_forward(const std::vector<std::int64_t>& others, std::int64_t dim, const std::vector<std::int64_t>& parts,
                   std::uint64_t seed, const std::function<void(Tensor&)>& poke = nullptr) {
  const int rank = rank_of();
  for (smx::Dtype dtype : kDtypes) {
    Tensor full = make(with_dim(others, dim, total_of(parts)), dtype, seed);
    if (poke) poke(full);
    const Tensor local = full.narrow(dim, offset_of(parts, rank), parts[static_cast<std::size_t>(rank)]);
    for (smx::Op op : kForwardOps) {
      const std::string what = std::string(smx::op_name(op)) + " " + smx::dtype_name(dtype) + " shape " +
                               full.sizes().str() + " dim " + std::to_string(dim);
      expect_forward_slice(smx::dist::forward(op, local, dim, MPI_COMM_WORLD), full, dim, op, parts, rank, what);
    }
  }
}

TEST(Dist, LastDimUnevenAndEmptyShards) { check_forward({5}, 1, uneven_parts(size_of(), 3), 1); }
TEST(Dist, MiddleDim) { check_forward({2, 3}, 1, uneven_parts(size_of(), 2), 2); }
TEST(Dist, FirstDimOfAMatrix) { check_forward({4}, 0, uneven_parts(size_of(), 5), 3); }
TEST(Dist, OneDimAndNegativeDim) {
  const auto parts = uneven_parts(size_of(), 4);
  const int rank = rank_of();
  const Tensor full = make(smx::Size{total_of(parts)}, smx::kFloat32, 4);
  const Tensor local = full.narrow(0, offset_of(parts, rank), parts[static_cast<std::size_t>(rank)]);
  expect_forward_slice(smx::dist::softmax(local, -1, MPI_COMM_WORLD), full, 0, smx::Op::kSoftmax, parts, rank, "1-d");
}
TEST(Dist, AllOnOneRank) {
  std::vector<std::int64_t> parts(static_cast<std::size_t>(size_of()), 0);
  parts.back() = 9;
  check_forward({3}, 1, parts, 5);
}
TEST(Dist, NonContiguousShard) {
  const auto parts = uneven_parts(size_of(), 2);
  const int rank = rank_of();
  const Tensor full = make(smx::Size{total_of(parts), 6}, smx::kFloat32, 6);
  // The shard is a transposed view: dim 1 of the view is dim 0 of the storage.
  const Tensor local = full.narrow(0, offset_of(parts, rank), parts[static_cast<std::size_t>(rank)]).transpose(0, 1);
  const Tensor got = smx::dist::log_softmax(local, 1, MPI_COMM_WORLD);
  expect_forward_slice(got, full.transpose(0, 1).contiguous(), 1, smx::Op::kLogSoftmax, parts, rank, "transposed view");
}

// Long rows: more than kFusedRowMax (65536) elements on a rank, so the local statistics are
// themselves merged from chunks.
TEST(Dist, LongRows) {
  std::vector<std::int64_t> parts;
  for (int r = 0; r < size_of(); ++r) parts.push_back(70000 + 33333 * r);
  check_forward({2}, 1, parts, 7);
}

// NaN, +inf and -inf on one rank make the group NaN (NaN, +inf) or change nothing (-inf) on every
// rank, exactly as in one process; a group of only -inf is NaN, as in PyTorch.
TEST(Dist, SpecialValuesOnOneRank) {
  const int size = size_of();
  const auto parts = uneven_parts(size, 3);
  const std::int64_t last_rank_start = offset_of(parts, size - 1 - (size == 2 ? 1 : 0));
  const std::int64_t n = total_of(parts);
  auto poke = [&](Tensor& full) {
    Tensor f = full.to(smx::kFloat64);
    auto* p = f.data<double>();
    p[0 * n + last_rank_start] = std::numeric_limits<double>::quiet_NaN();  // group 0: NaN
    p[1 * n + last_rank_start] = std::numeric_limits<double>::infinity();   // group 1: +inf
    p[2 * n + last_rank_start] = -std::numeric_limits<double>::infinity();  // group 2: one -inf
    for (std::int64_t i = 0; i < n; ++i) p[3 * n + i] = -std::numeric_limits<double>::infinity();  // group 3
    full = f.to(full.dtype());
  };
  check_forward({5}, 1, parts, 8, poke);
  // And explicitly: the NaN group is NaN on every rank that holds part of it.
  Tensor full = make(smx::Size{5, n}, smx::kFloat32, 8);
  poke(full);
  const int rank = rank_of();
  const Tensor got =
      smx::dist::softmax(full.narrow(1, offset_of(parts, rank), parts[static_cast<std::size_t>(rank)]), 1, MPI_COMM_WORLD);
  for (double v : values(got.select(0, 0))) EXPECT_TRUE(std::isnan(v)) << "rank " << rank;
  for (double v : values(got.select(0, 3))) EXPECT_TRUE(std::isnan(v)) << "rank " << rank;
}

TEST(Dist, EmptyEverywhere) {
  const int rank = rank_of();
  const Tensor none = smx::empty(smx::Size{4, 0});
  EXPECT_TRUE(smx::dist::softmax(none, 1, MPI_COMM_WORLD).sizes() == none.sizes());
  const Tensor no_groups = smx::empty(smx::Size{0, rank + 1});  // groups = 0: nothing to exchange
  EXPECT_TRUE(smx::dist::softmax(no_groups, 1, MPI_COMM_WORLD).sizes() == no_groups.sizes());
}

TEST(Dist, DeterministicRunToRun) {
  const auto parts = uneven_parts(size_of(), 50);
  const int rank = rank_of();
  const Tensor full = make(smx::Size{7, total_of(parts)}, smx::kFloat64, 9);
  const Tensor local = full.narrow(1, offset_of(parts, rank), parts[static_cast<std::size_t>(rank)]);
  const Tensor a = smx::dist::softmax(local, 1, MPI_COMM_WORLD);
  const Tensor b = smx::dist::softmax(local, 1, MPI_COMM_WORLD);
  EXPECT_EQ(std::memcmp(a.data_ptr(), b.data_ptr(), static_cast<std::size_t>(a.numel()) * a.element_size()), 0);
}

// The shared statistics are the same bits on every rank: every slice starts with the same value
// x0, and y0 = (x0 - m) - log(s) is computed from x0 and the shared (m, s) alone, so gathering
// each rank's y0 must give one value, bit for bit.
TEST(Dist, SharedStatisticsIdenticalOnEveryRank) {
  const int size = size_of();
  const int rank = rank_of();
  Tensor full = smx::empty(smx::Size{1, 4 * size}, smx::kFloat64);
  for (std::int64_t i = 0; i < full.numel(); ++i) {
    full.data<double>()[i] = i % 4 == 0 ? 0.375 : static_cast<double>((i * 7) % 11) * 0.3;
  }
  const Tensor got = smx::dist::log_softmax(full.narrow(1, 4 * rank, 4), 1, MPI_COMM_WORLD);
  const double y0 = got.contiguous().data<double>()[0];
  std::vector<double> all(static_cast<std::size_t>(size));
  MPI_Allgather(&y0, 1, MPI_DOUBLE, all.data(), 1, MPI_DOUBLE, MPI_COMM_WORLD);
  for (double v : all) EXPECT_EQ(std::memcmp(&v, &all[0], sizeof v), 0) << v << " vs " << all[0];
}

TEST(Dist, Backward) {
  const int rank = rank_of();
  const auto parts = uneven_parts(size_of(), 3);
  for (smx::Dtype dtype : kDtypes) {
    for (std::int64_t dim : {0, 1}) {
      const smx::Size shape = with_dim({4}, dim, total_of(parts));
      const Tensor x = make(shape, dtype, 10);
      const Tensor g = make(shape, dtype, 11, 1.0);
      for (bool log : {false, true}) {
        const Tensor y = log ? smx::log_softmax(x, dim) : smx::softmax(x, dim);  // (any y: the oracle takes it as given)
        auto shard = [&](const Tensor& t) {
          return t.narrow(dim, offset_of(parts, rank), parts[static_cast<std::size_t>(rank)]);
        };
        const Tensor got = log ? smx::dist::log_softmax_backward(shard(g), shard(y), dim, MPI_COMM_WORLD)
                               : smx::dist::softmax_backward(shard(g), shard(y), dim, MPI_COMM_WORLD);
        expect_backward_slice(got, g, y, dim, log, parts, rank,
                              std::string(log ? "log_softmax" : "softmax") + "_backward " + smx::dtype_name(dtype) +
                                  " dim " + std::to_string(dim));
      }
    }
  }
}

// A communicator other than COMM_WORLD: the even and the odd ranks, each its own group.
TEST(Dist, SubCommunicator) {
  const int world_rank = rank_of();
  MPI_Comm half;
  MPI_Comm_split(MPI_COMM_WORLD, world_rank % 2, world_rank, &half);
  const auto parts = uneven_parts(size_of(half), 2);
  const int rank = rank_of(half);
  const Tensor full = make(smx::Size{3, total_of(parts)}, smx::kFloat32, 12 + world_rank % 2);
  const Tensor got = smx::dist::softmin(full.narrow(1, offset_of(parts, rank), parts[static_cast<std::size_t>(rank)]), 1, half);
  expect_forward_slice(got, full, 1, smx::Op::kSoftmin, parts, rank, "sub-communicator");
  MPI_Comm_free(&half);
}

// ---- errors: thrown on every rank, naming the bad rank; the communicator stays usable --------

template <typename E>
void expect_error_everywhere(const std::function<Tensor()>& call, const std::string& needle) {
  bool threw = false;
  try {
    call();
  } catch (const E& e) {
    threw = true;
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
  EXPECT_TRUE(threw) << "expected an error mentioning '" << needle << "' on rank " << rank_of();
  // Every rank threw and none is stuck in a collective: a barrier completes.
  EXPECT_EQ(MPI_Barrier(MPI_COMM_WORLD), MPI_SUCCESS);
}

std::string last_rank() { return "rank " + std::to_string(size_of() - 1) + ": "; }
bool is_last() { return rank_of() == size_of() - 1; }

TEST(DistErrors, DimOutOfRangeOnOneRank) {
  const Tensor x = make(smx::Size{3, 4}, smx::kFloat32, 13);
  expect_error_everywhere<smx::IndexError>(
      [&] { return smx::dist::softmax(x, is_last() ? 2 : 1, MPI_COMM_WORLD); },
      last_rank() + "Dimension out of range (expected to be in range of [-2, 1], but got 2)");
}

TEST(DistErrors, DtypeDiffersOnOneRank) {
  if (size_of() < 2) GTEST_SKIP() << "needs two ranks";
  const Tensor x = make(smx::Size{3, 4}, is_last() ? smx::kFloat64 : smx::kFloat32, 14);
  expect_error_everywhere<smx::RuntimeError>([&] { return smx::dist::log_softmax(x, 1, MPI_COMM_WORLD); },
                                             last_rank() + "dtype torch.float64 differs from rank 0's torch.float32");
}

TEST(DistErrors, OtherDimsDifferOnOneRank) {
  if (size_of() < 2) GTEST_SKIP() << "needs two ranks";
  const Tensor x = make(smx::Size{is_last() ? 4 : 3, 4}, smx::kFloat32, 15);
  expect_error_everywhere<smx::RuntimeError>([&] { return smx::dist::softmax(x, 1, MPI_COMM_WORLD); },
                                             last_rank() + "the shard's dims other than dim 1 differ");
}

TEST(DistErrors, RankDiffersOnOneRank) {
  if (size_of() < 2) GTEST_SKIP() << "needs two ranks";
  const Tensor x = is_last() ? make(smx::Size{3, 1, 4}, smx::kFloat32, 16) : make(smx::Size{3, 4}, smx::kFloat32, 16);
  expect_error_everywhere<smx::RuntimeError>([&] { return smx::dist::softmax(x, -1, MPI_COMM_WORLD); },
                                             last_rank() + "a 3-d shard");
}

TEST(DistErrors, ZeroDimShard) {
  const Tensor x = is_last() ? smx::full(smx::Size{}, 1.0) : make(smx::Size{3}, smx::kFloat32, 17);
  expect_error_everywhere<smx::RuntimeError>([&] { return smx::dist::softmax(x, 0, MPI_COMM_WORLD); },
                                             last_rank() + "a 0-d shard");
}

TEST(DistErrors, IntegerInput) {
  const Tensor x = smx::zeros(smx::Size{2, 3}, smx::kInt64);
  expect_error_everywhere<smx::RuntimeError>([&] { return smx::dist::softmin(x, 1, MPI_COMM_WORLD); },
                                             "rank 0: dtype torch.int64 is not floating");
}

TEST(DistErrors, BackwardShapesDifferOnOneRank) {
  const Tensor g = make(smx::Size{2, 3}, smx::kFloat32, 18);
  const Tensor y = is_last() ? make(smx::Size{2, 4}, smx::kFloat32, 19) : make(smx::Size{2, 3}, smx::kFloat32, 19);
  expect_error_everywhere<smx::RuntimeError>(
      [&] { return smx::dist::softmax_backward(g, y, 1, MPI_COMM_WORLD); },
      last_rank() + "grad_output and output differ");
}

TEST(DistErrors, RanksCallDifferentOps) {
  if (size_of() < 2) GTEST_SKIP() << "needs two ranks";
  const Tensor x = make(smx::Size{2, 3}, smx::kFloat32, 20);
  expect_error_everywhere<smx::RuntimeError>(
      [&] { return is_last() ? smx::dist::log_softmax(x, 1, MPI_COMM_WORLD) : smx::dist::softmax(x, 1, MPI_COMM_WORLD); },
      last_rank() + "called a different smx.dist op");
}

TEST(DistErrors, StillUsableAfterErrors) { check_forward({2}, 1, uneven_parts(size_of(), 1), 21); }

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  ::testing::InitGoogleTest(&argc, argv);
  // Only rank 0 prints the progress; every rank prints its failures.
  if (rank_of() != 0) {
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
  }
  const int failed = RUN_ALL_TESTS();
  // Every rank's verdict counts: a failure on any rank fails the job.
  int any = failed != 0 ? 1 : 0, worst = 0;
  MPI_Allreduce(&any, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Finalize();
  return worst;
}
