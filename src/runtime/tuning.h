// The performance thresholds, in one place: each comes from the cache sizes measured on this
// machine (sysconf / sysfs at first use) and changes only how fast a result comes, never which
// bits it has. (The thresholds that do decide bits - chunk and tile sizes - are fixed constants
// in kernels/kernel_table.h: a result must not depend on the machine's caches.)
#pragma once

#include <cstdint>

namespace smx::detail {

struct CacheSizes {
  std::int64_t l1d;    // per core
  std::int64_t l2;     // per core
  std::int64_t l3;     // as the OS reports it (a VM may report the host's, so it is not used)
  std::int64_t cores;  // logical CPUs
};

struct Tuning {
  CacheSizes cache;
  // Outputs larger than this are written with non-temporal stores: twice what the cores' private
  // L2 caches hold, past which a line written now is evicted before anyone reads it again.
  std::int64_t stream_output_bytes;
  // Runs shorter than this are written with ordinary stores even then: a fence after every few
  // lines of non-temporal stores costs more than it saves.
  std::int64_t stream_min_run_bytes;
  // Rows up to this size have the next row prefetched during their exp pass: both rows and the
  // exp scratch fit in L2 with room to spare (L2 / 32).
  std::int64_t prefetch_row_bytes;
  // The short-column kernel's group of lane vectors keeps x and its exp scratch in L2 (L2 / 8).
  std::int64_t column_scratch_bytes;
  // Tiles of groups (dim lists) are about this much input, so a tile's second pass reads it from
  // L2 (L2 / 8); the gathered-rows walk prefetches this far ahead (L2 / 32).
  std::int64_t group_tile_bytes;
  std::int64_t group_prefetch_bytes;
  // Masked rows read straight from x are batched up to this many bytes per kernel call, so that
  // a row's first output is still cached when it is read back (L2 / 16).
  std::int64_t masked_run_bytes;
};

// Measured once, on first use; thread-safe.
const Tuning& tuning();

// The streaming-store decision, made here for every writer: non-temporal stores for an output of
// `output_bytes` written in contiguous runs of `run_bytes`.
inline bool stream_stores(std::int64_t output_bytes, std::int64_t run_bytes) {
  const Tuning& t = tuning();
  return output_bytes >= t.stream_output_bytes && run_bytes >= t.stream_min_run_bytes;
}

}  // namespace smx::detail
