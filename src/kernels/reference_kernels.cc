// The scalar reference kernels: the test oracle and the fallback, kept forever. One more
// implementation of the kernel table (kernel_table.h), cut on the same boundaries as the SIMD
// kernels (chunks of long rows, tiles of tall columns, the short-column passes), so that every
// caller - the engine, the streaming file path, the MPI ranks - drives it exactly as it drives a
// SIMD target and gets the same bits in one piece or many.
//
// Dtypes: float32, float64, float16, bfloat16, loaded to double and stored with one rounding.
// Error: the math is done in double, so float32/16-bit results are correctly rounded up to the
// double-precision error of exp/log (a few 1e-16 relative); float64 results carry a relative
// error of about n * 1e-16 from the sum. Special values follow PyTorch: a row holding NaN or +inf,
// or only -inf, gives NaN.
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "kernels/kernel_table.h"
#include "smx/half.h"

namespace smx::detail {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

template <typename T>
double load(const T* p) {
  if constexpr (std::is_same_v<T, double>) return *p;
  else return static_cast<double>(static_cast<float>(*p));
}
template <typename T>
void store(T* p, double v) {
  if constexpr (std::is_same_v<T, double>) *p = v;
  else if constexpr (std::is_same_v<T, float>) *p = static_cast<float>(v);
  else *p = T(static_cast<float>(v));
}
// v rounded to T, as double.
template <typename T>
double round_to(double v) {
  T r;
  store(&r, v);
  return load(&r);
}

// The compute type of scale * x in PyTorch's opmath: double for float64, float otherwise.
template <typename T>
using Compute = std::conditional_t<std::is_same_v<T, double>, double, float>;

// Element i of a row (or row i of a lane) through the load: x (softmin: -x), or, masked,
// kept ? (scale * x rounded to T) : -inf.
template <typename T>
struct Load {
  const T* x;
  std::int64_t stride;
  double sign;
  const MaskedLoad* masked;  // null: plain
  const std::uint8_t* mask;  // the masked load's bytes for this row / lane
  std::int64_t mask_stride;
  std::int64_t keep_end;

  double operator()(std::int64_t i) const {
    if (masked == nullptr) return sign * load(x + i * stride);
    const bool kept = i < keep_end && (mask == nullptr || mask[i * mask_stride] != 0);
    if (!kept) return -kInf;
    double v = load(x + i * stride);
    if (masked->scaled) {
      v = round_to<T>(static_cast<double>(static_cast<Compute<T>>(v) * static_cast<Compute<T>>(masked->scale)));
    }
    return sign * v;
  }
};

template <typename T>
Load<T> row_load(Op op, const void* x, std::int64_t stride, const MaskedLoad* masked, std::int64_t row = 0) {
  const MaskedLoad m = masked ? masked->row(row) : MaskedLoad{};
  return {static_cast<const T*>(x), stride, op == Op::kSoftmin ? -1.0 : 1.0, masked, m.mask, m.mask_stride, m.keep_end};
}

template <typename T>
Load<T> lane_load(Op op, const void* x, std::int64_t row_stride, std::int64_t lane_stride, const MaskedLoad* masked,
                  std::int64_t lane) {
  const std::uint8_t* m = masked && masked->mask ? masked->mask + lane * masked->mask_lane_stride : nullptr;
  return {static_cast<const T*>(x) + lane * lane_stride, row_stride, op == Op::kSoftmin ? -1.0 : 1.0, masked, m,
          masked ? masked->mask_stride : 0, MaskedLoad::kNoLimit};
}

// dx through the store: plain, or 0 at masked elements and scale * dx (dx rounded to T first) at
// kept ones.
template <typename T>
void store_grad(T* p, double v, const MaskedLoad* masked, const std::uint8_t* mask, std::int64_t mask_stride,
                std::int64_t keep_end, std::int64_t i) {
  if (masked == nullptr) return store(p, v);
  const bool kept = i < keep_end && (mask == nullptr || mask[i * mask_stride] != 0);
  if (!kept) return store(p, 0.0);
  if (!masked->scaled) return store(p, v);
  const double r = round_to<T>(v);
  store(p, static_cast<double>(static_cast<Compute<T>>(r) * static_cast<Compute<T>>(masked->scale)));
}

// max, NaN-propagating like PyTorch's vectorized max.
double fold_max(double max, double v) { return std::isnan(max) || std::isnan(v) || v > max ? (std::isnan(max) ? max : v) : max; }

template <typename T>
struct Reference {
  using Max = Compute<T>;  // the running column max's type in the table's contract

  // One row of n elements: max, sum of exp(x - max), write. Each x[i] is read before y[i] is
  // written, so y may alias x.
  static void whole_row(Op op, const Load<T>& x, T* y, std::int64_t y_stride, std::int64_t n) {
    double max = -kInf;
    for (std::int64_t i = 0; i < n && !std::isnan(max); ++i) max = fold_max(max, x(i));
    // (max = +inf or -inf makes some x - max NaN, and with it the whole row, as in PyTorch.)
    double sum = 0.0;
    for (std::int64_t i = 0; i < n; ++i) sum += std::exp(x(i) - max);
    write(op, x, y, y_stride, n, max, sum);
  }
  static void write(Op op, const Load<T>& x, T* y, std::int64_t y_stride, std::int64_t n, double max, double sum) {
    if (op == Op::kLogSoftmax) {
      const double log_sum = std::log(sum);
      for (std::int64_t i = 0; i < n; ++i) store(y + i * y_stride, (x(i) - max) - log_sum);
    } else {
      for (std::int64_t i = 0; i < n; ++i) store(y + i * y_stride, std::exp(x(i) - max) / sum);
    }
  }

  static void rows_fused(Op op, const void* x, std::int64_t x_stride, void* y, std::int64_t y_stride,
                         std::int64_t rows, std::int64_t n, bool, const MaskedLoad* masked) {
    for (std::int64_t r = 0; r < rows; ++r) {
      whole_row(op, row_load<T>(op, static_cast<const T*>(x) + r * x_stride, 1, masked, r),
                static_cast<T*>(y) + r * y_stride, 1, n);
    }
  }
  static RowStats row_stats(Op op, const void* xv, std::int64_t n, const MaskedLoad* masked) {
    const Load<T> x = row_load<T>(op, xv, 1, masked);
    double max = -kInf;
    for (std::int64_t i = 0; i < n; ++i) {
      const double v = x(i);
      if (std::isnan(v)) return {v, v};
      if (v > max) max = v;
    }
    if (max == -kInf) return {max, 0.0};  // adds nothing when merged
    double sum = 0.0;
    for (std::int64_t i = 0; i < n; ++i) sum += std::exp(x(i) - max);
    return {max, sum};
  }
  static void row_write(Op op, const void* x, void* y, std::int64_t n, RowStats stats, bool,
                        const MaskedLoad* masked) {
    write(op, row_load<T>(op, x, 1, masked), static_cast<T*>(y), 1, n, stats.max, stats.sum);
  }

  static void fill(void* y, std::int64_t n, double value, bool) {
    for (std::int64_t i = 0; i < n; ++i) store(static_cast<T*>(y) + i, value);
  }
  static void copy(void* dst, const void* src, std::int64_t n, bool) {
    std::memcpy(dst, src, static_cast<std::size_t>(n) * sizeof(T));
  }

  // ---- columns ----
  static void cols_impl(Op op, const void* x, std::int64_t x_row_stride, std::int64_t x_lane_stride, void* y,
                        std::int64_t y_row_stride, std::int64_t y_lane_stride, std::int64_t n, std::int64_t lanes,
                        const MaskedLoad* masked) {
    for (std::int64_t l = 0; l < lanes; ++l) {
      const Load<T> in = lane_load<T>(op, x, x_row_stride, x_lane_stride, masked, l);
      T* out = static_cast<T*>(y) + l * y_lane_stride;
      if (n <= kColShortN) {
        whole_row(op, in, out, y_row_stride, n);
      } else {  // tall columns: the running statistics in tiles, as the SIMD kernels
        Max m = -std::numeric_limits<Max>::infinity();
        double s = 0.0;
        lane_stats(in, n, m, s);
        write(op, in, out, y_row_stride, n, static_cast<double>(m), s);
      }
    }
  }
  // Per lane, row by row: the running max m and sum s of exp(x - m) (s rescaled when m grows).
  static void lane_stats(const Load<T>& x, std::int64_t rows, Max& max, double& sum) {
    double m = max;
    double acc = sum;
    for (std::int64_t i = 0; i < rows; ++i) {
      const double v = x(i);
      if (v == -kInf) continue;  // adds exactly 0
      if (v > m) {               // (m = -inf: acc is 0 and stays 0)
        acc = acc == 0.0 ? 0.0 : acc * std::exp(m - v);
        m = v;
      }
      acc += std::exp(v - m);  // NaN in: acc is NaN from here on, as PyTorch's row
    }
    max = static_cast<Max>(m);
    sum = acc;
  }
  static void cols(Op op, const void* x, std::int64_t x_row_stride, void* y, std::int64_t y_row_stride,
                   std::int64_t n, std::int64_t lanes, bool, const MaskedLoad* masked) {
    cols_impl(op, x, x_row_stride, 1, y, y_row_stride, 1, n, lanes, masked);
  }
  static void cols_strided(Op op, const void* x, std::int64_t x_row_stride, std::int64_t x_lane_stride, void* y,
                           std::int64_t y_row_stride, std::int64_t y_lane_stride, std::int64_t n, std::int64_t lanes,
                           const MaskedLoad* masked) {
    cols_impl(op, x, x_row_stride, x_lane_stride, y, y_row_stride, y_lane_stride, n, lanes, masked);
  }
  static void cols_stats(Op op, const void* x, std::int64_t x_row_stride, std::int64_t rows, std::int64_t lanes,
                         void* max, double* sum, const MaskedLoad* masked) {
    for (std::int64_t l = 0; l < lanes; ++l) {
      lane_stats(lane_load<T>(op, x, x_row_stride, 1, masked, l), rows, static_cast<Max*>(max)[l], sum[l]);
    }
  }
  static void cols_max(Op op, const void* x, std::int64_t x_row_stride, std::int64_t rows, std::int64_t lanes,
                       void* max) {
    for (std::int64_t l = 0; l < lanes; ++l) {
      const Load<T> in = lane_load<T>(op, x, x_row_stride, 1, nullptr, l);
      double m = static_cast<Max*>(max)[l];
      for (std::int64_t i = 0; i < rows; ++i) m = fold_max(m, in(i));
      static_cast<Max*>(max)[l] = static_cast<Max>(m);
    }
  }
  static void cols_sum(Op op, const void* x, std::int64_t x_row_stride, std::int64_t rows, std::int64_t lanes,
                       const void* max, double* sum) {
    for (std::int64_t l = 0; l < lanes; ++l) {
      const Load<T> in = lane_load<T>(op, x, x_row_stride, 1, nullptr, l);
      const double m = static_cast<const Max*>(max)[l];
      for (std::int64_t i = 0; i < rows; ++i) sum[l] += std::exp(in(i) - m);
    }
  }
  static void cols_write(Op op, const void* x, std::int64_t x_row_stride, void* y, std::int64_t y_row_stride,
                         std::int64_t rows, std::int64_t lanes, const void* max, const double* sum, bool,
                         const MaskedLoad* masked) {
    for (std::int64_t l = 0; l < lanes; ++l) {
      write(op, lane_load<T>(op, x, x_row_stride, 1, masked, l), static_cast<T*>(y) + l, y_row_stride, rows,
            static_cast<double>(static_cast<const Max*>(max)[l]), sum[l]);
    }
  }

  // ---- backward ----
  static double acc_term(Op op, double g, double y) { return op == Op::kSoftmaxBackward ? g * y : g; }
  static double grad(Op op, double g, double y, double acc) {
    return op == Op::kSoftmaxBackward ? y * (g - acc) : g - std::exp(y) * acc;
  }
  // One row or lane: acc in order, then the write, both in double.
  static void backward_line(Op op, const T* g, std::int64_t gs, const T* y, std::int64_t ys, T* dx, std::int64_t dxs,
                            std::int64_t n, const MaskedLoad* masked, const std::uint8_t* mask, std::int64_t keep_end) {
    double acc = 0.0;
    for (std::int64_t i = 0; i < n; ++i) acc += acc_term(op, load(g + i * gs), load(y + i * ys));
    const std::int64_t ms = masked ? masked->mask_stride : 0;
    for (std::int64_t i = 0; i < n; ++i) {
      store_grad(dx + i * dxs, grad(op, load(g + i * gs), load(y + i * ys), acc), masked, mask, ms, keep_end, i);
    }
  }
  static void rows_backward(Op op, const void* g, std::int64_t g_stride, const void* y, std::int64_t y_stride,
                            void* dx, std::int64_t dx_stride, std::int64_t rows, std::int64_t n, bool,
                            const MaskedLoad* masked) {
    for (std::int64_t r = 0; r < rows; ++r) {
      const MaskedLoad m = masked ? masked->row(r) : MaskedLoad{};
      backward_line(op, static_cast<const T*>(g) + r * g_stride, 1, static_cast<const T*>(y) + r * y_stride, 1,
                    static_cast<T*>(dx) + r * dx_stride, 1, n, masked, m.mask, m.keep_end);
    }
  }
  static double row_backward_acc(Op op, const void* gv, const void* yv, std::int64_t n) {
    const T* g = static_cast<const T*>(gv);
    const T* y = static_cast<const T*>(yv);
    double acc = 0.0;
    for (std::int64_t i = 0; i < n; ++i) acc += acc_term(op, load(g + i), load(y + i));
    return acc;
  }
  static void row_backward_write(Op op, const void* gv, const void* yv, void* dxv, std::int64_t n, double acc, bool,
                                 const MaskedLoad* masked) {
    const T* g = static_cast<const T*>(gv);
    const T* y = static_cast<const T*>(yv);
    T* dx = static_cast<T*>(dxv);
    const std::uint8_t* m = masked ? masked->mask : nullptr;
    const std::int64_t ms = masked ? masked->mask_stride : 0;
    const std::int64_t keep_end = masked ? masked->keep_end : MaskedLoad::kNoLimit;
    for (std::int64_t i = 0; i < n; ++i) {
      store_grad(dx + i, grad(op, load(g + i), load(y + i), acc), masked, m, ms, keep_end, i);
    }
  }
  static void cols_backward_impl(Op op, const void* g, std::int64_t grs, std::int64_t gls, const void* y,
                                 std::int64_t yrs, std::int64_t yls, void* dx, std::int64_t dxrs, std::int64_t dxls,
                                 std::int64_t n, std::int64_t lanes, const MaskedLoad* masked) {
    for (std::int64_t l = 0; l < lanes; ++l) {
      const std::uint8_t* m = masked ? masked->mask + l * masked->mask_lane_stride : nullptr;
      backward_line(op, static_cast<const T*>(g) + l * gls, grs, static_cast<const T*>(y) + l * yls, yrs,
                    static_cast<T*>(dx) + l * dxls, dxrs, n, masked, m, MaskedLoad::kNoLimit);
    }
  }
  static void cols_backward(Op op, const void* g, std::int64_t grs, const void* y, std::int64_t yrs, void* dx,
                            std::int64_t dxrs, std::int64_t n, std::int64_t lanes, bool, const MaskedLoad* masked) {
    cols_backward_impl(op, g, grs, 1, y, yrs, 1, dx, dxrs, 1, n, lanes, masked);
  }
  static void cols_backward_strided(Op op, const void* g, std::int64_t grs, std::int64_t gls, const void* y,
                                    std::int64_t yrs, std::int64_t yls, void* dx, std::int64_t dxrs,
                                    std::int64_t dxls, std::int64_t n, std::int64_t lanes, const MaskedLoad* masked) {
    cols_backward_impl(op, g, grs, gls, y, yrs, yls, dx, dxrs, dxls, n, lanes, masked);
  }
  static void cols_backward_acc(Op op, const void* gv, std::int64_t grs, const void* yv, std::int64_t yrs,
                                std::int64_t rows, std::int64_t lanes, double* acc) {
    const T* g = static_cast<const T*>(gv);
    const T* y = static_cast<const T*>(yv);
    for (std::int64_t l = 0; l < lanes; ++l) {
      for (std::int64_t i = 0; i < rows; ++i) acc[l] += acc_term(op, load(g + i * grs + l), load(y + i * yrs + l));
    }
  }
  static void cols_backward_write(Op op, const void* gv, std::int64_t grs, const void* yv, std::int64_t yrs, void* dxv,
                                  std::int64_t dxrs, std::int64_t rows, std::int64_t lanes, const double* acc, bool) {
    const T* g = static_cast<const T*>(gv);
    const T* y = static_cast<const T*>(yv);
    T* dx = static_cast<T*>(dxv);
    for (std::int64_t i = 0; i < rows; ++i) {
      for (std::int64_t l = 0; l < lanes; ++l) {
        store(dx + i * dxrs + l, grad(op, load(g + i * grs + l), load(y + i * yrs + l), acc[l]));
      }
    }
  }

  static constexpr DtypeKernels table() {
    return {&rows_fused,    &row_stats,          &row_write,          &fill,               &copy,          &cols,
            &cols_strided,  &cols_stats,         &cols_max,           &cols_sum,
            &cols_write,    &rows_backward,      &row_backward_acc,   &row_backward_write,
            &cols_backward, &cols_backward_strided, &cols_backward_acc, &cols_backward_write};
  }
};

}  // namespace

const KernelTable& reference_kernel_table() {
  static const KernelTable table{"REFERENCE",
                                 0,
                                 1,
                                 1,
                                 Reference<float>::table(),
                                 Reference<double>::table(),
                                 Reference<Half>::table(),
                                 Reference<BFloat16>::table()};
  return table;
}

}  // namespace smx::detail
