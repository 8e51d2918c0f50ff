// Columns: dims follow the softmax dim. The column kernels walk down `n` rows of side-by-side
// lanes (vector-wide when the lanes are contiguous, one lane at a time when they are not) - no
// transposing copy. Threads split (group, block of lanes) items; each lane is computed on its
// own, so the blocking changes no bit.
//
// Masked columns read through the masked load; a lane whose column keeps no element then gets
// the fully masked value.
#include <algorithm>
#include <cstring>

#include "engine/job.h"
#include "engine/report.h"
#include "runtime/parallel.h"
#include "smx/threading.h"

namespace smx::detail {

namespace {

// Runs fn(group, first lane, lane count) over every (group, block of lanes), in parallel. Blocks
// are as wide as the threads allow (the column kernels walk rows, and wider blocks mean longer
// contiguous runs); each lane's result does not depend on the blocking.
template <typename Fn>
void for_each_lane_block(const Plan& plan, Fn&& fn) {
  const std::int64_t threads = get_num_threads();
  const std::int64_t batch = plan.batch_count();
  const std::int64_t per_thread = batch >= threads ? plan.lanes.size : (plan.lanes.size + threads - 1) / threads;
  const std::int64_t block = std::max(kLaneBlock, (per_thread + kLaneBlock - 1) / kLaneBlock * kLaneBlock);
  const std::int64_t blocks = (plan.lanes.size + block - 1) / block;
  const std::int64_t items = batch * blocks;
  parallel_for(items, items * block * plan.n() / kMinElementsPerThread, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t item = begin; item < end; ++item) {
      report_unit();
      const std::int64_t l0 = (item % blocks) * block;
      fn(item / blocks, l0, std::min(block, plan.lanes.size - l0));
    }
  });
}

// The masked load of a block of lanes (mask bytes at the block's first lane).
MaskedLoad column_load(const Job& job, std::int64_t mask_offset) {
  MaskedLoad m;
  m.mask = job.mask_at(mask_offset);
  m.mask_stride = job.plan.row.strides[job.mask_slot];
  m.mask_lane_stride = job.plan.lanes.strides[job.mask_slot];
  m.scaled = job.mask->scale.has_value();
  m.scale = job.mask->scale.value_or(1.0);
  return m;
}

// The lanes of a block whose column keeps nothing get the fully masked value.
void fill_fully_masked_lanes(const Job& job, const MaskedLoad& m, char* y, std::int64_t width) {
  const Plan& plan = job.plan;
  const double fill = job.fully_masked_value();
  for (std::int64_t l = 0; l < width; ++l) {
    unsigned any = 0;
    for (std::int64_t i = 0; i < plan.n(); ++i) any |= m.mask[i * m.mask_stride + l * m.mask_lane_stride];
    if (any != 0) continue;
    for (std::int64_t i = 0; i < plan.n(); ++i) {
      job.k.fill(y + (i * plan.row.strides[kOut] + l * plan.lanes.strides[kOut]) * job.elem, 1, fill, false);
    }
  }
}

}  // namespace

void forward_columns(const Job& job) {
  const Plan& plan = job.plan;
  for_each_lane_block(plan, [&](std::int64_t b, std::int64_t l0, std::int64_t width) {
    const auto off = plan.batch_offsets(b);
    const char* x = job.at(kIn, off[kIn] + l0 * plan.lanes.strides[kIn]);
    char* y = job.at(kOut, off[kOut] + l0 * plan.lanes.strides[kOut]);
    MaskedLoad m;
    const bool masked = job.mask != nullptr && job.mask->base != nullptr;
    if (masked) m = column_load(job, off[job.mask_slot] + l0 * plan.lanes.strides[job.mask_slot]);
    if (job.mask != nullptr && !masked && job.mask->scale) {  // scaled, no mask bytes: every element kept
      static const std::uint8_t kKeep = 1;
      m = column_load(job, 0);
      m.mask = &kKeep;
      m.mask_stride = m.mask_lane_stride = 0;
    }
    const MaskedLoad* load = job.mask != nullptr && (masked || job.mask->scale) ? &m : nullptr;
    if (plan.family == Family::kColumns) {
      job.k.cols(job.op, x, plan.row.strides[kIn], y, plan.row.strides[kOut], plan.n(), width, job.stream, load);
    } else {
      job.k.cols_strided(job.op, x, plan.row.strides[kIn], plan.lanes.strides[kIn], y, plan.row.strides[kOut],
                         plan.lanes.strides[kOut], plan.n(), width, load);
    }
    if (masked) fill_fully_masked_lanes(job, m, y, width);
  });
}

void backward_columns(const Job& job) {
  const Plan& plan = job.plan;
  for_each_lane_block(plan, [&](std::int64_t b, std::int64_t l0, std::int64_t width) {
    const auto off = plan.batch_offsets(b);
    const auto& ls = plan.lanes.strides;
    const auto& rs = plan.row.strides;
    const char* g = job.at(kGrad, off[kGrad] + l0 * ls[kGrad]);
    const char* y = job.at(kY, off[kY] + l0 * ls[kY]);
    char* dx = job.at(kDx, off[kDx] + l0 * ls[kDx]);
    MaskedLoad m;
    const MaskedLoad* store = nullptr;
    if (job.mask != nullptr) {  // (the entry hands masked ops with nothing to mask over as plain)
      static const std::uint8_t kKeep = 1;
      m = column_load(job, off[job.mask_slot] + l0 * ls[job.mask_slot]);
      if (m.mask == nullptr) {  // no mask bytes: every element kept (the scale still applies)
        m.mask = &kKeep;
        m.mask_stride = m.mask_lane_stride = 0;
      }
      store = &m;
    }
    if (plan.family == Family::kColumns) {
      job.k.cols_backward(job.op, g, rs[kGrad], y, rs[kY], dx, rs[kDx], plan.n(), width, job.stream, store);
    } else {
      job.k.cols_backward_strided(job.op, g, rs[kGrad], ls[kGrad], y, rs[kY], ls[kY], dx, rs[kDx], ls[kDx], plan.n(),
                                  width, store);
    }
  });
}

}  // namespace smx::detail
