#include "kernels/reference_softmax.h"

#include <cmath>
#include <limits>
#include <type_traits>

#include "kernels/simd_kernels.h"
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
void forward(Op kind, const ForwardSlab& s) {
  // Softmin is softmax(-x): negate on load instead of making a negated copy.
  const double sign = kind == Op::kSoftmin ? -1.0 : 1.0;
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
    if (kind == Op::kLogSoftmax) {
      const double log_sum = std::log(sum);
      for (std::int64_t i = 0; i < s.n; ++i) store(y + i * s.y.n_stride, (xi(i) - max) - log_sum);
    } else {
      for (std::int64_t i = 0; i < s.n; ++i) store(y + i * s.y.n_stride, std::exp(xi(i) - max) / sum);
    }
  }
}

template <typename T>
void backward(Op kind, const BackwardSlab& s) {
  for (std::int64_t lane = 0; lane < s.lanes; ++lane) {
    const T* g = static_cast<const T*>(s.grad.data) + lane * s.grad.lane_stride;
    const T* y = static_cast<const T*>(s.output.data) + lane * s.output.lane_stride;
    T* dx = static_cast<T*>(s.dx.data) + lane * s.dx.lane_stride;
    auto gi = [&](std::int64_t i) { return load(g + i * s.grad.n_stride); };
    auto yi = [&](std::int64_t i) { return load(y + i * s.output.n_stride); };
    double acc = 0.0;  // softmax: sum(g * y); log_softmax: sum(g)
    for (std::int64_t i = 0; i < s.n; ++i) acc += kind == Op::kSoftmaxBackward ? gi(i) * yi(i) : gi(i);
    for (std::int64_t i = 0; i < s.n; ++i) {
      const double v = kind == Op::kSoftmaxBackward ? yi(i) * (gi(i) - acc)
                                                      : gi(i) - std::exp(yi(i)) * acc;
      store(dx + i * s.dx.n_stride, v);
    }
  }
}

// ---- the reference as one more entry of the kernel table -------------------------------------
// Each entry runs the slab functions above (or the same double-precision math on a piece), so
// the executor and the streaming pieces drive the reference exactly as they drive a SIMD target.
// The running column max is kept in the compute type the table's contract names (double for
// float64, float otherwise: float32/16-bit inputs are exact in float).
template <typename T>
struct ReferenceKernels {
  using Max = std::conditional_t<std::is_same_v<T, double>, double, float>;
  static double sign(Op kind) { return kind == Op::kSoftmin ? -1.0 : 1.0; }
  static void* mut(const void* p) { return const_cast<void*>(p); }

  static void rows_fused(Op kind, const void* x, std::int64_t x_stride, void* y, std::int64_t y_stride,
                         std::int64_t rows, std::int64_t n, bool) {
    forward<T>(kind, ForwardSlab{{mut(x), 1, x_stride}, {y, 1, y_stride}, n, rows});
  }
  static RowStats row_stats(Op kind, const void* xv, std::int64_t n) {
    const T* x = static_cast<const T*>(xv);
    const double s = sign(kind);
    double max = -std::numeric_limits<double>::infinity();
    for (std::int64_t i = 0; i < n; ++i) {
      const double v = s * load(x + i);
      if (std::isnan(v)) return {v, v};
      if (v > max) max = v;
    }
    if (max == -std::numeric_limits<double>::infinity()) return {max, 0.0};  // adds nothing when merged
    double sum = 0.0;
    for (std::int64_t i = 0; i < n; ++i) sum += std::exp(s * load(x + i) - max);
    return {max, sum};
  }
  static void row_write(Op kind, const void* xv, void* yv, std::int64_t n, RowStats stats, bool) {
    const T* x = static_cast<const T*>(xv);
    T* y = static_cast<T*>(yv);
    const double s = sign(kind);
    const double log_sum = std::log(stats.sum);
    for (std::int64_t i = 0; i < n; ++i) {
      const double v = s * load(x + i) - stats.max;
      store(y + i, kind == Op::kLogSoftmax ? v - log_sum : std::exp(v) / stats.sum);
    }
  }
  static void cols(Op kind, const void* x, std::int64_t x_row_stride, void* y, std::int64_t y_row_stride,
                   std::int64_t n, std::int64_t lanes, bool) {
    forward<T>(kind, ForwardSlab{{mut(x), x_row_stride, 1}, {y, y_row_stride, 1}, n, lanes});
  }
  static void cols_strided(Op kind, const void* x, std::int64_t x_row_stride, std::int64_t x_lane_stride,
                           void* y, std::int64_t y_row_stride, std::int64_t y_lane_stride, std::int64_t n,
                           std::int64_t lanes) {
    forward<T>(kind, ForwardSlab{{mut(x), x_row_stride, x_lane_stride}, {y, y_row_stride, y_lane_stride}, n, lanes});
  }
  static void rows_backward(Op kind, const void* g, std::int64_t g_stride, const void* y,
                            std::int64_t y_stride, void* dx, std::int64_t dx_stride, std::int64_t rows,
                            std::int64_t n, bool) {
    backward<T>(kind, BackwardSlab{{mut(g), 1, g_stride}, {mut(y), 1, y_stride}, {dx, 1, dx_stride}, n, rows});
  }
  static double row_backward_acc(Op kind, const void* gv, const void* yv, std::int64_t n) {
    const T* g = static_cast<const T*>(gv);
    const T* y = static_cast<const T*>(yv);
    double acc = 0.0;
    for (std::int64_t i = 0; i < n; ++i) acc += kind == Op::kSoftmaxBackward ? load(g + i) * load(y + i) : load(g + i);
    return acc;
  }
  static void row_backward_write(Op kind, const void* gv, const void* yv, void* dxv, std::int64_t n,
                                 double acc, bool) {
    const T* g = static_cast<const T*>(gv);
    const T* y = static_cast<const T*>(yv);
    T* dx = static_cast<T*>(dxv);
    for (std::int64_t i = 0; i < n; ++i) {
      const double gi = load(g + i), yi = load(y + i);
      store(dx + i, kind == Op::kSoftmaxBackward ? yi * (gi - acc) : gi - std::exp(yi) * acc);
    }
  }
  static void cols_backward(Op kind, const void* g, std::int64_t g_row_stride, const void* y,
                            std::int64_t y_row_stride, void* dx, std::int64_t dx_row_stride, std::int64_t n,
                            std::int64_t lanes, bool) {
    backward<T>(kind, BackwardSlab{{mut(g), g_row_stride, 1}, {mut(y), y_row_stride, 1}, {dx, dx_row_stride, 1}, n,
                                   lanes});
  }
  static void cols_backward_strided(Op kind, const void* g, std::int64_t g_row_stride,
                                    std::int64_t g_lane_stride, const void* y, std::int64_t y_row_stride,
                                    std::int64_t y_lane_stride, void* dx, std::int64_t dx_row_stride,
                                    std::int64_t dx_lane_stride, std::int64_t n, std::int64_t lanes) {
    backward<T>(kind, BackwardSlab{{mut(g), g_row_stride, g_lane_stride},
                                   {mut(y), y_row_stride, y_lane_stride},
                                   {dx, dx_row_stride, dx_lane_stride},
                                   n,
                                   lanes});
  }
  // Per lane, row by row: the running max m and sum s of exp(x - m) (s rescaled when m grows).
  static void cols_stats(Op kind, const void* xv, std::int64_t x_row_stride, std::int64_t rows,
                         std::int64_t lanes, void* maxv, double* sum) {
    const T* x = static_cast<const T*>(xv);
    Max* max = static_cast<Max*>(maxv);
    const double s = sign(kind);
    for (std::int64_t l = 0; l < lanes; ++l) {
      double m = max[l];
      double acc = sum[l];
      for (std::int64_t i = 0; i < rows; ++i) {
        const double v = s * load(x + i * x_row_stride + l);
        if (v == -std::numeric_limits<double>::infinity()) continue;  // adds exactly 0
        if (v > m) {  // (m = -inf: acc is 0 and stays 0)
          acc = acc == 0.0 ? 0.0 : acc * std::exp(m - v);
          m = v;
        }
        acc += std::exp(v - m);  // NaN in: acc is NaN from here on, as PyTorch's row
      }
      max[l] = static_cast<Max>(m);
      sum[l] = acc;
    }
  }
  static void cols_write(Op kind, const void* xv, std::int64_t x_row_stride, void* yv,
                         std::int64_t y_row_stride, std::int64_t rows, std::int64_t lanes, const void* maxv,
                         const double* sum, bool) {
    const T* x = static_cast<const T*>(xv);
    T* y = static_cast<T*>(yv);
    const Max* max = static_cast<const Max*>(maxv);
    const double s = sign(kind);
    for (std::int64_t i = 0; i < rows; ++i) {
      for (std::int64_t l = 0; l < lanes; ++l) {
        const double v = s * load(x + i * x_row_stride + l) - static_cast<double>(max[l]);
        store(y + i * y_row_stride + l, kind == Op::kLogSoftmax ? v - std::log(sum[l]) : std::exp(v) / sum[l]);
      }
    }
  }

  static constexpr DtypeKernels table() {
    return {&rows_fused,    &row_stats,          &row_write,     &cols,
            &cols_strided,  &rows_backward,      &row_backward_acc, &row_backward_write,
            &cols_backward, &cols_backward_strided, &cols_stats,   &cols_write};
  }
};

}  // namespace

const KernelTable& reference_kernel_table() {
  static const KernelTable table{"REFERENCE",
                                 1,
                                 1,
                                 ReferenceKernels<float>::table(),
                                 ReferenceKernels<double>::table(),
                                 ReferenceKernels<Half>::table(),
                                 ReferenceKernels<BFloat16>::table()};
  return table;
}

void reference_forward(Dtype dtype, Op kind, const ForwardSlab& slab) {
  switch (dtype) {
    case kFloat32: return forward<float>(kind, slab);
    case kFloat64: return forward<double>(kind, slab);
    case kFloat16: return forward<Half>(kind, slab);
    case kBFloat16: return forward<BFloat16>(kind, slab);
    default: return;  // the operator layer rejects the other dtypes
  }
}

void reference_backward(Dtype dtype, Op kind, const BackwardSlab& slab) {
  switch (dtype) {
    case kFloat32: return backward<float>(kind, slab);
    case kFloat64: return backward<double>(kind, slab);
    case kFloat16: return backward<Half>(kind, slab);
    case kBFloat16: return backward<BFloat16>(kind, slab);
    default: return;
  }
}

}  // namespace smx::detail
