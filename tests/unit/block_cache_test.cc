// The cache of freed tensor buffers (include/smx/memory.h, src/tensor/block_cache.cc): reuse,
// the limit, empty_cache, fork, threads, borrowed memory, and zeros() on a reused block.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

#include "smx/smx.h"
#include "tensor/block_cache.h"

#if defined(__SANITIZE_ADDRESS__)
#define SMX_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SMX_TEST_ASAN 1
#endif
#endif
#ifdef SMX_TEST_ASAN
#include <sanitizer/asan_interface.h>
#endif

namespace smx {
namespace {

constexpr std::int64_t kRow = 1024;  // 64 x 1024 float32 = 256 KiB: a cached size

// Each test starts from an empty cache with a known limit, and leaves the default behind.
class BlockCache : public ::testing::Test {
 protected:
  void SetUp() override {
    saved_ = get_cache_limit();
    set_cache_limit(std::size_t{1} << 30);
    empty_cache();
  }
  void TearDown() override { set_cache_limit(saved_); }
  std::size_t saved_ = 0;
};

TEST_F(BlockCache, SameSizeClassGetsTheSameBlockBack) {
  void* first = nullptr;
  {
    Tensor a = empty({64, kRow});
    first = a.data_ptr();
  }
  EXPECT_EQ(cache_stats().cached_blocks, 1u);
  const auto hits = cache_stats().hits;
  Tensor b = empty({63, kRow});  // 252 KiB rounds to the same 256 KiB class
  EXPECT_EQ(b.data_ptr(), first);
  EXPECT_EQ(cache_stats().hits, hits + 1);
  EXPECT_EQ(cache_stats().cached_blocks, 0u);
}

TEST_F(BlockCache, SizeClassesWasteAtMostAQuarter) {
  for (std::size_t n = detail::kCacheMinBytes; n < (std::size_t{256} << 20); n = n * 9 / 7 + 4093) {
    const std::size_t c = detail::block_size_class(n);
    EXPECT_GE(c, n);
    EXPECT_LE(c - n, n / 4 + (std::size_t{2} << 20) * (n >= (std::size_t{2} << 20))) << n;
    EXPECT_EQ(c % 4096, 0u) << n;
  }
}

TEST_F(BlockCache, LargeBlocksAre2MiBAligned) {
  Tensor a = empty({1024, 1025});  // just over 4 MiB
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(a.data_ptr()) % (std::uintptr_t{2} << 20), 0u);
}

// empty() must not write its memory: a fresh block's pages stay absent until the kernel writes.
TEST_F(BlockCache, EmptyDoesNotTouchAFreshBlock) {
  Tensor a = empty({1024, 2048});  // 8 MiB, fresh: the cache was emptied
  const std::size_t bytes = 1024 * 2048 * sizeof(float);
  std::vector<unsigned char> resident((bytes + 4095) / 4096);
  ASSERT_EQ(::mincore(a.data_ptr(), bytes, resident.data()), 0);
  std::size_t touched = 0;
  for (auto r : resident) touched += r & 1;
  EXPECT_EQ(touched, 0u);
}

TEST_F(BlockCache, ZerosIsZeroOnAReusedBlock) {
  for (std::int64_t rows : {64, 4096}) {  // a small class and a huge-page one
    void* first = nullptr;
    {
      Tensor dirty = full({rows, kRow}, 3.5);
      first = dirty.data_ptr();
    }
    Tensor z = zeros({rows, kRow});
    ASSERT_EQ(z.data_ptr(), first);  // really the reused block
    const float* p = z.data<float>();
    std::int64_t nonzero = 0;
    for (std::int64_t i = 0; i < z.numel(); ++i) nonzero += p[i] != 0.0f;
    EXPECT_EQ(nonzero, 0) << rows;
  }
}

TEST_F(BlockCache, LimitZeroDisablesTheCache) {
  set_cache_limit(0);
  EXPECT_EQ(get_cache_limit(), 0u);
  { Tensor a = empty({64, kRow}); }
  EXPECT_EQ(cache_stats().cached_bytes, 0u);
  const auto misses = cache_stats().misses;
  Tensor b = empty({64, kRow});
  EXPECT_EQ(cache_stats().misses, misses + 1);
}

TEST_F(BlockCache, NeverHoldsMoreThanTheLimit) {
  const std::size_t limit = std::size_t{1} << 20;  // four 256 KiB blocks
  set_cache_limit(limit);
  std::vector<Tensor> live;
  for (int i = 0; i < 10; ++i) live.push_back(empty({64, kRow}));
  live.push_back(empty({1024, 1024}));  // 4 MiB: larger than the whole limit
  while (!live.empty()) {
    live.pop_back();
    EXPECT_LE(cache_stats().cached_bytes, limit);
  }
  EXPECT_EQ(cache_stats().cached_bytes, limit);
  set_cache_limit(limit / 2);  // lowering the limit gives the excess back now
  EXPECT_EQ(cache_stats().cached_bytes, limit / 2);
  EXPECT_EQ(cache_stats().cached_blocks, 2u);
}

TEST_F(BlockCache, LeastRecentlyFreedGoesFirst) {
  set_cache_limit(std::size_t{512} << 10);  // two 256 KiB blocks
  Tensor a = empty({64, kRow}), b = empty({64, kRow}), c = empty({64, kRow});
  void* pb = b.data_ptr();
  void* pc = c.data_ptr();
  a = Tensor();
  b = Tensor();
  c = Tensor();  // evicts a's block
  Tensor x = empty({64, kRow}), y = empty({64, kRow});
  EXPECT_EQ(x.data_ptr(), pc);  // most recently freed first
  EXPECT_EQ(y.data_ptr(), pb);
}

TEST_F(BlockCache, EmptyCacheReturnsEverything) {
  { Tensor a = empty({64, kRow}), b = empty({1024, 1024}); }
  EXPECT_EQ(cache_stats().cached_blocks, 2u);
  empty_cache();
  EXPECT_EQ(cache_stats().cached_bytes, 0u);
  EXPECT_EQ(cache_stats().cached_blocks, 0u);
  EXPECT_EQ(get_cache_limit(), std::size_t{1} << 30);  // the limit stays
}

TEST_F(BlockCache, BorrowedMemoryIsNeverCached) {
  std::vector<float> mine(64 * kRow, 1.0f);
  { Tensor t = from_blob(mine.data(), {64, kRow}, kFloat32); }
  EXPECT_EQ(cache_stats().cached_bytes, 0u);
  Tensor y = softmax(from_blob(mine.data(), {64, kRow}, kFloat32), 1);
  EXPECT_NE(y.data_ptr(), static_cast<void*>(mine.data()));
  y = Tensor();
  EXPECT_EQ(cache_stats().cached_blocks, 1u);  // softmax's own output, not the caller's buffer
  Tensor z = empty({64, kRow});
  EXPECT_NE(z.data_ptr(), static_cast<void*>(mine.data()));
}

// A forked child (Python's multiprocessing) starts with an empty cache: the parent's cached
// blocks are not the child's to hand out, and the parent's lock may have been held at the fork.
TEST_F(BlockCache, ForkedChildStartsEmpty) {
  Tensor kept = full({64, kRow}, 2.0);
  { Tensor a = empty({64, kRow}), b = empty({1024, 1024}); }
  ASSERT_EQ(cache_stats().cached_blocks, 2u);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    bool ok = cache_stats().cached_blocks == 0 && cache_stats().cached_bytes == 0 && cache_stats().hits == 0;
    void* p = kept.data_ptr();
    ok = ok && kept.data<float>()[7] == 2.0f;
    kept = Tensor();  // the child's copy of a live block: cached in the child
    ok = ok && cache_stats().cached_blocks == 1;
    Tensor again = empty({64, kRow});
    ok = ok && again.data_ptr() == p;
    std::_Exit(ok ? 0 : 3);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(cache_stats().cached_blocks, 2u);  // the parent's cache is untouched
}

#ifdef SMX_TEST_ASAN
// A cached block stays mapped, so only its poisoning lets AddressSanitizer see a use after free.
// (Asked directly: a death test's forked child would start with an empty cache, block unmapped.)
TEST_F(BlockCache, AddressSanitizerSeesUseOfACachedBlock) {
  float* p = nullptr;
  {
    Tensor a = empty({64, kRow});
    p = a.data<float>();
    p[0] = 1.0f;
    EXPECT_FALSE(__asan_address_is_poisoned(p));
  }
  ASSERT_EQ(cache_stats().cached_blocks, 1u);
  EXPECT_TRUE(__asan_address_is_poisoned(p));
  EXPECT_TRUE(__asan_address_is_poisoned(p + 64 * kRow - 1));
  Tensor b = empty({63, kRow});  // reused: the part in use is readable again, the slack is not
  ASSERT_EQ(b.data<float>(), p);
  EXPECT_EQ(__asan_region_is_poisoned(p, 63 * kRow * sizeof(float)), nullptr);
  EXPECT_TRUE(__asan_address_is_poisoned(p + 63 * kRow));
}
#endif

TEST_F(BlockCache, ThreadsAllocateAndFreeConcurrently) {
  set_cache_limit(std::size_t{8} << 20);  // small enough that evictions happen too
  constexpr int kThreads = 8;
  std::vector<std::thread> threads;
  std::vector<int> bad(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t, &bad] {
      std::vector<Tensor> held;
      for (int i = 0; i < 200; ++i) {
        const std::int64_t rows = 16 + (i * 7 + t * 13) % 300;  // 64 KiB to 1.2 MiB
        Tensor x = empty({rows, kRow});
        float* p = x.data<float>();
        for (std::int64_t k = 0; k < x.numel(); k += 97) p[k] = static_cast<float>(t);
        held.push_back(x);
        if (held.size() > 3) {
          const Tensor& old = held.front();
          for (std::int64_t k = 0; k < old.numel(); k += 97) bad[t] += old.data<float>()[k] != static_cast<float>(t);
          held.erase(held.begin());
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(bad[t], 0) << "thread " << t << " saw another's data";
  const CacheStats s = cache_stats();
  EXPECT_LE(s.cached_bytes, std::size_t{8} << 20);
  EXPECT_GT(s.hits, 0u);
}

}  // namespace
}  // namespace smx
