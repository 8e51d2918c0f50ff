// A small fork-join pool: parallel_for splits [0, n) into contiguous chunks, one per thread.
#pragma once

#include <cstdint>
#include <functional>
#include <type_traits>

namespace smx::detail {

// Below this many elements per thread, waking another thread costs more than it saves: callers
// pass work / kMinElementsPerThread as parallel_for's max_chunks.
inline constexpr std::int64_t kMinElementsPerThread = 1 << 14;
// Lanes per work item of the column walks (fixed: results never depend on it, each lane is
// computed on its own).
inline constexpr std::int64_t kLaneBlock = 64;

// Calls fn(begin, end) over a partition of [0, n) into at most `max_chunks` contiguous chunks
// (and at most get_num_threads()), on the calling thread plus pool workers; returns when all
// are done. Runs inline when one chunk suffices. The first exception thrown is rethrown here.
void parallel_for(std::int64_t n, std::int64_t max_chunks,
                  const std::function<void(std::int64_t begin, std::int64_t end)>& fn);
// The same for any callable, passed on by reference: a std::function holding a reference_wrapper
// stores it in place, where a lambda with a few captures would be copied to the heap - one
// allocation per call, which a call on a few elements feels.
template <class Fn>
  requires(!std::is_same_v<std::remove_cvref_t<Fn>, std::function<void(std::int64_t, std::int64_t)>>)
void parallel_for(std::int64_t n, std::int64_t max_chunks, Fn&& fn) {
  parallel_for(n, max_chunks, std::function<void(std::int64_t, std::int64_t)>(std::ref(fn)));
}

// For tests that assert how work was split: every chunk of a parallel_for waits (up to a few
// seconds) until all its chunks have started, so each runs on a thread of its own - the split is
// then visible however quickly one thread could have done everything.
void chunks_wait_for_each_other_for_test(bool on);

}  // namespace smx::detail
