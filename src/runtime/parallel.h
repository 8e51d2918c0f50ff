// A small fork-join pool: parallel_for splits [0, n) into contiguous chunks, one per thread.
#pragma once

#include <cstdint>
#include <functional>

namespace smx::detail {

// Below this many elements per thread, waking another thread costs more than it saves: callers
// pass work / kMinElementsPerThread as parallel_for's max_chunks.
inline constexpr std::int64_t kMinElementsPerThread = 1 << 14;
// Lanes per work item of the column walks (fixed: results never depend on it, each lane is
// computed on its own).
inline constexpr std::int64_t kLaneBlock = 64;
// Outputs larger than this bypass the cache (non-temporal stores): nobody reads them back soon.
inline constexpr std::int64_t kStreamBytes = 8 << 20;

// Calls fn(begin, end) over a partition of [0, n) into at most `max_chunks` contiguous chunks
// (and at most get_num_threads()), on the calling thread plus pool workers; returns when all
// are done. Runs inline when one chunk suffices. The first exception thrown is rethrown here.
void parallel_for(std::int64_t n, std::int64_t max_chunks,
                  const std::function<void(std::int64_t begin, std::int64_t end)>& fn);

// For tests that assert how work was split: every chunk of a parallel_for waits (up to a few
// seconds) until all its chunks have started, so each runs on a thread of its own - the split is
// then visible however quickly one thread could have done everything.
void chunks_wait_for_each_other_for_test(bool on);

}  // namespace smx::detail
