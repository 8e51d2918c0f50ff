// What the engine did on its last call, for tests: the family that ran, whether its output took
// non-temporal stores, how many units of work it cut the problem into and on how many distinct
// threads they ran. Off (and free) unless a
// test turns it on.
#pragma once

#include <cstdint>

#include "engine/plan.h"

namespace smx::detail {

struct ExecutionReport {
  Family family = Family::kRowBlocks;
  bool stream = false;       // the store policy's decision for the call (runtime/tuning.h)
  std::int64_t units = 0;    // work items (rows, row blocks, chunks, lane blocks, groups, tiles)
  std::int64_t threads = 0;  // distinct threads that ran them
};

void record_executions_for_test(bool on);
// The report of the last call since recording was turned on.
ExecutionReport last_execution_for_test();

// Called by the executor: a call starts (resets the report), a unit runs on this thread.
void report_start(Family family, bool stream);
void report_unit();

}  // namespace smx::detail
