// smx.softmax / log_softmax / softmin as C functions with a lean path for the common call.
#pragma once

#include <pybind11/pybind11.h>

namespace smx_python {

// Adds `softmax`, `log_softmax` and `softmin` to module `m`: vectorcall functions taking
// (input, dim=None, dtype=None, *, _stacklevel=2). A C-contiguous, aligned, native float32 or
// float64 NumPy array with an int dim in range and no dtype is computed right there: no argument
// parsing through pybind11, no Python frames, the output a NumPy array over the result's memory.
// Every other call goes, arguments untouched, to the Python function `fallbacks[op]` (the full
// path: DLPack, views, casts, the implicit-dim warning, PyTorch's errors).
void add_fast_forward(pybind11::module_& m, const pybind11::dict& fallbacks);

}  // namespace smx_python
