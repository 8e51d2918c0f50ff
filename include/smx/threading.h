// The number of threads smx's kernels may use.
#pragma once

namespace smx {

// Threads used by later calls (>= 1). The default is the SMX_NUM_THREADS environment variable
// when set to a positive integer, else the hardware's thread count.
void set_num_threads(int n);
int get_num_threads();

}  // namespace smx
