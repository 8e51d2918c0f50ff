#include "ops/dim_group.h"

#include <algorithm>

namespace smx::detail {

namespace {

bool in_group(const std::vector<std::int64_t>& dims, std::int64_t d) {
  return std::find(dims.begin(), dims.end(), d) != dims.end();
}

}  // namespace

std::optional<OneRunView> group_as_one_run(const std::vector<std::int64_t>& sizes,
                                           const std::vector<std::int64_t>& dims,
                                           const std::vector<std::vector<std::int64_t>>& strides) {
  const auto ndim = static_cast<std::int64_t>(sizes.size());
  std::vector<std::int64_t> g;  // group dims that matter (size-1 dims never move the walk)
  for (std::int64_t d : dims) {
    if (sizes[static_cast<std::size_t>(d)] != 1) g.push_back(d);
  }
  OneRunView view;
  if (g.size() <= 1) {  // at most one real dim: the tensor as it is, softmax over that dim
    view.sizes = sizes;
    view.strides = strides;
    view.dim = g.empty() ? dims.front() : g.front();
    return view;
  }
  // Memory order of the first operand (outermost first; ties keep the logical order).
  const auto& s0 = strides.front();
  std::stable_sort(g.begin(), g.end(), [&](std::int64_t a, std::int64_t b) {
    return s0[static_cast<std::size_t>(a)] > s0[static_cast<std::size_t>(b)];
  });
  for (const auto& s : strides) {
    for (std::size_t i = 0; i + 1 < g.size(); ++i) {
      const auto outer = static_cast<std::size_t>(g[i]);
      const auto inner = static_cast<std::size_t>(g[i + 1]);
      if (s[outer] != s[inner] * sizes[inner]) return std::nullopt;
    }
  }
  // The merged dim sits where the group's last (logical) dim was: adjacent dims of a contiguous
  // tensor give exactly x.reshape(...)'s view.
  const std::int64_t pos = *std::max_element(g.begin(), g.end());
  std::int64_t merged = 1;
  for (std::int64_t d : g) merged *= sizes[static_cast<std::size_t>(d)];
  view.strides.assign(strides.size(), {});
  for (std::int64_t d = 0; d < ndim; ++d) {
    const auto du = static_cast<std::size_t>(d);
    if (d == pos) {
      view.dim = static_cast<std::int64_t>(view.sizes.size());
      view.sizes.push_back(merged);
      for (std::size_t o = 0; o < strides.size(); ++o) {
        view.strides[o].push_back(strides[o][static_cast<std::size_t>(g.back())]);
      }
    } else if (!in_group(dims, d)) {
      view.sizes.push_back(sizes[du]);
      for (std::size_t o = 0; o < strides.size(); ++o) view.strides[o].push_back(strides[o][du]);
    }
  }
  return view;
}

std::int64_t GroupBlocks::batch_count() const {
  std::int64_t count = 1;
  for (std::int64_t s : batch_sizes) count *= s;
  return count;
}

std::int64_t GroupBlocks::batch_offset(std::int64_t index) const {
  std::int64_t offset = 0;
  for (std::size_t k = batch_sizes.size(); k-- > 0;) {
    offset += index % batch_sizes[k] * batch_strides[k];
    index /= batch_sizes[k];
  }
  return offset;
}

GroupBlocks plan_group_blocks(const std::vector<std::int64_t>& sizes, const std::vector<std::int64_t>& dims) {
  struct Block {
    std::int64_t size, stride;
    bool group;
  };
  // Contiguous strides, then blocks from the innermost dim outward.
  std::vector<Block> inner_first;
  std::int64_t stride = 1;
  for (std::size_t d = sizes.size(); d-- > 0;) {
    const std::int64_t size = sizes[d];
    const bool group = in_group(dims, static_cast<std::int64_t>(d));
    if (size != 1) {
      if (!inner_first.empty() && inner_first.back().group == group) {
        inner_first.back().size *= size;  // keeps the inner stride
      } else {
        inner_first.push_back({size, stride, group});
      }
    }
    stride *= size;
  }
  GroupBlocks plan;
  std::vector<Block> group_outer;  // group blocks walked as runs, innermost first
  plan.rows = inner_first.front().group;
  std::size_t first_other = 1;
  if (plan.rows) {
    plan.n = inner_first.front().size;
  } else {
    plan.lanes = inner_first.front().size;
    plan.n = inner_first[1].size;  // a group block: blocks alternate and there are two or more
    first_other = 2;
  }
  std::vector<Block> batch_inner_first;
  for (std::size_t i = first_other; i < inner_first.size(); ++i) {
    (inner_first[i].group ? group_outer : batch_inner_first).push_back(inner_first[i]);
  }
  // Run offsets in the group's row-major order (outermost block varies slowest).
  plan.runs = {0};
  for (const Block& b : group_outer) {  // innermost first: each outer block repeats the list
    std::vector<std::int64_t> next;
    next.reserve(plan.runs.size() * static_cast<std::size_t>(b.size));
    for (std::int64_t i = 0; i < b.size; ++i) {
      for (std::int64_t r : plan.runs) next.push_back(i * b.stride + r);
    }
    plan.runs = std::move(next);
  }
  for (auto it = batch_inner_first.rbegin(); it != batch_inner_first.rend(); ++it) {
    plan.batch_sizes.push_back(it->size);
    plan.batch_strides.push_back(it->stride);
  }
  return plan;
}

}  // namespace smx::detail
