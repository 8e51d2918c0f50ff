// The engine's pieces (engine/engine.h: what the streaming file path and the MPI ranks drive)
// against the whole-tensor op, bit for bit, on every SIMD target this CPU supports and with the
// reference kernels: long rows in pieces of whole chunks, tall columns in row blocks of whole
// tiles, short columns in the max/sum/write passes, any lane blocks - each must reproduce softmax
// on the whole tensor exactly.
#include <gtest/gtest.h>

#include <hwy/targets.h>

#include <cstring>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "simd_target_fixture.h"
#include "smx/smx.h"

namespace smx {
namespace {


using test::supported_targets;
using test::target_name;
class Pieces : public test::SimdTargetTest {};

Tensor whole(Op kind, const Tensor& x, std::int64_t dim) {
  switch (kind) {
    case Op::kSoftmax: return softmax(x, dim);
    case Op::kLogSoftmax: return log_softmax(x, dim);
    default: return softmin(x, dim);
  }
}

bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.numel() == b.numel() && a.dtype() == b.dtype() &&
         std::memcmp(a.data_ptr(), b.data_ptr(), static_cast<std::size_t>(a.numel()) * a.element_size()) == 0;
}

// Inputs with the cases that exercise the merging: a max that grows late, -inf entries, and
// a region of large values.
Tensor input(const Size& shape, Dtype dtype, std::uint64_t seed) {
  Tensor x = randn(shape, seed, kFloat64);
  auto* p = x.data<double>();
  const std::int64_t n = x.numel();
  for (std::int64_t i = 0; i < n; ++i) p[i] *= 4.0;
  p[n - 1] = 30.0;
  p[n / 3] = -std::numeric_limits<double>::infinity();
  p[n / 2] = 25.0;
  return x.to(dtype);
}

const Op kKinds[] = {Op::kSoftmax, Op::kLogSoftmax, Op::kSoftmin};
const Dtype kDtypes[] = {kFloat32, kFloat64, kFloat16, kBFloat16};

void long_rows_in_pieces() {
  const std::int64_t n = 3 * detail::kFusedRowMax + 1234;
  for (Dtype dtype : kDtypes) {
    const Tensor x = input({n}, dtype, 7);
    const std::size_t e = x.element_size();
    for (Op kind : kKinds) {
      const Tensor expected = whole(kind, x, 0);
      for (std::int64_t chunks : {1, 2, 4}) {
        const std::int64_t piece = chunks * detail::kFusedRowMax;
        detail::RowPieces row(kind, dtype);
        const auto* in = static_cast<const char*>(x.data_ptr());
        for (std::int64_t i = 0; i < n; i += piece) row.add(in + i * e, std::min(piece, n - i));
        Tensor y = empty({n}, dtype);
        auto* out = static_cast<char*>(y.data_ptr());
        for (std::int64_t i = 0; i < n; i += piece) row.write(in + i * e, out + i * e, std::min(piece, n - i));
        EXPECT_TRUE(same_bytes(y, expected)) << dtype_name(dtype) << " piece " << piece;
      }
    }
  }
}

// Columns of n rows in row blocks of `rows` (whole tiles) and lane blocks: tall columns fold in
// one pass, short ones in the max pass then the sum pass, as the whole-tensor call does.
void columns_in_pieces(std::int64_t n) {
  const std::int64_t inner = 37;
  const bool tall = !detail::cut_for(n, inner).whole;
  for (Dtype dtype : kDtypes) {
    const Tensor x = input({n, inner}, dtype, 11);
    const std::size_t e = x.element_size();
    for (Op kind : kKinds) {
      const Tensor expected = whole(kind, x, 0);
      for (std::int64_t lanes : {std::int64_t{1}, std::int64_t{5}, inner}) {
        for (std::int64_t rows : {detail::kColTile, 4 * detail::kColTile, n}) {
          Tensor y = empty({n, inner}, dtype);
          for (std::int64_t l0 = 0; l0 < inner; l0 += lanes) {
            const std::int64_t w = std::min(lanes, inner - l0);
            detail::ColumnPieces cols(kind, dtype, w);
            std::vector<char> xb(static_cast<std::size_t>(rows * w) * e), yb(xb.size());
            auto gather = [&](std::int64_t r, std::int64_t h) {
              for (std::int64_t i = 0; i < h; ++i) {
                std::memcpy(xb.data() + i * w * e, static_cast<const char*>(x.data_ptr()) + ((r + i) * inner + l0) * e,
                            w * e);
              }
            };
            for (std::int64_t r = 0; r < n; r += rows) {
              const std::int64_t h = std::min(rows, n - r);
              gather(r, h);
              if (tall) cols.add(xb.data(), h);
              else cols.add_max(xb.data(), h);
            }
            for (std::int64_t r = 0; r < n && !tall; r += rows) {
              const std::int64_t h = std::min(rows, n - r);
              gather(r, h);
              cols.add_sum(xb.data(), h);
            }
            for (std::int64_t r = 0; r < n; r += rows) {
              const std::int64_t h = std::min(rows, n - r);
              gather(r, h);
              cols.write(xb.data(), yb.data(), h);
              for (std::int64_t i = 0; i < h; ++i) {
                std::memcpy(static_cast<char*>(y.data_ptr()) + ((r + i) * inner + l0) * e, yb.data() + i * w * e,
                            w * e);
              }
            }
          }
          EXPECT_TRUE(same_bytes(y, expected)) << dtype_name(dtype) << " lanes " << lanes << " rows " << rows;
        }
      }
    }
  }
}

TEST_P(Pieces, LongRowsInPiecesOfWholeChunksMatchTheWholeRow) { long_rows_in_pieces(); }
TEST_P(Pieces, TallColumnsInRowBlocksAndLaneBlocksMatchTheWholeSlice) {
  columns_in_pieces(detail::kColShortN + 3 * detail::kColTile + 5);  // with a ragged last tile
}
TEST_P(Pieces, ShortColumnsInRowBlocksAndLaneBlocksMatchTheWholeSlice) { columns_in_pieces(detail::kColShortN - 7); }

INSTANTIATE_TEST_SUITE_P(Targets, Pieces, ::testing::ValuesIn(supported_targets()), target_name);

// The reference kernels fill the same table and are cut on the same boundaries: the pieces give
// the whole-tensor call's bits under SMX_ISA=REFERENCE too (so the streaming file path and the MPI
// ranks use them, and agree with one process).
TEST(ReferencePieces, MatchTheWholeTensorLikeEveryTarget) {
  const bool before = detail::reference_kernels_selected();
  detail::force_reference_kernels_for_test(true);
  long_rows_in_pieces();
  columns_in_pieces(detail::kColShortN + 3 * detail::kColTile + 5);
  columns_in_pieces(detail::kColShortN - 7);
  detail::force_reference_kernels_for_test(before);
}

}  // namespace
}  // namespace smx
