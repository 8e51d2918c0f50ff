// The executor's entry: plan the problem (engine/plan.h), take the kernels kernel_table() chose,
// decide the store policy, and hand the plan's family to its part (rows.cc, columns.cc,
// groups.cc) - or, for a CUDA tensor, to the device hook.
#include <array>
#include <initializer_list>
#include <span>
#include <string>

#include "engine/device_kernels.h"
#include "engine/engine.h"
#include "engine/job.h"
#include "engine/report.h"
#include "runtime/tuning.h"
#include "smx/errors.h"

namespace smx::detail {

namespace {


// A masked op with nothing to mask over - no mask bytes, no causal rule, no scale - is the plain op.
const MaskSpec* effective(const MaskSpec* mask) {
  if (mask == nullptr || (mask->base == nullptr && !mask->causal && !mask->scale)) return nullptr;
  return mask;
}

// The plan for `tensors` (the kernels walk them all), with the mask's strides after them;
// nullopt only for dim groups over non-contiguous operands. (No allocation on the way: a call on
// a few elements costs what its fixed steps cost.)
std::optional<Plan> plan_for(std::initializer_list<const Tensor*> tensors, std::span<const std::int64_t> dims,
                             const MaskSpec* mask) {
  std::array<const std::vector<std::int64_t>*, kMaxOperands> strides{};
  std::size_t count = 0;
  for (const Tensor* t : tensors) strides[count++] = &t->strides();
  if (mask != nullptr) strides[count++] = &mask->strides;
  return plan_problem((*tensors.begin())->sizes().vec(), dims, OperandStrides(strides.data(), count), tensors.size());
}

void run(const Job& job, bool backward) {
  report_start(job.plan.family, job.stream);
  switch (job.plan.family) {
    case Family::kRowBlocks:
    case Family::kRowChunks: return backward ? backward_rows(job) : forward_rows(job);
    case Family::kColumns:
    case Family::kStridedColumns: return backward ? backward_columns(job) : forward_columns(job);
    case Family::kGroupGather:
    case Family::kGroupRows:
    case Family::kGroupColumns: return backward ? backward_groups(job) : forward_groups(job);
  }
}

// The bytes of output written as one contiguous run: all of it when the output is contiguous
// (row blocks, lane blocks and gathered groups then write adjacent memory), else a row of the
// walk when its elements are adjacent, else one element. (Writers whose units are short runs
// of a contiguous output - groups of short rows, masked rows - check their own run length.)
std::int64_t run_bytes(const Plan& plan, const Tensor& out) {
  const auto elem = static_cast<std::int64_t>(out.element_size());
  if (out.is_contiguous()) return out.numel() * elem;
  return plan.row.strides[kOut] == 1 ? plan.n() * elem : elem;
}

Job make_job(Op op, const Plan& plan, const Tensor& first, const Tensor& out, const MaskSpec* mask,
             std::size_t mask_slot) {
  Job job{op, plan, kernels_for(first.dtype()), first.dtype(), static_cast<std::int64_t>(first.element_size())};
  job.stream = stream_stores(out.numel() * job.elem, run_bytes(plan, out));
  job.mask = mask;
  job.mask_slot = mask_slot;
  if (mask != nullptr) {
    job.base[mask_slot] = const_cast<char*>(reinterpret_cast<const char*>(mask->base));
    if (mask->causal) job.causal_rows = first.size(-2);
  }
  return job;
}

[[noreturn]] void no_device_kernel() {
  throw RuntimeError("smx: this form has no CUDA kernel (the operator layer runs it on host copies)");
}

}  // namespace

void engine_forward(Op op, const Tensor& x, const Tensor& y, std::span<const std::int64_t> dims,
                    const MaskSpec* mask_in) {
  const MaskSpec* mask = effective(mask_in);
  if (x.is_cuda()) {
    if (mask != nullptr || dims.size() != 1) no_device_kernel();
    const std::optional<Plan> plan = plan_for({&x, &y}, dims, nullptr);
    void* const base[2] = {x.data_ptr(), y.data_ptr()};
    device_forward(op, x.dtype(), *plan, base, x.device().index());
    return;
  }
  std::optional<Plan> plan = plan_for({&x, &y}, dims, mask);
  Tensor xc;  // the contiguous copy a dim group over a strided x needs
  if (!plan) {
    xc = x.contiguous();
    plan = plan_for({&xc, &y}, dims, mask);
    if (!plan) throw RuntimeError("smx: internal error: a dim group needs a contiguous output");
  }
  const Tensor& in = xc.defined() ? xc : x;
  Job job = make_job(op, *plan, in, y, mask, kMaskF);
  job.base[kIn] = static_cast<char*>(in.data_ptr());
  job.base[kOut] = static_cast<char*>(y.data_ptr());
  run(job, false);
}

void engine_backward(Op op, const Tensor& grad, const Tensor& output, const Tensor& dx,
                     std::span<const std::int64_t> dims, const MaskSpec* mask_in) {
  const MaskSpec* mask = effective(mask_in);
  if (grad.is_cuda()) {
    if (mask != nullptr || dims.size() != 1) no_device_kernel();
    const std::optional<Plan> plan = plan_for({&grad, &output, &dx}, dims, nullptr);
    void* const base[3] = {grad.data_ptr(), output.data_ptr(), dx.data_ptr()};
    device_backward(op, grad.dtype(), *plan, base, grad.device().index());
    return;
  }
  std::optional<Plan> plan = plan_for({&grad, &output, &dx}, dims, mask);
  Tensor gc, yc;
  if (!plan) {
    gc = grad.contiguous();
    yc = output.contiguous();
    plan = plan_for({&gc, &yc, &dx}, dims, mask);
    if (!plan) throw RuntimeError("smx: internal error: a dim group needs a contiguous output");
  }
  const Tensor& g = gc.defined() ? gc : grad;
  const Tensor& y = yc.defined() ? yc : output;
  Job job = make_job(op, *plan, g, dx, mask, kMaskB);
  job.base[kGrad] = static_cast<char*>(g.data_ptr());
  job.base[kY] = static_cast<char*>(y.data_ptr());
  job.base[kDx] = static_cast<char*>(dx.data_ptr());
  run(job, true);
}

}  // namespace smx::detail
