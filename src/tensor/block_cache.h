// The cache behind smx::set_cache_limit / empty_cache (include/smx/memory.h): large tensor
// buffers straight from mmap, kept after use for the next buffer of the same size class.
//
// Why not mimalloc or jemalloc (Debian 12's libmimalloc-dev 2.0.9, libjemalloc-dev 5.3): both
// shared libraries export malloc/free, so linking either one replaces the process's malloc (only
// the mi_*/mallocx entry points were wanted); mimalloc 2.0 also returns a 64 MiB block (a
// 4096x4096 float32 tensor; its "huge" objects get a segment each) to the OS on free, so a loop of
// such allocations faults every page in again (measured here: 40-50 ms per 64 MiB, 7-10 ms with
// its large-OS-pages option, against ~0 for a cached block); and neither has a byte limit for
// what it keeps, nor PyTorch-style stats. What is left for them (small blocks) glibc does well.
#pragma once

#include <cstddef>

namespace smx::detail {

// Smaller buffers come from operator new: glibc keeps those in its heap without faulting.
constexpr std::size_t kCacheMinBytes = std::size_t{64} << 10;

struct Block {
  void* ptr = nullptr;
  std::size_t bytes = 0;  // the size class: pass it back to release_block
  bool fresh = false;     // straight from the OS, so all zero
};

// A buffer of at least `nbytes` (>= kCacheMinBytes), page aligned, 2 MiB aligned from 2 MiB up.
// Throws std::bad_alloc when the OS refuses (after returning the cache to it and retrying).
Block acquire_block(std::size_t nbytes);
// Gives a buffer from acquire_block back; it is cached or unmapped. Any thread may call it.
void release_block(void* ptr, std::size_t bytes);
// The size class `nbytes` rounds up to (four classes per power of two below 2 MiB, so at most
// 25% waste; multiples of 2 MiB above).
std::size_t block_size_class(std::size_t nbytes);

}  // namespace smx::detail
