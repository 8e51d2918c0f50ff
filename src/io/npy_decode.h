// Bulk conversion of .npy elements to tensor elements: tight loops the compiler vectorises
// (byte swaps, widening, range checks), never a call per element.
#pragma once

#include <cstddef>
#include <string>

#include "io/npy.h"

namespace smx::io {

// True when the file's bytes are the tensor's bytes (the elements need at most a byte swap in
// place): floats, 8-byte integers and bool. Narrower integers widen to int64.
bool npy_same_width(const NpyElement& f);

// Converts `count` elements stored as `f` at `src` to dtype_for(f) at `dst`, raising DataError
// (naming `source`) for bool bytes other than 0 and 1 and uint64 values above INT64_MAX.
// With npy_same_width(f), `dst` may equal `src` (converted in place); otherwise they must not
// overlap.
void decode_npy_elements(const NpyElement& f, const void* src, void* dst, std::size_t count,
                         const std::string& source);

}  // namespace smx::io
