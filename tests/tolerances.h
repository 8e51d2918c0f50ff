// The tests' one tolerance table (tests/tolerances.py reads this file for the Python tests, so
// the numbers live here only). A result passes when, element by element,
//     |got - want| <= atol + rtol * |want|,  NaN matching NaN and infinities matching exactly;
// log_softmax outputs and gradients use atol = rtol as well (they cancel towards 0, where a
// relative error means nothing).
//
// The reference decides the row:
//   oracle  an exact float64 computation on the inputs already rounded in the dtype: what is left
//           is smx's own arithmetic and the one rounding of its output;
//   torch   PyTorch's result, itself rounded (and summed in float32 for float32): one more ulp.
//   device  the float64 oracle again, for the CUDA kernels, which sum in float32 (in orders that
//           depend on the launch) and round 16-bit results once: up to two ulps of the dtype.
// A backward row is compared with the float64 backward of the same y; its atol is scaled by
// max |grad_output| (and |scale| for the masked ops).
//
// SMX_TOLERANCE(pass, reference, dtype, rtol, atol)
// clang-format off
#define SMX_TOLERANCES(X)                                                                              \
  /* float64: hwy::Exp within 1 ulp, sums in double: n * 2^-53 for n up to a few thousand */         \
  X(forward, oracle, float64, 1e-13, 1e-300)                                                          \
  /* float32: exp within 2 ulp (2.5 without FMA), sums in double, one rounding; x - max is */       \
  /* rounded once, and exp turns that into |x - max| u relative: within 2e-6 down to outputs of */   \
  /* 1e-10 (|x - max| <= 23), absolute below */                                                       \
  X(forward, oracle, float32, 2e-6, 1e-10)                                                            \
  /* 16-bit: one rounding of the output (2^-11 = 4.9e-4, 2^-8 = 3.9e-3 relative) + float32 */        \
  /* math; below 1e-4 float16 reaches its subnormals, so errors there are absolute */               \
  X(forward, oracle, float16, 1e-3, 1e-7)                                                             \
  X(forward, oracle, bfloat16, 8e-3, 8e-7)                                                            \
  /* against torch: torch's own rounding on top (torch 1.13 has no CPU float16 softmax: the */      \
  /* reference is its float32 result rounded once, as for bfloat16) - two ulps of 16-bit */          \
  X(forward, torch, float64, 1e-12, 1e-14)                                                            \
  X(forward, torch, float32, 1e-5, 1e-6)                                                              \
  X(forward, torch, float16, 2e-3, 1e-5)                                                              \
  X(forward, torch, bfloat16, 1.6e-2, 1e-4)                                                           \
  /* backward, given the same y: the group sum in double from rounded g and y, the output */        \
  /* rounded once (16-bit: the scale's product rounded once more) */                                 \
  X(backward, oracle, float64, 1e-12, 1e-14)                                                          \
  X(backward, oracle, float32, 1e-5, 1e-7)                                                            \
  X(backward, oracle, float16, 3e-3, 3e-5)                                                            \
  X(backward, oracle, bfloat16, 2e-2, 2e-4)                                                           \
  /* against torch's autograd: torch's rounding on top, as forward */                               \
  X(backward, torch, float64, 1e-12, 1e-14)                                                           \
  X(backward, torch, float32, 1e-5, 1e-6)                                                             \
  X(backward, torch, float16, 2e-3, 1e-5)                                                             \
  X(backward, torch, bfloat16, 1.6e-2, 1e-4)                                                          \
  /* CUDA: float32 sums over up to ~10^5 terms in launch-dependent orders; 16-bit: 2 ulps; */      \
  /* backward outputs cancel, so their slack is absolute at |g| ~ 1 (atol = 4 rtol) */               \
  X(forward, device, float64, 1e-12, 1e-15)                                                           \
  X(forward, device, float32, 2e-5, 1e-7)                                                             \
  X(forward, device, float16, 1.953125e-3, 1e-6)                                                      \
  X(forward, device, bfloat16, 1.5625e-2, 1e-6)                                                       \
  X(backward, device, float64, 1e-12, 4e-12)                                                          \
  X(backward, device, float32, 2e-5, 8e-5)                                                            \
  X(backward, device, float16, 1.953125e-3, 7.8125e-3)                                                \
  X(backward, device, bfloat16, 1.5625e-2, 6.25e-2)
// clang-format on

#ifdef __cplusplus
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "smx/dtype.h"

namespace smx::test {

enum class Pass { kForward, kBackward };
enum class Reference { kOracle, kTorch, kDevice };

struct Tolerance {
  double rtol, atol;
};

inline Tolerance tolerance(Pass pass, Reference ref, Dtype dtype) {
  const std::string want_pass = pass == Pass::kForward ? "forward" : "backward";
  const std::string want_ref = ref == Reference::kOracle ? "oracle" : ref == Reference::kTorch ? "torch" : "device";
  const std::string want_dtype = dtype_name(dtype).substr(6);  // "torch.float32" -> "float32"
#define SMX_TOLERANCE_ROW(p, r, d, rtol, atol) \
  if (want_pass == #p && want_ref == #r && want_dtype == #d) return {rtol, atol};
  SMX_TOLERANCES(SMX_TOLERANCE_ROW)
#undef SMX_TOLERANCE_ROW
  return {0, 0};
}

// The largest |got - want| / (atol + rtol * |want|) over all elements (<= 1 passes), with
// `log_form` results and gradients measured with atol = rtol; a NaN must meet a NaN and an
// infinity the same infinity (else the result is +inf).
inline double excess(const std::vector<double>& got, const std::vector<double>& want, Tolerance t,
                     bool log_form = false) {
  if (got.size() != want.size()) return INFINITY;
  const double atol = log_form ? std::max(t.atol, t.rtol) : t.atol;
  double worst = 0.0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(got[i]) || std::isnan(want[i])) {
      if (std::isnan(got[i]) != std::isnan(want[i])) return INFINITY;
      continue;
    }
    if (got[i] == want[i]) continue;
    if (std::isinf(got[i]) || std::isinf(want[i])) return INFINITY;
    worst = std::max(worst, std::fabs(got[i] - want[i]) / (atol + t.rtol * std::fabs(want[i])));
  }
  return worst;
}

}  // namespace smx::test
#endif
