#include "kernels/reference_softmax.h"

#include <cmath>
#include <limits>

#include "smx/half.h"

namespace smx::detail {

namespace {

template <typename T>
double load(const T* p) {
  return static_cast<double>(static_cast<float>(*p));
}
template <>
double load<double>(const double* p) {
  return *p;
}
template <typename T>
void store(T* p, double v) {
  *p = T(static_cast<float>(v));
}
template <>
void store<float>(float* p, double v) {
  *p = static_cast<float>(v);
}
template <>
void store<double>(double* p, double v) {
  *p = v;
}

template <typename T>
void forward(SoftmaxKind kind, const ForwardSlab& s) {
  // Softmin is softmax(-x): negate on load instead of making a negated copy.
  const double sign = kind == SoftmaxKind::kSoftmin ? -1.0 : 1.0;
  for (std::int64_t lane = 0; lane < s.lanes; ++lane) {
    const T* x = static_cast<const T*>(s.x.data) + lane * s.x.lane_stride;
    T* y = static_cast<T*>(s.y.data) + lane * s.y.lane_stride;
    auto xi = [&](std::int64_t i) { return sign * load(x + i * s.x.n_stride); };

    // Pass 1: the max, NaN-propagating like PyTorch's vectorized max.
    double max = -std::numeric_limits<double>::infinity();
    for (std::int64_t i = 0; i < s.n; ++i) {
      const double v = xi(i);
      if (std::isnan(v) || v > max) max = v;
      if (std::isnan(max)) break;
    }
    // Pass 2: sum of exp(x - max); every term is in [0, 1], so nothing overflows.
    // (max = +inf or -inf makes some x - max NaN, and with it the whole row, as in PyTorch.)
    double sum = 0.0;
    for (std::int64_t i = 0; i < s.n; ++i) sum += std::exp(xi(i) - max);
    // Pass 3: write. Each x[i] is read before y[i] is written, so y may alias x.
    if (kind == SoftmaxKind::kLogSoftmax) {
      const double log_sum = std::log(sum);
      for (std::int64_t i = 0; i < s.n; ++i) store(y + i * s.y.n_stride, (xi(i) - max) - log_sum);
    } else {
      for (std::int64_t i = 0; i < s.n; ++i) store(y + i * s.y.n_stride, std::exp(xi(i) - max) / sum);
    }
  }
}

template <typename T>
void backward(BackwardKind kind, const BackwardSlab& s) {
  for (std::int64_t lane = 0; lane < s.lanes; ++lane) {
    const T* g = static_cast<const T*>(s.grad.data) + lane * s.grad.lane_stride;
    const T* y = static_cast<const T*>(s.output.data) + lane * s.output.lane_stride;
    T* dx = static_cast<T*>(s.dx.data) + lane * s.dx.lane_stride;
    auto gi = [&](std::int64_t i) { return load(g + i * s.grad.n_stride); };
    auto yi = [&](std::int64_t i) { return load(y + i * s.output.n_stride); };
    double acc = 0.0;  // softmax: sum(g * y); log_softmax: sum(g)
    for (std::int64_t i = 0; i < s.n; ++i) acc += kind == BackwardKind::kSoftmax ? gi(i) * yi(i) : gi(i);
    for (std::int64_t i = 0; i < s.n; ++i) {
      const double v = kind == BackwardKind::kSoftmax ? yi(i) * (gi(i) - acc)
                                                      : gi(i) - std::exp(yi(i)) * acc;
      store(dx + i * s.dx.n_stride, v);
    }
  }
}

}  // namespace

void reference_forward(Dtype dtype, SoftmaxKind kind, const ForwardSlab& slab) {
  switch (dtype) {
    case kFloat32: return forward<float>(kind, slab);
    case kFloat64: return forward<double>(kind, slab);
    case kFloat16: return forward<Half>(kind, slab);
    case kBFloat16: return forward<BFloat16>(kind, slab);
    default: return;  // the operator layer rejects the other dtypes
  }
}

void reference_backward(Dtype dtype, BackwardKind kind, const BackwardSlab& slab) {
  switch (dtype) {
    case kFloat32: return backward<float>(kind, slab);
    case kFloat64: return backward<double>(kind, slab);
    case kFloat16: return backward<Half>(kind, slab);
    case kBFloat16: return backward<BFloat16>(kind, slab);
    default: return;
  }
}

}  // namespace smx::detail
