// The command's softmax over dim 0 of a file split between MPI ranks, computed so that the bytes
// are exactly what one process writes. One process cuts the dim into the engine's units and folds
// their statistics in a fixed order (engine/engine.h); this drives the same pieces across ranks,
// which the library's smx::dist (one collective, within 2 ulp) does not attempt:
//   columns (dims after 0), n > kColShortN: the tall-column running (max, sum) per lane passes
//       from rank to rank (rank r folds its rows, in tiles of kColTile counted from row 0, into
//       the state it received from rank r-1); the last rank broadcasts it; every rank writes.
//       Rank boundaries fall on multiples of kColTile, so the tiles are one process's tiles.
//   columns, n <= kColShortN: the global per-lane max (an MPI_MAX allreduce: exact), then the
//       double sum of exp(x - max) in row order, passed from rank to rank, then the write.
//   one row (nothing after dim 0), n > kFusedRowMax: per-chunk (max, sum) of kFusedRowMax
//       elements (rank boundaries on chunk boundaries), gathered and folded left to right.
//   one row, n <= kFusedRowMax: at most 64 Ki elements, so rank 0 gathers the row, runs the
//       one-shot kernel and scatters the result.
// The passes from rank to rank serialise the statistics pass (P - 1 messages of 12-16 bytes
// per lane); the reads, the write pass and the file writes stay parallel.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <vector>

#include "smx/op.h"
#include "smx/tensor.h"

namespace smx::cli {

// Row boundaries (size + 1 of them) for `rows` rows of `inner` elements split between `size`
// ranks as evenly as the alignment above allows.
std::vector<std::int64_t> split_dim0(std::int64_t rows, std::int64_t inner, int size);

// This rank's rows of the result; x_local is its rows [bounds[rank], bounds[rank + 1]) of the
// whole array (C order, of the op's dtype). Collective over comm.
Tensor softmax_dim0_exact(Op kind, const Tensor& x_local, const std::vector<std::int64_t>& bounds,
                          MPI_Comm comm);

}  // namespace smx::cli
