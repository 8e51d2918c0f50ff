// Choosing the implementation, in one place: the scalar reference kernels or a SIMD target (the
// best one this CPU supports, unless SMX_ISA names another).
#include <hwy/targets.h>

#include <atomic>
#include <cctype>
#include <cstdlib>
#include <mutex>
#include <string>

#include "kernels/simd_kernels.h"
#include "smx/errors.h"
#include "smx/simd.h"

namespace smx::detail {

const SimdKernelTable& dispatched_simd_kernels();  // simd_softmax.cc
std::int64_t compiled_simd_targets();             // simd_softmax.cc

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

}  // namespace

const SimdKernelTable& simd_kernels() {
  static std::once_flag once;
  std::call_once(once, apply_isa_override);
  return dispatched_simd_kernels();
}

void force_simd_target_for_test(std::int64_t target) { hwy::SetSupportedTargetsForTest(target); }

bool reference_kernels_selected() {
  simd_kernels();  // applies SMX_ISA once
  return g_reference.load(std::memory_order_relaxed);
}

void force_reference_kernels_for_test(bool on) {
  simd_kernels();
  g_reference.store(on);
}

const KernelTable& kernel_table() {
  return reference_kernels_selected() ? reference_kernel_table() : simd_kernels();
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

const char* simd_target() {
  return detail::kernel_table().target;
}

}  // namespace smx
