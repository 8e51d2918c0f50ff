#include "tensor/block_cache.h"

#include <pthread.h>
#include <sys/mman.h>

#include <bit>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <list>
#include <mutex>
#include <new>
#include <string>
#include <unordered_map>
#include <vector>

#include "smx/memory.h"

// Under AddressSanitizer a cached block is poisoned, so a tensor read after its storage was freed
// is still reported although the memory stays mapped; so is the slack past a tensor's end.
#if defined(__SANITIZE_ADDRESS__)
#define SMX_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SMX_ASAN 1
#endif
#endif
#ifdef SMX_ASAN
#include <sanitizer/asan_interface.h>
#define SMX_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define SMX_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define SMX_POISON(p, n) ((void)(p), (void)(n))
#define SMX_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

namespace smx::detail {

namespace {

constexpr std::size_t kHuge = std::size_t{2} << 20;  // x86-64's transparent huge page
constexpr std::size_t kDefaultLimit = std::size_t{1} << 30;

std::size_t round_up(std::size_t n, std::size_t step) { return (n + step - 1) / step * step; }

// SMX_CACHE_BYTES: a byte count with an optional K, M or G suffix (binary units).
std::size_t limit_from_env() {
  const char* text = std::getenv("SMX_CACHE_BYTES");
  if (text == nullptr || *text == '\0') return kDefaultLimit;
  char* end = nullptr;
  const unsigned long long value = std::strtoull(text, &end, 10);
  std::size_t shift = 0;
  if (end != text && *end != '\0' && end[1] == '\0') {
    shift = *end == 'K' || *end == 'k' ? 10 : *end == 'M' || *end == 'm' ? 20 : *end == 'G' || *end == 'g' ? 30 : 64;
    ++end;
  }
  if (end == text || *end != '\0' || *text == '-' || shift == 64 || value > (SIZE_MAX >> shift)) {
    std::fprintf(stderr, "smx: ignoring SMX_CACHE_BYTES='%s' (expected bytes, e.g. 536870912 or 512M)\n", text);
    return kDefaultLimit;
  }
  return static_cast<std::size_t>(value) << shift;
}

void* map_block(std::size_t bytes) {
  if (bytes < kHuge) {
    void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? nullptr : p;
  }
  // Over-map by 2 MiB and trim, so the block starts on a huge page boundary; this kernel grants
  // huge pages only on request (madvise mode), and without them walking a column of a 64 MiB
  // matrix misses the TLB on every row.
  void* raw = ::mmap(nullptr, bytes + kHuge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  const auto start = reinterpret_cast<std::uintptr_t>(raw);
  const std::uintptr_t aligned = round_up(start, kHuge);
  if (aligned > start) ::munmap(raw, aligned - start);
  const std::size_t tail = start + bytes + kHuge - (aligned + bytes);
  if (tail > 0) ::munmap(reinterpret_cast<void*>(aligned + bytes), tail);
  void* p = reinterpret_cast<void*>(aligned);
  ::madvise(p, bytes, MADV_HUGEPAGE);  // advice only: a failure costs speed, not correctness
  return p;
}

void unmap_block(void* p, std::size_t bytes) {
  SMX_UNPOISON(p, bytes);  // the shadow must not outlive the mapping (the next mmap may reuse it)
  ::munmap(p, bytes);
}

class BlockCache {
 public:
  // Never destroyed: tensors freed during static destruction still find it.
  static BlockCache& instance() {
    static BlockCache* cache = [] {
      auto* c = new BlockCache;
      ::pthread_atfork([] { instance().mutex_.lock(); }, [] { instance().mutex_.unlock(); },
                       [] { instance().reset_in_child(); });
      return c;
    }();
    return *cache;
  }

  Block acquire(std::size_t nbytes) {
    const std::size_t bytes = block_size_class(nbytes);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = by_size_.find(bytes);
      if (it != by_size_.end() && !it->second.empty()) {
        const auto entry = it->second.back();  // the most recently freed: likeliest still in cache
        it->second.pop_back();
        void* p = entry->ptr;
        lru_.erase(entry);
        cached_bytes_ -= bytes;
        ++hits_;
        SMX_UNPOISON(p, nbytes);
        return {p, bytes, false};
      }
      ++misses_;
    }
    void* p = map_block(bytes);
    if (p == nullptr) {  // as PyTorch's caching allocator does: give the cache back, try again
      clear();
      p = map_block(bytes);
      if (p == nullptr) throw std::bad_alloc();
    }
    SMX_POISON(static_cast<char*>(p) + nbytes, bytes - nbytes);
    return {p, bytes, true};
  }

  void release(void* p, std::size_t bytes) {
    std::vector<Entry> victims;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (bytes <= limit_) {
        evict_locked(limit_ - bytes, victims);
        SMX_POISON(p, bytes);
        by_size_[bytes].push_back(lru_.insert(lru_.end(), Entry{p, bytes}));
        cached_bytes_ += bytes;
        p = nullptr;
      }
    }
    if (p != nullptr) unmap_block(p, bytes);
    for (const Entry& e : victims) unmap_block(e.ptr, e.bytes);  // outside the lock: munmap is slow
  }

  void set_limit(std::size_t bytes) {
    std::vector<Entry> victims;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      limit_ = bytes;
      evict_locked(bytes, victims);
    }
    for (const Entry& e : victims) unmap_block(e.ptr, e.bytes);
  }

  void clear() {
    std::vector<Entry> victims;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      evict_locked(0, victims);
    }
    for (const Entry& e : victims) unmap_block(e.ptr, e.bytes);
  }

  std::size_t limit() {
    std::lock_guard<std::mutex> lock(mutex_);
    return limit_;
  }

  CacheStats stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    return {cached_bytes_, lru_.size(), limit_, hits_, misses_};
  }

 private:
  struct Entry {
    void* ptr;
    std::size_t bytes;
  };

  BlockCache() : limit_(limit_from_env()) {}

  // Evicts least recently freed blocks until at most `target` bytes stay cached.
  void evict_locked(std::size_t target, std::vector<Entry>& victims) {
    while (cached_bytes_ > target) {
      const Entry e = lru_.front();
      auto& list = by_size_[e.bytes];
      for (auto it = list.begin(); it != list.end(); ++it) {
        if (*it == lru_.begin()) {
          list.erase(it);
          break;
        }
      }
      lru_.pop_front();
      cached_bytes_ -= e.bytes;
      victims.push_back(e);
    }
  }

  // After fork, in the child (one thread; the prepare handler holds the mutex): the parent's
  // cached blocks are copies the child never asked for, so they go back at once, and the
  // counters start again.
  void reset_in_child() {
    for (const Entry& e : lru_) unmap_block(e.ptr, e.bytes);
    lru_.clear();
    by_size_.clear();
    cached_bytes_ = 0;
    hits_ = misses_ = 0;
    mutex_.unlock();
  }

  std::mutex mutex_;
  std::list<Entry> lru_;  // least recently freed first
  std::unordered_map<std::size_t, std::vector<std::list<Entry>::iterator>> by_size_;
  std::size_t cached_bytes_ = 0;
  std::size_t limit_;
  std::uint64_t hits_ = 0;
  std::uint64_t misses_ = 0;
};

}  // namespace

std::size_t block_size_class(std::size_t nbytes) {
  if (nbytes >= kHuge) return round_up(nbytes, kHuge);
  const std::size_t floor = std::bit_floor(nbytes < kCacheMinBytes ? kCacheMinBytes : nbytes);
  return round_up(nbytes < kCacheMinBytes ? kCacheMinBytes : nbytes, floor / 4);
}

Block acquire_block(std::size_t nbytes) { return BlockCache::instance().acquire(nbytes); }
void release_block(void* ptr, std::size_t bytes) { BlockCache::instance().release(ptr, bytes); }

}  // namespace smx::detail

namespace smx {

void set_cache_limit(std::size_t bytes) { detail::BlockCache::instance().set_limit(bytes); }
std::size_t get_cache_limit() { return detail::BlockCache::instance().limit(); }
void empty_cache() { detail::BlockCache::instance().clear(); }
CacheStats cache_stats() { return detail::BlockCache::instance().stats(); }

}  // namespace smx
