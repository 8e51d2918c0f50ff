#include "ops/softmax_executor.h"

#include "kernels/reference_softmax.h"
#include "ops/slab_plan.h"
#include "runtime/parallel.h"

namespace smx::detail {

namespace {

SlabOperand operand(const Tensor& t, const SlabPlan& plan, std::size_t o, std::int64_t offset) {
  return SlabOperand{static_cast<char*>(t.data_ptr()) +
                         offset * static_cast<std::int64_t>(t.element_size()),
                     plan.row.strides[o], plan.lanes.strides[o]};
}

// Below this many elements per thread, waking another thread costs more than it saves.
constexpr std::int64_t kMinElementsPerThread = 1 << 15;

// Runs slab(b) for every batch index, split across threads. Slabs are independent and each is
// computed the same way whatever thread runs it, so results do not depend on the thread count.
template <typename SlabFn>
void for_each_slab(const SlabPlan& plan, SlabFn&& slab) {
  const std::int64_t count = plan.batch_count();
  const std::int64_t work = count * plan.row.size * plan.lanes.size;
  parallel_for(count, work / kMinElementsPerThread, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t b = begin; b < end; ++b) slab(b);
  });
}

}  // namespace

void execute_forward(SoftmaxKind kind, const Tensor& x, const Tensor& y, std::int64_t dim) {
  const SlabPlan plan = plan_slabs(x.sizes().vec(), dim, {&x.strides(), &y.strides()});
  for_each_slab(plan, [&](std::int64_t b) {
    const auto off = plan.batch_offsets(b);
    const ForwardSlab slab{operand(x, plan, 0, off[0]), operand(y, plan, 1, off[1]),
                           plan.row.size, plan.lanes.size};
    reference_forward(x.dtype(), kind, slab);
  });
}

void execute_backward(BackwardKind kind, const Tensor& grad, const Tensor& output,
                      const Tensor& dx, std::int64_t dim) {
  const SlabPlan plan =
      plan_slabs(grad.sizes().vec(), dim, {&grad.strides(), &output.strides(), &dx.strides()});
  for_each_slab(plan, [&](std::int64_t b) {
    const auto off = plan.batch_offsets(b);
    const BackwardSlab slab{operand(grad, plan, 0, off[0]), operand(output, plan, 1, off[1]),
                            operand(dx, plan, 2, off[2]), plan.row.size, plan.lanes.size};
    reference_backward(grad.dtype(), kind, slab);
  });
}

}  // namespace smx::detail
