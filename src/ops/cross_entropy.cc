// Cross entropy, token log-probabilities and entropy (smx/cross_entropy.h) on the engine's group
// statistics: one pass over the logits gives each group's (max, sum of exp(x - max)), so that
// log p_c = (x_c - max) - log(sum) - PyTorch's log_softmax, element by element - without a
// log_softmax tensor. What each op then needs is a gather (the target's logit), or one more pass
// over a group (label smoothing, probability targets, entropy). The gradient of the common form
// (index targets, no smoothing) is the engine's softmax write with the sum scaled by the group's
// factor, plus one element per group; the other forms write it in one scalar pass in double.
#include "smx/cross_entropy.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "engine/engine.h"
#include "ops/checks.h"
#include "runtime/parallel.h"
#include "smx/errors.h"
#include "tensor/dim_wrap.h"
#include "tensor/element_access.h"

namespace smx {

Reduction parse_reduction(const std::string& name) {
  if (name == "none") return Reduction::kNone;
  if (name == "mean") return Reduction::kMean;
  if (name == "sum") return Reduction::kSum;
  throw ValueError(name + " is not a valid value for reduction");
}

namespace {

using detail::RowStats;

// A double as PyTorch's messages print it (1.5, not 1.500000).
std::string number_text(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

// x's shape without dim d.
Size without_dim(const Size& s, std::int64_t d) {
  std::vector<std::int64_t> v = s.vec();
  if (!v.empty()) v.erase(v.begin() + d);
  return Size(std::move(v));
}

// The groups along the class dim of a contiguous tensor: group g = o * inner + l holds the
// elements (o * C + c) * inner + l, c in [0, C) - the order group_stats returns them in, and the
// row-major order of a target of the input's shape without the class dim.
struct Groups {
  std::int64_t outer = 1, C = 1, inner = 1;
  std::int64_t count() const { return outer * inner; }
  std::int64_t at(std::int64_t g, std::int64_t c) const { return ((g / inner) * C + c) * inner + g % inner; }
};

Groups groups_of(const Size& s, std::int64_t dim) {
  Groups G;
  for (std::int64_t d = 0; d < static_cast<std::int64_t>(s.size()); ++d) {
    (d < dim ? G.outer : d == dim ? G.C : G.inner) *= s[static_cast<std::size_t>(d)];
  }
  return G;
}

// log p = (x - max) - log_sum, as PyTorch's log_softmax computes it (so NaN and inf rows give
// what it gives: a NaN or +inf anywhere in the group makes every log p NaN).
struct Lse {
  double max, sum, log_sum;
  double logp(double x) const { return (x - max) - log_sum; }
  double lse() const { return max + log_sum; }
};

std::vector<Lse> group_lse(const Tensor& x, std::int64_t dim) {
  const std::vector<RowStats> stats = detail::group_stats(Op::kSoftmax, x, dim);
  std::vector<Lse> out(stats.size());
  for (std::size_t i = 0; i < stats.size(); ++i) out[i] = {stats[i].max, stats[i].sum, std::log(stats[i].sum)};
  return out;
}

template <class Fn>
decltype(auto) visit_floating(Dtype d, Fn&& fn) {
  switch (d) {
    case kFloat64: return fn(double{});
    case kFloat16: return fn(Half{});
    case kBFloat16: return fn(BFloat16{});
    default: return fn(float{});
  }
}

template <class T>
double as_double(T v) {
  return static_cast<double>(static_cast<std::conditional_t<std::is_same_v<T, double>, double, float>>(v));
}
template <class T>
T from_double(double v) {
  if constexpr (std::is_same_v<T, double>) return v;
  else if constexpr (std::is_same_v<T, float>) return static_cast<float>(v);
  else {  // one rounding: double -> 16-bit directly (element_access rounds to nearest even)
    T out;
    detail::store_from_double(&out, detail::dtype_of<T>(), 0, v);
    return out;
  }
}

// Calls fn(begin, end) over [0, groups) on the pool, in chunks of about kMinElementsPerThread
// elements of `per_group` each.
template <class Fn>
void for_groups(std::int64_t groups, std::int64_t per_group, Fn&& fn) {
  detail::parallel_for(groups, groups * std::max<std::int64_t>(per_group, 1) / detail::kMinElementsPerThread + 1, fn);
}

Dtype promote_floating(Dtype a, Dtype b) {
  if (a == b) return a;
  if (a == kFloat64 || b == kFloat64) return kFloat64;
  return kFloat32;  // float32 with a 16-bit type, or float16 with bfloat16
}

// ---- arguments ----

struct Problem {
  Tensor x;       // the input, contiguous
  std::int64_t dim = 0;
  Groups G;
  bool prob = false;               // class probabilities (else class indices)
  Tensor target;                   // contiguous: int64 indices, or probabilities
  std::vector<double> weight;      // empty: no weights
  double eps = 0.0;                // label smoothing applied (0: none)
  std::int64_t ignore = -100;
  Reduction reduction = Reduction::kMean;
  Dtype loss_dtype = kFloat32;

  double w(std::int64_t c) const { return weight.empty() ? 1.0 : weight[static_cast<std::size_t>(c)]; }
  // A probability target after label smoothing: (1 - e) q + e / C.
  double smoothed(double q) const { return eps != 0.0 ? q * (1.0 - eps) + eps / static_cast<double>(G.C) : q; }
  double weight_total() const {
    if (weight.empty()) return static_cast<double>(G.C);
    double s = 0.0;
    for (double v : weight) s += v;
    return s;
  }
};

void check_cpu(const Tensor& t, const char* what) {
  if (t.is_cuda()) throw RuntimeError(std::string("cross_entropy: ") + what + " is a CUDA tensor; smx's cross entropy runs on the CPU");
}

Problem check(const Tensor& input, const Tensor& target, const CrossEntropyOptions& o) {
  detail::check_defined(input, "input", "cross_entropy");
  detail::check_defined(target, "target", "cross_entropy");
  check_cpu(input, "input");
  check_cpu(target, "target");
  Problem p;
  p.ignore = o.ignore_index;
  p.reduction = o.reduction;
  const std::string smoothing_error = "label_smoothing must be between 0.0 and 1.0. Got: ";
  p.prob = input.sizes() == target.sizes();
  if (p.prob) {
    if (!is_floating(target.dtype())) {
      throw RuntimeError("Expected floating point type for target with class probabilities, got " +
                         scalar_type_name(target.dtype()));
    }
    if (o.ignore_index >= 0) throw RuntimeError("ignore_index is not supported for floating point target");
    // (PyTorch 1.13 checks only the upper bound on this path, and applies a negative value)
    if (o.label_smoothing > 1.0) throw RuntimeError(smoothing_error + number_text(o.label_smoothing));
    p.eps = o.label_smoothing;
  } else if (o.label_smoothing > 0.0) {
    if (o.label_smoothing > 1.0) throw RuntimeError(smoothing_error + number_text(o.label_smoothing));
    p.eps = o.label_smoothing;  // (a negative value takes the plain path there, as in PyTorch)
  }
  // log_softmax(input, class dim) runs next in PyTorch: its dim and dtype errors.
  p.dim = detail::wrap_dim(input.dim() == 1 ? 0 : 1, input.dim());
  detail::check_kernel_dtype(Op::kLogSoftmax, input, p.dim == input.dim() - 1);
  p.G = groups_of(input.sizes(), p.dim);
  const Size& xs = input.sizes();
  const Size& ts = target.sizes();
  if (!p.prob) {  // nll_loss's checks
    if (input.dim() != 1 && (target.dim() == 0 || xs[0] != ts[0])) {
      throw ValueError("Expected input batch_size (" + std::to_string(xs[0]) + ") to match target batch_size (" +
                       (target.dim() == 0 ? std::string("0") : std::to_string(ts[0])) + ").");
    }
    if (input.dim() <= 2) {
      if (target.dim() > 1) throw RuntimeError("0D or 1D target tensor expected, multi-target not supported");
      if (input.dim() == 1 && target.dim() != 0) {
        throw RuntimeError("size mismatch (got input: " + xs.list_str() + ", target: " + ts.list_str() + ")");
      }
    } else {
      const Size want = without_dim(xs, 1);
      if (ts != want) {
        if (input.dim() == 4) {
          throw RuntimeError("size mismatch (got input: " + xs.list_str() + " , target: " + ts.list_str());
        }
        throw RuntimeError("Expected target size " + want.list_str() + ", got " + ts.list_str());
      }
    }
  }
  if (o.weight && o.weight->defined()) {
    const Tensor& w = *o.weight;
    check_cpu(w, "weight");
    if (w.dim() != 1 || w.numel() != p.G.C) {
      throw RuntimeError(std::string(p.prob ? "cross_entropy: " : "") + "weight tensor should be defined either for all " +
                         std::to_string(p.G.C) + " classes or no classes but got weight tensor of shape: " +
                         w.sizes().list_str());
    }
    if (!p.prob && w.dtype() != input.dtype()) {
      throw RuntimeError("expected scalar type " + scalar_type_name(input.dtype()) + " but found " +
                         scalar_type_name(w.dtype()));
    }
    if (!is_floating(w.dtype())) throw RuntimeError("cross_entropy: weight must be floating, got " + scalar_type_name(w.dtype()));
    const Tensor wc = w.contiguous();
    p.weight.resize(static_cast<std::size_t>(p.G.C));
    for (std::int64_t c = 0; c < p.G.C; ++c) p.weight[static_cast<std::size_t>(c)] = detail::load_as_double(wc.data_ptr(), wc.dtype(), c);
  }
  if (!p.prob && target.dtype() != kInt64) {
    throw RuntimeError("expected scalar type Long but found " + scalar_type_name(target.dtype()));
  }
  p.loss_dtype = input.dtype();
  if (p.prob) {
    p.loss_dtype = promote_floating(input.dtype(), target.dtype());
    if (o.weight && o.weight->defined()) p.loss_dtype = promote_floating(p.loss_dtype, o.weight->dtype());
  }
  p.x = input.contiguous();
  p.target = target.contiguous();
  if (!p.prob) {  // every index in range (ignore_index aside), before anything is computed
    const auto* t = p.target.data<std::int64_t>();
    for (std::int64_t g = 0; g < p.G.count(); ++g) {
      if (t[g] != p.ignore && (t[g] < 0 || t[g] >= p.G.C)) throw IndexError("Target " + std::to_string(t[g]) + " is out of bounds.");
    }
  }
  return p;
}

// ---- the loss ----

// Per group: the target's weighted negative log-likelihood, the smoothing term
// -sum_c w_c log p_c (index targets), or -sum_c w_c q_c log p_c (probabilities).
struct Terms {
  std::vector<double> nll, smooth;
  std::vector<double> target_logit;  // x at the target (index targets; read before an in-place gradient)
  double kept_weight = 0.0;          // sum of w[target] over kept targets
};

// with_loss false (the backward alone): only what the gradient reads - the target logits and the
// kept weight - without the passes over whole groups that only the loss needs.
Terms loss_terms(const Problem& p, const std::vector<Lse>& lse, bool with_loss = true) {
  const Groups& G = p.G;
  const std::int64_t n = G.count();
  Terms t;
  t.nll.assign(static_cast<std::size_t>(n), 0.0);
  t.smooth.assign(static_cast<std::size_t>(n), 0.0);
  if (!p.prob) t.target_logit.assign(static_cast<std::size_t>(n), 0.0);
  if (p.prob && !with_loss) return t;
  const bool dense = with_loss && (p.prob || p.eps != 0.0);
  visit_floating(p.x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* x = p.x.data<T>();
    for_groups(n, dense ? G.C : 1, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t g = begin; g < end; ++g) {
        const Lse& l = lse[static_cast<std::size_t>(g)];
        const auto gi = static_cast<std::size_t>(g);
        if (p.prob) {
          double s = 0.0;
          visit_floating(p.target.dtype(), [&](auto ttag) {
            using U = decltype(ttag);
            const U* q = p.target.data<U>();
            for (std::int64_t c = 0; c < G.C; ++c) {
              s += p.w(c) * p.smoothed(as_double(q[G.at(g, c)])) * l.logp(as_double(x[G.at(g, c)]));
            }
          });
          t.nll[gi] = -s;
          continue;
        }
        const std::int64_t k = p.target.data<std::int64_t>()[g];
        if (k == p.ignore) continue;
        t.target_logit[gi] = as_double(x[G.at(g, k)]);
        t.nll[gi] = -p.w(k) * l.logp(t.target_logit[gi]);
        if (dense) {
          double s = 0.0;
          for (std::int64_t c = 0; c < G.C; ++c) s += p.w(c) * l.logp(as_double(x[G.at(g, c)]));
          t.smooth[gi] = -s;
        }
      }
    });
  });
  if (!p.prob) {
    const auto* tg = p.target.data<std::int64_t>();
    for (std::int64_t g = 0; g < n; ++g) {
      if (tg[g] != p.ignore) t.kept_weight += p.w(tg[g]);
    }
  }
  return t;
}

Tensor reduce_loss(const Problem& p, const Terms& t) {
  const std::int64_t n = p.G.count();
  const double C = static_cast<double>(p.G.C);
  auto combine = [&](double nll, double smooth) { return p.eps != 0.0 && !p.prob ? (1.0 - p.eps) * nll + p.eps / C * smooth : nll; };
  if (p.reduction == Reduction::kNone) {
    Tensor out = empty(without_dim(p.x.sizes(), p.dim), p.loss_dtype);
    for (std::int64_t g = 0; g < n; ++g) {
      const auto gi = static_cast<std::size_t>(g);
      detail::store_from_double(out.data_ptr(), p.loss_dtype, g, combine(t.nll[gi], t.smooth[gi]));
    }
    return out;
  }
  double nll = 0.0, smooth = 0.0;
  for (std::int64_t g = 0; g < n; ++g) nll += t.nll[static_cast<std::size_t>(g)], smooth += t.smooth[static_cast<std::size_t>(g)];
  double loss;
  if (p.reduction == Reduction::kSum) {
    loss = combine(nll, smooth);
  } else if (p.prob) {
    loss = p.x.numel() == 0 ? std::numeric_limits<double>::quiet_NaN() : nll / static_cast<double>(n);
  } else {
    loss = combine(nll / t.kept_weight, smooth / t.kept_weight);  // (both over the kept targets' weight)
  }
  Tensor out = empty(Size{}, p.loss_dtype);
  detail::store_from_double(out.data_ptr(), p.loss_dtype, 0, loss);
  return out;
}

// ---- the gradient ----

// dL/dx into `dx` (contiguous, x's shape and dtype; may be p.x itself) for per-group upstream
// gradients g (grad(gi) returns it):
//   index targets: dx_c = p_c (a w_t + b W) - a w_t [c == t] - b w_c, where a = (1 - e) times
//     the nll term's scale, b = e / C times the smoothing term's, W = sum_c w_c; 0 for ignored;
//   probabilities: dx_c = s (sum_k w_k q_k) p_c - s w_c q_c.
template <class GradOf>
void write_gradient(const Problem& p, const std::vector<Lse>& lse, const Terms& t, GradOf grad, const Tensor& dx) {
  const Groups& G = p.G;
  const std::int64_t n = G.count();
  const double C = static_cast<double>(G.C);
  const double W = p.weight_total();
  const auto* tg = p.prob ? nullptr : p.target.data<std::int64_t>();
  // Each term's scale per unit of upstream gradient (mean divides by its count).
  double nll_div = 1.0, smooth_div = 1.0;
  if (p.reduction == Reduction::kMean) {
    if (p.prob) {
      nll_div = static_cast<double>(n);
    } else {
      nll_div = smooth_div = t.kept_weight;
    }
  }
  const double keep = p.eps != 0.0 && !p.prob ? 1.0 - p.eps : 1.0;
  if (!p.prob && p.eps == 0.0) {
    // p_c * a w_t through the engine's softmax write (the sum divided by the factor), then the
    // target element recomputed in double: a w_t (p_t - 1), rounded once.
    std::vector<RowStats> scaled(static_cast<std::size_t>(n));
    std::vector<double> factor(static_cast<std::size_t>(n), 0.0);
    for (std::int64_t g = 0; g < n; ++g) {
      const auto gi = static_cast<std::size_t>(g);
      if (tg[g] != p.ignore) factor[gi] = grad(g) / nll_div * p.w(tg[g]);
      scaled[gi] = RowStats{lse[gi].max, lse[gi].sum / factor[gi]};
    }
    detail::group_write(Op::kSoftmax, p.x, p.dim, scaled, dx);
    for (std::int64_t g = 0; g < n; ++g) {
      const auto gi = static_cast<std::size_t>(g);
      if (tg[g] == p.ignore) {  // no gradient: the write gave exp(..)/inf = 0, unless the group was not finite
        for (std::int64_t c = 0; c < G.C; ++c) detail::store_from_double(dx.data_ptr(), dx.dtype(), G.at(g, c), 0.0);
        continue;
      }
      const double pt = std::exp(lse[gi].logp(t.target_logit[gi]));
      detail::store_from_double(dx.data_ptr(), dx.dtype(), G.at(g, tg[g]), factor[gi] * (pt - 1.0));
    }
    return;
  }
  visit_floating(p.x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* x = p.x.data<T>();
    T* out = dx.data<T>();
    for_groups(n, G.C, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t g = begin; g < end; ++g) {
        const auto gi = static_cast<std::size_t>(g);
        const Lse& l = lse[gi];
        if (p.prob) {
          const double s = grad(g) / nll_div;
          visit_floating(p.target.dtype(), [&](auto ttag) {
            using U = decltype(ttag);
            const U* q = p.target.data<U>();
            auto qc = [&](std::int64_t c) { return p.smoothed(as_double(q[G.at(g, c)])); };
            double total = 0.0;
            for (std::int64_t c = 0; c < G.C; ++c) total += p.w(c) * qc(c);
            for (std::int64_t c = 0; c < G.C; ++c) {
              const double pc = std::exp(l.logp(as_double(x[G.at(g, c)])));
              out[G.at(g, c)] = from_double<T>(s * (total * pc - p.w(c) * qc(c)));
            }
          });
          continue;
        }
        const std::int64_t k = tg[g];
        if (k == p.ignore) {
          for (std::int64_t c = 0; c < G.C; ++c) out[G.at(g, c)] = from_double<T>(0.0);
          continue;
        }
        const double a = keep * grad(g) / nll_div * p.w(k);
        const double b = p.eps / C * grad(g) / smooth_div;
        for (std::int64_t c = 0; c < G.C; ++c) {
          const double pc = std::exp(l.logp(as_double(x[G.at(g, c)])));
          out[G.at(g, c)] = from_double<T>(pc * (a + b * W) - (c == k ? a : 0.0) - b * p.w(c));
        }
      }
    });
  });
}

// The upstream gradient per group: grad_loss[g] for reduction none, else the one value.
struct UpstreamGrad {
  Tensor g;
  bool per_group;
  double operator()(std::int64_t i) const { return detail::load_as_double(g.data_ptr(), g.dtype(), per_group ? i : 0); }
};

}  // namespace

Tensor cross_entropy(const Tensor& input, const Tensor& target, const CrossEntropyOptions& options) {
  const Problem p = check(input, target, options);
  if (p.x.numel() == 0) return reduce_loss(p, Terms{std::vector<double>(static_cast<std::size_t>(p.G.count()), 0.0),
                                                    std::vector<double>(static_cast<std::size_t>(p.G.count()), 0.0), {}, 0.0});
  const std::vector<Lse> lse = group_lse(p.x, p.dim);
  return reduce_loss(p, loss_terms(p, lse));
}

Tensor cross_entropy_backward(const Tensor& grad_loss, const Tensor& input, const Tensor& target,
                              const CrossEntropyOptions& options) {
  const Problem p = check(input, target, options);
  detail::check_defined(grad_loss, "grad_loss", "cross_entropy");
  check_cpu(grad_loss, "grad_loss");
  const Size want = p.reduction == Reduction::kNone ? without_dim(p.x.sizes(), p.dim) : Size{};
  if (grad_loss.sizes() != want) {
    throw RuntimeError("cross_entropy_backward: grad_loss has shape " + grad_loss.sizes().list_str() + ", expected " +
                       want.list_str() + " for this reduction");
  }
  Tensor dx = empty(p.x.sizes(), p.x.dtype());
  if (p.x.numel() == 0) return dx;
  const std::vector<Lse> lse = group_lse(p.x, p.dim);
  const Terms t = loss_terms(p, lse, /*with_loss=*/false);
  write_gradient(p, lse, t, UpstreamGrad{grad_loss.contiguous(), p.reduction == Reduction::kNone}, dx);
  return dx;
}

std::pair<Tensor, Tensor> cross_entropy_with_grad(const Tensor& input, const Tensor& target,
                                                  const CrossEntropyOptions& options, bool inplace) {
  if (inplace) {
    detail::check_defined(input, "input", "cross_entropy");
    if (!input.is_contiguous()) throw RuntimeError("cross_entropy_with_grad: inplace needs a contiguous input");
    if (input.data_ptr() == target.data_ptr()) throw RuntimeError("cross_entropy_with_grad: inplace needs input and target apart");
  }
  const Problem p = check(input, target, options);
  Tensor dx = inplace ? p.x : empty(p.x.sizes(), p.x.dtype());
  if (p.x.numel() == 0) return {cross_entropy(input, target, options), dx};
  const std::vector<Lse> lse = group_lse(p.x, p.dim);
  const Terms t = loss_terms(p, lse);
  Tensor loss = reduce_loss(p, t);
  write_gradient(p, lse, t, [](std::int64_t) { return 1.0; }, dx);
  return {loss, dx};
}

// ---- token log-probabilities and entropy ----

Tensor token_logprobs(const Tensor& logits, const Tensor& ids, std::int64_t dim) {
  detail::check_defined(logits, "logits", "cross_entropy");
  detail::check_defined(ids, "ids", "cross_entropy");
  check_cpu(logits, "logits");
  check_cpu(ids, "ids");
  const std::int64_t d = detail::wrap_dim(dim, logits.dim());
  detail::check_kernel_dtype(Op::kLogSoftmax, logits, d == logits.dim() - 1 || logits.dim() == 0);
  if (ids.dtype() != kInt64) throw RuntimeError("gather(): Expected dtype int64 for index");
  if (ids.dim() != logits.dim()) throw RuntimeError("Index tensor must have the same number of dimensions as input tensor");
  for (std::int64_t k = 0; k < logits.dim(); ++k) {
    if (k != d && ids.size(k) > logits.size(k)) {
      throw RuntimeError("Size does not match at dimension " + std::to_string(k) + " expected index " +
                         ids.sizes().list_str() + " to be smaller than self " + logits.sizes().list_str() +
                         " apart from dimension " + std::to_string(d));
    }
  }
  // (a 0-d tensor is one group of one element: seen as shape [1])
  const Tensor x = logits.dim() == 0 ? logits.reshape(Size{1}) : logits.contiguous();
  const Tensor id = ids.dim() == 0 ? ids.reshape(Size{1}) : ids.contiguous();
  Tensor out = empty(ids.sizes(), logits.dtype());
  if (ids.numel() == 0) return out;
  const std::int64_t size_d = logits.dim() == 0 ? 1 : logits.size(d);
  const std::int64_t* idp = id.data<std::int64_t>();
  for (std::int64_t i = 0; i < ids.numel(); ++i) {
    if (idp[i] < 0 || idp[i] >= size_d) {
      throw RuntimeError("index " + std::to_string(idp[i]) + " is out of bounds for dimension " + std::to_string(d) +
                         " with size " + std::to_string(size_d));
    }
  }
  const std::vector<Lse> lse = group_lse(x, d);
  const Groups G = groups_of(x.sizes(), d);
  // Walk ids in row-major order, keeping each element's coordinates.
  std::vector<std::int64_t> coord(static_cast<std::size_t>(ids.dim()), 0);
  for (std::int64_t i = 0; i < ids.numel(); ++i) {
    std::int64_t o = 0, l = 0;
    for (std::int64_t k = 0; k < ids.dim(); ++k) {
      const auto kk = static_cast<std::size_t>(k);
      if (k < d) o = o * logits.size(k) + coord[kk];
      if (k > d) l = l * logits.size(k) + coord[kk];
    }
    const std::int64_t g = o * G.inner + l;
    const double v = detail::load_as_double(x.data_ptr(), x.dtype(), G.at(g, idp[i]));
    detail::store_from_double(out.data_ptr(), out.dtype(), i, lse[static_cast<std::size_t>(g)].logp(v));
    for (std::int64_t k = ids.dim() - 1; k >= 0; --k) {  // next coordinate
      const auto kk = static_cast<std::size_t>(k);
      if (++coord[kk] < ids.size(k)) break;
      coord[kk] = 0;
    }
  }
  return out;
}

Tensor entropy(const Tensor& logits, std::int64_t dim) {
  detail::check_defined(logits, "logits", "cross_entropy");
  check_cpu(logits, "logits");
  const std::int64_t d = detail::wrap_dim(dim, logits.dim());
  detail::check_kernel_dtype(Op::kSoftmax, logits, d == logits.dim() - 1 || logits.dim() == 0);
  const Tensor x = logits.dim() == 0 ? logits.reshape(Size{1}) : logits.contiguous();
  Tensor out = empty(without_dim(logits.sizes(), d), x.dtype());
  const Groups G = groups_of(x.sizes(), d);
  if (out.numel() == 0) return out;
  if (x.numel() == 0) {  // groups of no element: -(sum of nothing) = 0
    for (std::int64_t g = 0; g < out.numel(); ++g) detail::store_from_double(out.data_ptr(), out.dtype(), g, 0.0);
    return out;
  }
  const std::vector<Lse> lse = group_lse(x, d);
  visit_floating(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* xp = x.data<T>();
    T* op = out.data<T>();
    for_groups(G.count(), G.C, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t g = begin; g < end; ++g) {
        const Lse& l = lse[static_cast<std::size_t>(g)];
        double h = 0.0;
        for (std::int64_t c = 0; c < G.C; ++c) {
          const double lp = l.logp(as_double(xp[G.at(g, c)]));
          if (lp == -std::numeric_limits<double>::infinity()) continue;  // p = 0: contributes 0
          h -= std::exp(lp) * lp;
        }
        op[g] = from_double<T>(h);
      }
    });
  });
  return out;
}

}  // namespace smx
