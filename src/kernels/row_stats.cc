// Merging the (max, sum of exp(x - max)) statistics of two pieces of a row.
#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/kernel_table.h"

namespace smx::detail {

RowStats merge_row_stats(RowStats a, RowStats b) {
  if (std::isnan(a.max) || std::isnan(b.max)) {
    return {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::quiet_NaN()};
  }
  const double m = std::max(a.max, b.max);
  // A piece with sum 0 (only -inf) adds nothing; skipping it avoids exp(-inf - -inf) = NaN.
  auto part = [m](RowStats r) { return r.sum == 0.0 ? 0.0 : r.sum * std::exp(r.max - m); };
  return {m, part(a) + part(b)};
}

}  // namespace smx::detail
