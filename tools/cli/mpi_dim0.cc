#include "mpi_dim0.h"

#include <algorithm>
#include <limits>

#include "engine/engine.h"
#include "smx/errors.h"
#include "smx/softmax.h"

namespace smx::cli {

namespace {

using detail::ColumnPieces;
using detail::RowStats;

// Elements per row of dim 0 (from the shape: a rank with no rows still has them).
std::int64_t inner_of(const Tensor& x) {
  std::int64_t inner = 1;
  for (std::int64_t d = 1; d < x.dim(); ++d) inner *= x.size(d);
  return inner;
}

void check(int rc, const char* call) {
  if (rc != MPI_SUCCESS) throw RuntimeError(std::string("smx: ") + call + " failed");
}

MPI_Datatype max_type(const ColumnPieces& cols) {
  return const_cast<ColumnPieces&>(cols).max_bytes() == 8 ? MPI_DOUBLE : MPI_FLOAT;
}

// Passes the columns' running state from rank r-1 to rank r (after `fold` on each rank, in rank
// order), then from the last rank to everyone.
template <typename Fold>
void fold_along_ranks(ColumnPieces& cols, bool with_max, bool with_sum, Fold&& fold, MPI_Comm comm, int rank,
                      int size, int tag) {
  const int n = static_cast<int>(cols.lanes());
  if (rank > 0) {
    if (with_max) check(MPI_Recv(cols.max_data(), n, max_type(cols), rank - 1, tag, comm, MPI_STATUS_IGNORE), "MPI_Recv");
    if (with_sum) check(MPI_Recv(cols.sum_data(), n, MPI_DOUBLE, rank - 1, tag + 1, comm, MPI_STATUS_IGNORE), "MPI_Recv");
  }
  fold();
  if (rank + 1 < size) {
    if (with_max) check(MPI_Send(cols.max_data(), n, max_type(cols), rank + 1, tag, comm), "MPI_Send");
    if (with_sum) check(MPI_Send(cols.sum_data(), n, MPI_DOUBLE, rank + 1, tag + 1, comm), "MPI_Send");
  }
  if (with_max) check(MPI_Bcast(cols.max_data(), n, max_type(cols), size - 1, comm), "MPI_Bcast");
  if (with_sum) check(MPI_Bcast(cols.sum_data(), n, MPI_DOUBLE, size - 1, comm), "MPI_Bcast");
}

// Columns: the engine's column passes, their running state passed along the ranks. Tall columns
// fold (max, sum) in tiles; short ones take the max over every row first (an MPI_MAX allreduce is
// exact), then the sum in row order.
Tensor columns(Op op, const Tensor& x, std::int64_t lanes, bool tall, MPI_Comm comm, int rank, int size) {
  ColumnPieces cols(op, x.dtype(), lanes);
  const std::int64_t rows = x.size(0);
  if (tall) {
    fold_along_ranks(cols, true, true, [&] { if (rows > 0) cols.add(x.data_ptr(), rows); }, comm, rank, size, 0);
  } else {
    if (rows > 0) cols.add_max(x.data_ptr(), rows);
    check(MPI_Allreduce(MPI_IN_PLACE, cols.max_data(), static_cast<int>(lanes), max_type(cols), MPI_MAX, comm),
          "MPI_Allreduce");
    fold_along_ranks(cols, false, true, [&] { if (rows > 0) cols.add_sum(x.data_ptr(), rows); }, comm, rank, size, 2);
  }
  Tensor y = empty(x.sizes(), x.dtype());
  if (rows > 0) cols.write(x.data_ptr(), y.data_ptr(), rows);
  return y;
}

// A long row: every chunk's statistics from every rank, folded left to right on every rank.
Tensor long_row(Op op, const Tensor& x, const std::vector<std::int64_t>& bounds, std::int64_t chunk, MPI_Comm comm,
                int rank, int size) {
  const std::int64_t n = x.numel();
  std::vector<double> mine;
  for (const RowStats& s : detail::row_chunk_stats(op, x.dtype(), x.data_ptr(), n)) {
    mine.push_back(s.max);
    mine.push_back(s.sum);
  }
  auto chunks = [chunk](std::int64_t len) { return (len + chunk - 1) / chunk; };
  std::vector<int> counts(static_cast<std::size_t>(size)), displs(static_cast<std::size_t>(size));
  int total = 0;
  for (int r = 0; r < size; ++r) {
    counts[r] = static_cast<int>(2 * chunks(bounds[r + 1] - bounds[r]));
    displs[r] = total;
    total += counts[r];
  }
  std::vector<double> all(static_cast<std::size_t>(total));
  check(MPI_Allgatherv(mine.data(), counts[rank], MPI_DOUBLE, all.data(), counts.data(), displs.data(), MPI_DOUBLE,
                       comm), "MPI_Allgatherv");
  detail::RowPieces row(op, x.dtype());
  for (int c = 0; c < total / 2; ++c) row.merge(RowStats{all[2 * c], all[2 * c + 1]});
  Tensor y = empty(x.sizes(), x.dtype());
  row.write(x.data_ptr(), y.data_ptr(), n);
  return y;
}

// A short row (one chunk at most): rank 0 gathers it, computes, scatters.
Tensor short_row(Op op, const Tensor& x, const std::vector<std::int64_t>& bounds, MPI_Comm comm, int rank, int size) {
  const auto elem = static_cast<std::int64_t>(x.element_size());
  std::vector<int> counts(static_cast<std::size_t>(size)), displs(static_cast<std::size_t>(size));
  for (int r = 0; r < size; ++r) {
    counts[r] = static_cast<int>((bounds[r + 1] - bounds[r]) * elem);
    displs[r] = static_cast<int>(bounds[r] * elem);
  }
  std::vector<std::int64_t> shape = x.sizes().vec();
  shape[0] = bounds[size];
  Tensor whole = empty(Size(shape), x.dtype()), result;
  check(MPI_Gatherv(x.data_ptr(), counts[rank], MPI_BYTE, whole.data_ptr(), counts.data(), displs.data(), MPI_BYTE, 0,
                    comm), "MPI_Gatherv");
  if (rank == 0) result = forward(op, whole, 0);
  Tensor y = empty(x.sizes(), x.dtype());
  check(MPI_Scatterv(rank == 0 ? result.data_ptr() : nullptr, counts.data(), displs.data(), MPI_BYTE, y.data_ptr(),
                     counts[rank], MPI_BYTE, 0, comm), "MPI_Scatterv");
  return y;
}

}  // namespace

std::vector<std::int64_t> split_dim0(std::int64_t rows, std::int64_t inner, int size) {
  // Rank boundaries fall on the engine's unit boundaries: chunks of a long row, tiles of tall
  // columns (short columns and short rows need none).
  const detail::Cut cut = detail::cut_for(rows, inner);
  const std::int64_t align = cut.whole ? 1 : cut.chunk;
  std::vector<std::int64_t> bounds;
  for (int r = 0; r <= size; ++r) {
    const std::int64_t even = rows * r / size;
    bounds.push_back(r == size ? rows : std::min(rows, (even + align / 2) / align * align));
  }
  return bounds;
}

Tensor softmax_dim0_exact(Op op, const Tensor& x_local, const std::vector<std::int64_t>& bounds, MPI_Comm comm) {
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  const Tensor x = x_local.contiguous();
  const std::int64_t rows = bounds[static_cast<std::size_t>(size)];
  const std::int64_t inner = inner_of(x);
  if (inner > std::numeric_limits<int>::max() / 2) throw RuntimeError("smx: too many elements after dim 0 for MPI");
  const detail::Cut cut = detail::cut_for(rows, inner);
  if (!cut.rows) return columns(op, x, inner, !cut.whole, comm, rank, size);
  return cut.whole ? short_row(op, x, bounds, comm, rank, size) : long_row(op, x, bounds, cut.chunk, comm, rank, size);
}

}  // namespace smx::cli
