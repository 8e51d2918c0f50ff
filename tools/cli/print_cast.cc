#include "print_cast.h"

#include <vector>

#include "io/host_buffer.h"
#include "tensor/element_access.h"
#include "tensor/strided_loop.h"

namespace smx::cli {

namespace {

// torch/_tensor_str.py's threshold and edgeitems (the printer in src/print uses the same).
constexpr std::int64_t kThreshold = 1000;
constexpr std::int64_t kEdgeItems = 3;

}  // namespace

Tensor cast_for_printing(const Tensor& x, Dtype dtype) {
  if (x.dtype() == dtype || x.numel() <= kThreshold) return x.to(dtype);
  // The printed indices of each dim.
  std::vector<std::vector<std::int64_t>> picks;
  std::uint64_t combos = 1;
  for (std::int64_t d = 0; d < x.dim(); ++d) {
    std::vector<std::int64_t> p;
    const std::int64_t n = x.size(d);
    for (std::int64_t i = 0; i < n; ++i) {
      if (n <= 2 * kEdgeItems || i < kEdgeItems || i >= n - kEdgeItems) p.push_back(i);
      else i = n - kEdgeItems - 1;
    }
    combos *= p.size();
    picks.push_back(std::move(p));
  }
  if (combos >= static_cast<std::uint64_t>(x.numel())) return x.to(dtype);
  const std::vector<std::int64_t> sizes = x.sizes().vec();
  const std::vector<std::int64_t> out_strides = x.sizes().contiguous_strides();
  const Tensor out(io::uninitialised_storage(static_cast<std::size_t>(x.numel()) * element_size(dtype)), x.sizes(),
                   out_strides, 0, dtype);
  std::vector<std::size_t> at(picks.size(), 0);  // odometer over the picks
  const void* src = x.data_ptr();
  void* dst = out.data_ptr();
  while (true) {
    std::int64_t in_off = 0, out_off = 0;
    for (std::size_t d = 0; d < picks.size(); ++d) {
      in_off += picks[d][at[d]] * x.strides()[d];
      out_off += picks[d][at[d]] * out_strides[d];
    }
    // As Tensor::to casts to a floating dtype: through double, rounded once.
    detail::store_from_double(dst, dtype, out_off, detail::load_as_double(src, x.dtype(), in_off));
    std::size_t d = picks.size();
    while (d > 0 && ++at[d - 1] == picks[d - 1].size()) at[--d] = 0;
    if (d == 0) break;
  }
  return out;
}

}  // namespace smx::cli
