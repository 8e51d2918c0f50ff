// Choosing the implementation, in one place: the scalar reference kernels or a SIMD target (the
// best one this CPU supports, unless SMX_ISA names another).
#include <hwy/cache_control.h>
#include <hwy/targets.h>

#include <array>
#include <atomic>
#include <bit>
#include <cctype>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>

#include "kernels/kernel_table.h"
#include "kernels/simd_parts.h"
#include "smx/errors.h"
#include "smx/simd.h"

namespace smx::detail {

std::int64_t supported_simd_targets() { return hwy::SupportedTargets() & compiled_simd_targets(); }

namespace {

std::atomic<bool> g_reference{false};

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// Honours SMX_ISA once: disables every target better than the one it names.
void apply_isa_override() {
  const char* env = std::getenv("SMX_ISA");
  if (env == nullptr || *env == '\0') return;
  const std::string wanted = upper(env);
  if (wanted == "REFERENCE") {
    g_reference.store(true);
    return;
  }
  std::string available = "REFERENCE";
  const std::int64_t supported = supported_simd_targets();
  for (std::int64_t bit = 1; bit > 0 && bit <= supported; bit <<= 1) {
    if (!(supported & bit)) continue;
    const std::string name = hwy::TargetName(bit);
    if (upper(name) == wanted) {
      hwy::DisableTargets(bit - 1);  // better targets have lower bits
      return;
    }
    available += ", " + name;
  }
  throw RuntimeError("SMX_ISA=" + std::string(env) + " is not a target this build supports on this CPU (available: " +
                     available + ")");
}

void apply_isa_override_once() {
  static std::once_flag once;
  std::call_once(once, apply_isa_override);
}

// The dispatched target's three parts as one table, assembled once per target (targets change
// only in tests and benchmarks) and then read without a lock.
const KernelTable& assembled(const KernelTable& rows, const KernelTable& cols, const KernelTable& bwd) {
  static std::array<std::atomic<const KernelTable*>, 64> cache{};
  auto& slot = cache[static_cast<std::size_t>(std::countr_zero(static_cast<std::uint64_t>(rows.target_bit)) & 63)];
  if (const KernelTable* t = slot.load(std::memory_order_acquire)) return *t;
  static std::mutex mutex;
  std::lock_guard<std::mutex> lock(mutex);
  if (const KernelTable* t = slot.load(std::memory_order_acquire)) return *t;
  auto* t = new KernelTable(rows);  // lives as long as the process, like the parts
  auto merge = [](DtypeKernels& k, const DtypeKernels& c, const DtypeKernels& b) {
    k.cols = c.cols;
    k.cols_strided = c.cols_strided;
    k.cols_stats = c.cols_stats;
    k.cols_max = c.cols_max;
    k.cols_sum = c.cols_sum;
    k.cols_write = c.cols_write;
    k.rows_backward = b.rows_backward;
    k.row_backward_acc = b.row_backward_acc;
    k.row_backward_write = b.row_backward_write;
    k.cols_backward = b.cols_backward;
    k.cols_backward_strided = b.cols_backward_strided;
    k.cols_backward_acc = b.cols_backward_acc;
    k.cols_backward_write = b.cols_backward_write;
  };
  merge(t->f32, cols.f32, bwd.f32);
  merge(t->f64, cols.f64, bwd.f64);
  merge(t->f16, cols.f16, bwd.f16);
  merge(t->bf16, cols.bf16, bwd.bf16);
  slot.store(t, std::memory_order_release);
  return *t;
}

}  // namespace

const KernelTable& simd_kernel_table() {
  apply_isa_override_once();
  return assembled(dispatched_row_part(), dispatched_column_part(), dispatched_backward_part());
}

void stream_fence() { hwy::FlushStream(); }

void force_simd_target_for_test(std::int64_t target) { hwy::SetSupportedTargetsForTest(target); }

bool reference_kernels_selected() {
  apply_isa_override_once();
  return g_reference.load(std::memory_order_relaxed);
}

void force_reference_kernels_for_test(bool on) {
  apply_isa_override_once();
  g_reference.store(on);
}

const KernelTable& kernel_table() {
  return reference_kernels_selected() ? reference_kernel_table() : simd_kernel_table();
}

const DtypeKernels& kernels_for(Dtype dtype) {
  const KernelTable& t = kernel_table();
  switch (dtype) {
    case kFloat64: return t.f64;
    case kFloat16: return t.f16;
    case kBFloat16: return t.bf16;
    default: return t.f32;
  }
}

}  // namespace smx::detail

namespace smx {

const char* simd_target() { return detail::kernel_table().target; }

}  // namespace smx
