// The cache of freed tensor buffers (like PyTorch's CUDA caching allocator, for CPU memory).
//
// Buffers of 64 KiB and more come from the operating system (2 MiB aligned and advised for
// transparent huge pages from 2 MiB up) and, once their tensors are gone, are kept for the next
// tensor of the same size class, so a loop calling softmax(x) does not fault its output in again.
// The cache is bounded (default 1 GiB, or the SMX_CACHE_BYTES environment variable), shared by all
// threads, and a forked child starts with an empty one. Memory given to from_blob is never cached.
#pragma once

#include <cstddef>
#include <cstdint>

namespace smx {

// At most `bytes` of freed buffers are kept (least recently freed ones go first); 0 disables the
// cache. Lowering the limit returns the excess to the operating system at once.
void set_cache_limit(std::size_t bytes);
std::size_t get_cache_limit();

// Returns every cached buffer to the operating system (buffers in use are not touched).
void empty_cache();

struct CacheStats {
  std::size_t cached_bytes = 0;   // held for reuse now
  std::size_t cached_blocks = 0;
  std::size_t limit = 0;          // get_cache_limit()
  std::uint64_t hits = 0;         // allocations served from the cache
  std::uint64_t misses = 0;       // allocations that went to the operating system
};
CacheStats cache_stats();

}  // namespace smx
