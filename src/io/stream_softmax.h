// The forward softmax family from one .npy file to another in bounded memory: the input is read,
// computed and written in blocks of about `block_bytes`, so a file larger than RAM works, and the
// result is bitwise identical to the in-memory op on the whole array.
//
// The array is seen as (outer, n, inner), n being the softmax dim. Blocks follow the engine's own
// decomposition (engine/engine.h: cut_for and the pieces), which depends only on the shape and dim:
//   - whole groups fit (n * inner elements per outer index): blocks of whole outer slices, each
//     given to softmax_out - the same op on a smaller batch, exact by construction;
//   - one long last-dim row does not fit: two passes over the row in pieces of whole 64Ki
//     chunks (statistics folded in order, then the write), as the executor cuts long rows;
//   - one outer slice of columns does not fit: columns of at most kColShortN rows are read as
//     column slabs (all n rows, a block of lanes; pread per row) and given to softmax_out; taller
//     columns take two passes over blocks of whole kColTile-row tiles (per-lane running max and
//     sum, then the write) for as many lanes as fit - the column kernel's own two passes.
// Output goes through AtomicFile: nothing appears under `output` unless everything succeeded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "io/npy_file.h"
#include "smx/op.h"

namespace smx::io {

// The block size: SMX_STREAM_BLOCK_BYTES if set (tests force many blocks with small files),
// else kDefaultStreamBlockBytes.
inline constexpr std::size_t kDefaultStreamBlockBytes = std::size_t{8} << 20;
std::size_t stream_block_bytes();

// `dim` must be wrapped, `dtype` floating (the op's dtype: the input's, or the cast's), the
// input non-empty; the caller has checked the arguments the way the op does.
void stream_softmax_file(Op kind, const NpyFile& input, std::int64_t dim, Dtype dtype,
                         const std::string& output, std::size_t block_bytes);

}  // namespace smx::io
