#include "engine/report.h"

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

namespace smx::detail {

namespace {

std::atomic<bool> g_on{false};
std::mutex g_mutex;
ExecutionReport g_report;
std::set<std::thread::id> g_threads;

}  // namespace

void record_executions_for_test(bool on) { g_on.store(on); }

ExecutionReport last_execution_for_test() {
  std::lock_guard<std::mutex> lock(g_mutex);
  ExecutionReport r = g_report;
  r.threads = static_cast<std::int64_t>(g_threads.size());
  return r;
}

void report_start(Family family, bool stream) {
  if (!g_on.load(std::memory_order_relaxed)) return;
  std::lock_guard<std::mutex> lock(g_mutex);
  g_report = ExecutionReport{family, stream, 0, 0};
  g_threads.clear();
}

void report_unit() {
  if (!g_on.load(std::memory_order_relaxed)) return;
  std::lock_guard<std::mutex> lock(g_mutex);
  ++g_report.units;
  g_threads.insert(std::this_thread::get_id());
}

}  // namespace smx::detail
