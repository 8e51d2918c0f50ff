#include "runtime/tuning.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <string>
#include <thread>

namespace smx::detail {

namespace {

// A cache size from sysconf, else sysfs (cpu0's index<i>), else the fallback.
std::int64_t cache_size(int sysconf_name, int sysfs_level, const char* sysfs_type, std::int64_t fallback) {
  const long v = ::sysconf(sysconf_name);
  if (v > 0) return v;
  for (int i = 0; i < 8; ++i) {
    const std::string dir = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(i) + "/";
    std::ifstream level(dir + "level"), type(dir + "type"), size(dir + "size");
    int l = 0;
    std::string t, s;
    if (!(level >> l) || !(type >> t) || !(size >> s) || l != sysfs_level || t != sysfs_type) continue;
    std::int64_t bytes = std::stoll(s);
    if (!s.empty() && (s.back() == 'K' || s.back() == 'k')) bytes <<= 10;
    if (!s.empty() && s.back() == 'M') bytes <<= 20;
    if (bytes > 0) return bytes;
  }
  return fallback;
}

Tuning measure() {
  Tuning t{};
  t.cache.l1d = cache_size(_SC_LEVEL1_DCACHE_SIZE, 1, "Data", 32 << 10);
  t.cache.l2 = cache_size(_SC_LEVEL2_CACHE_SIZE, 2, "Unified", 1 << 20);
  t.cache.l3 = cache_size(_SC_LEVEL3_CACHE_SIZE, 3, "Unified", 0);
  t.cache.cores = std::max<std::int64_t>(1, std::thread::hardware_concurrency());
  const std::int64_t l2 = std::clamp<std::int64_t>(t.cache.l2, 256 << 10, 8 << 20);  // sane bounds
  t.stream_output_bytes = 2 * l2 * std::min<std::int64_t>(t.cache.cores, 64);
  t.stream_min_run_bytes = 4096;
  t.prefetch_row_bytes = l2 / 32;
  t.column_scratch_bytes = l2 / 8;
  t.group_tile_bytes = l2 / 8;
  t.group_prefetch_bytes = l2 / 32;
  t.masked_run_bytes = l2 / 16;
  return t;
}

}  // namespace

const Tuning& tuning() {
  static const Tuning t = measure();
  return t;
}

}  // namespace smx::detail
