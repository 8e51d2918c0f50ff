// The same-bits battery: a fixed set of problems (every op, every dtype, last / first / middle /
// several dims, masked and causal, long rows, tall columns, strided views, NaN and inf) run
// through the public API at 1 and 2 threads, each output reduced to a 64-bit digest of its
// bytes. A change that is meant to move no bit (a refactor, a faster loop) must leave every
// digest as recorded; a change that is meant to move bits (new numerics) records new digests
// in the same commit (tests/battery/run_battery.sh --record).
//
// Usage: smx_battery            prints "<case> <digest>" per case for the kernels that
//                               SMX_ISA selects (the driver runs it once per target)
//        smx_battery --targets  prints the names SMX_ISA accepts on this CPU, best first
// Exit status 1 if 1 and 2 threads disagree on any case (that is a bug whatever the record).
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include <hwy/targets.h>

#include "kernels/kernel_table.h"
#include "smx/smx.h"

namespace {

using smx::Size;
using smx::Tensor;
using MaskedOpts = smx::MaskedSoftmaxOptions;

// splitmix64: the inputs must not depend on anything the library might change.
struct Rng {
  std::uint64_t s;
  std::uint64_t next() {
    std::uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1p-53; }  // [0, 1)
  double normal() {  // Box-Muller, one of the pair
    const double u = uniform() + 0x1p-54, v = uniform();
    return std::sqrt(-2.0 * std::log(u)) * std::cos(6.283185307179586 * v);
  }
};

// A contiguous float64 tensor of N(0, 1) * scale values, cast to `dtype`.
Tensor input(const Size& sizes, smx::Dtype dtype, std::uint64_t seed, double scale = 4.0) {
  Tensor t = smx::empty(sizes, smx::kFloat64);
  Rng rng{seed};
  double* p = t.data<double>();
  for (std::int64_t i = 0; i < t.numel(); ++i) p[i] = rng.normal() * scale;
  return t.to(dtype);
}

// Special values at fixed places: NaN, +inf, -inf, and (when there are >= 2 groups of the last
// dim) one whole last-dim row of -inf.
Tensor with_specials(const Tensor& x) {
  Tensor t = x.to(smx::kFloat64).contiguous();
  double* p = t.data<double>();
  const std::int64_t n = t.numel();
  const double inf = std::numeric_limits<double>::infinity();
  p[1] = std::nan("");
  p[n / 2] = inf;
  p[n - 2] = -inf;
  if (t.dim() >= 1 && t.numel() / t.size(-1) >= 3) {
    const std::int64_t row = t.size(-1);
    for (std::int64_t j = 0; j < row; ++j) p[2 * row + j] = -inf;
  }
  return t.to(x.dtype());
}

Tensor bool_mask(const Size& sizes, std::uint64_t seed, double keep) {
  Tensor t = smx::empty(sizes, smx::kBool);
  Rng rng{seed};
  bool* p = t.data<bool>();
  for (std::int64_t i = 0; i < t.numel(); ++i) p[i] = rng.uniform() < keep;
  return t;
}

// Every NaN of a floating-point element of `bytes` bytes as one pattern. IEEE 754 leaves a NaN
// result's sign and payload open, and x86 picks them by operand order - which FMA form the
// compiler chose - so they follow code generation, not the arithmetic the battery guards.
// (No caller can see the difference: PyTorch prints, compares and propagates every NaN alike.)
std::vector<unsigned char> canonical_nans(const unsigned char* data, std::size_t count, smx::Dtype dtype) {
  const std::size_t bytes = smx::element_size(dtype);
  std::vector<unsigned char> out(data, data + count * bytes);
  auto canon = [&](auto word, auto exponent, auto mantissa, auto quiet) {
    using W = decltype(word);
    for (std::size_t i = 0; i < count; ++i) {
      W w;
      std::memcpy(&w, out.data() + i * bytes, bytes);
      if ((w & exponent) == exponent && (w & mantissa) != 0) {
        w = static_cast<W>(exponent | quiet);
        std::memcpy(out.data() + i * bytes, &w, bytes);
      }
    }
  };
  switch (dtype) {
    case smx::kFloat64:
      canon(std::uint64_t{}, std::uint64_t{0x7ff0000000000000}, std::uint64_t{0x000fffffffffffff},
            std::uint64_t{0x0008000000000000});
      break;
    case smx::kFloat32: canon(std::uint32_t{}, std::uint32_t{0x7f800000}, std::uint32_t{0x007fffff}, std::uint32_t{0x00400000}); break;
    case smx::kFloat16: canon(std::uint16_t{}, std::uint16_t{0x7c00}, std::uint16_t{0x03ff}, std::uint16_t{0x0200}); break;
    case smx::kBFloat16: canon(std::uint16_t{}, std::uint16_t{0x7f80}, std::uint16_t{0x007f}, std::uint16_t{0x0040}); break;
    default: break;
  }
  return out;
}

std::uint64_t digest(const Tensor& t) {
  const Tensor c = t.contiguous();
  std::uint64_t h = 0xcbf29ce484222325ull;
  auto mix = [&](const void* data, std::size_t bytes) {
    const auto* b = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < bytes; ++i) h = (h ^ b[i]) * 0x100000001b3ull;
  };
  for (std::int64_t s : c.sizes()) mix(&s, sizeof s);
  const int dtype = static_cast<int>(c.dtype());
  mix(&dtype, sizeof dtype);
  const auto elements = canonical_nans(static_cast<const unsigned char*>(c.data_ptr()),
                                       static_cast<std::size_t>(c.numel()), c.dtype());
  mix(elements.data(), elements.size());
  return h;
}

struct Case {
  std::string name;
  std::function<Tensor()> run;
};

const char* dtype_tag(smx::Dtype d) {
  switch (d) {
    case smx::kFloat32: return "f32";
    case smx::kFloat64: return "f64";
    case smx::kFloat16: return "f16";
    case smx::kBFloat16: return "bf16";
    default: return "?";
  }
}

std::string shape_tag(const Size& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) out += (i ? "x" : "") + std::to_string(s[i]);
  return out.empty() ? "scalar" : out;
}

std::string dims_tag(const std::vector<std::int64_t>& dims) {
  std::string out;
  for (std::size_t i = 0; i < dims.size(); ++i) out += (i ? "," : "") + std::to_string(dims[i]);
  return out;
}

// The plain family on one problem: three forward ops and both backward passes.
void family(std::vector<Case>& cases, const std::string& tag, std::function<Tensor()> make_x,
            std::vector<std::int64_t> dims) {
  const bool list = dims.size() > 1;
  const std::string where = tag + " dim " + dims_tag(dims);
  auto fwd = [=](int op) {
    return [=]() {
      const Tensor x = make_x();
      if (list) {
        const smx::DimList d(dims);
        return op == 0 ? smx::softmax(x, d) : op == 1 ? smx::log_softmax(x, d) : smx::softmin(x, d);
      }
      return op == 0 ? smx::softmax(x, dims[0]) : op == 1 ? smx::log_softmax(x, dims[0]) : smx::softmin(x, dims[0]);
    };
  };
  cases.push_back({"softmax " + where, fwd(0)});
  cases.push_back({"log_softmax " + where, fwd(1)});
  cases.push_back({"softmin " + where, fwd(2)});
  for (int op = 0; op < 2; ++op) {
    cases.push_back({std::string(op == 0 ? "softmax_backward " : "log_softmax_backward ") + where, [=]() {
                       const Tensor x = make_x();
                       const Tensor g = input(x.sizes(), x.dtype(), 777, 1.0);
                       const Tensor y = fwd(op)();
                       if (list) {
                         const smx::DimList d(dims);
                         return op == 0 ? smx::softmax_backward(g, y, d) : smx::log_softmax_backward(g, y, d);
                       }
                       return op == 0 ? smx::softmax_backward(g, y, dims[0]) : smx::log_softmax_backward(g, y, dims[0]);
                     }});
  }
}

std::vector<Case> all_cases() {
  std::vector<Case> cases;
  const smx::Dtype dtypes[] = {smx::kFloat32, smx::kFloat64, smx::kFloat16, smx::kBFloat16};
  for (smx::Dtype dt : dtypes) {
    const std::string d = dtype_tag(dt);
    auto plain = [&](const Size& s, std::uint64_t seed, std::vector<std::vector<std::int64_t>> dim_sets,
                     bool specials = false) {
      for (const auto& dims : dim_sets) {
        family(cases, d + " " + shape_tag(s) + (specials ? " specials" : ""),
               [=]() { return specials ? with_specials(input(s, dt, seed)) : input(s, dt, seed); }, dims);
      }
    };
    plain(Size{7, 33}, 1, {{-1}, {0}});                                      // short rows, short columns
    plain(Size{3, 5, 70000}, 2, {{-1}});                                     // long rows (chunks)
    plain(Size{1, 140001}, 3, {{-1}});                                       // one long row, 3 chunks
    plain(Size{1100, 24}, 4, {{0}, {1}});                                    // tall columns
    plain(Size{2, 3, 1300, 5}, 5, {{2}});                                    // tall columns, batch
    plain(Size{4, 6, 8, 10}, 6, {{1}, {1, 2}, {0, 2}, {1, 3}, {0, 3}, {2, 3}, {3, 1}});  // middle, several
    plain(Size{300, 3, 300}, 7, {{0, 2}});                                   // a long non-adjacent group
    plain(Size{20, 30, 40}, 8, {{0, 1}});                                    // group of columns
    plain(Size{9, 40}, 9, {{-1}, {0}}, true);                                // NaN, inf, -inf rows
    plain(Size{1, 140001}, 10, {{-1}}, true);                                // specials in a long row
    plain(Size{1200, 16}, 11, {{0}}, true);                                  // specials in tall columns
    plain(Size{5}, 12, {{0}});                                               // 1-D
    plain(Size{}, 13, {{0}});                                                // 0-d
    // Strided views: a transpose (strided rows and columns) and a narrowed slice.
    for (std::int64_t dim : {0, 1}) {
      family(cases, d + " 33x7.t()", [=]() { return input(Size{33, 7}, dt, 14).transpose(0, 1); }, {dim});
      family(cases, d + " 4x70010.narrow", [=]() { return input(Size{4, 70010}, dt, 15).narrow(1, 3, 70000); },
             {dim});
    }

    // Masked, scaled, causal (the attention-score softmax), over the last dim and others.
    const Size qk{2, 3, 50, 60};
    auto masked = [&](const std::string& name, std::function<std::optional<Tensor>()> mask,
                      smx::MaskedSoftmaxOptions o, std::int64_t dim, Size shape) {
      const std::string where = d + " " + shape_tag(shape) + " dim " + std::to_string(dim) + " " + name;
      cases.push_back({"masked_softmax " + where, [=]() { return smx::masked_softmax(input(shape, dt, 20), mask(), dim, o); }});
      cases.push_back(
          {"masked_log_softmax " + where, [=]() { return smx::masked_log_softmax(input(shape, dt, 20), mask(), dim, o); }});
      cases.push_back({"masked_softmax_backward " + where, [=]() {
                         const Tensor y = smx::masked_softmax(input(shape, dt, 20), mask(), dim, o);
                         return smx::masked_softmax_backward(input(shape, dt, 21, 1.0), y, mask(), dim, o);
                       }});
    };
    smx::MaskedSoftmaxOptions causal;
    causal.causal = true;
    smx::MaskedSoftmaxOptions scaled;
    scaled.scale = 0.125;
    smx::MaskedSoftmaxOptions scaled_causal_nan;
    scaled_causal_nan.scale = 0.3;
    scaled_causal_nan.causal = true;
    scaled_causal_nan.fully_masked = smx::FullyMasked::kNan;
    smx::MaskedSoftmaxOptions nan_policy;
    nan_policy.fully_masked = smx::FullyMasked::kNan;
    auto none = []() { return std::optional<Tensor>(); };
    // Key padding (B, 1, 1, S): a prefix of each row kept, one batch fully masked at the end.
    auto padding = []() {
      Tensor m = smx::zeros(Size{2, 1, 1, 60}, smx::kBool);
      for (std::int64_t j = 0; j < 45; ++j) m.data<bool>()[j] = true;
      return std::optional<Tensor>(m);
    };
    auto random_full = []() { return std::optional<Tensor>(bool_mask(Size{2, 3, 50, 60}, 30, 0.6)); };
    auto random_bcast = []() { return std::optional<Tensor>(bool_mask(Size{50, 60}, 31, 0.3)); };
    auto sparse = []() { return std::optional<Tensor>(bool_mask(Size{2, 3, 50, 60}, 32, 0.02)); };
    masked("causal", none, causal, -1, qk);
    masked("padding", padding, MaskedOpts{}, -1, qk);
    masked("padding scaled", padding, scaled, -1, qk);
    masked("random scaled", random_full, scaled, -1, qk);
    masked("broadcast causal scaled nan", random_bcast, scaled_causal_nan, -1, qk);
    masked("sparse nan", sparse, nan_policy, -1, qk);
    masked("sparse zero", sparse, MaskedOpts{}, -1, qk);
    masked("random dim2", random_full, scaled, 2, qk);
    masked("broadcast dim1 nan", random_bcast, nan_policy, 1, qk);
    masked("causal L>S", none, causal, -1, Size{3, 70, 40});
    auto long_mask = []() { return std::optional<Tensor>(bool_mask(Size{70000}, 33, 0.5)); };
    masked("long row", long_mask, scaled, -1, Size{2, 70000});
    auto specials_mask = []() { return std::optional<Tensor>(bool_mask(Size{9, 40}, 34, 0.7)); };
    cases.push_back({"masked_softmax " + d + " specials", [=]() {
                       return smx::masked_softmax(with_specials(input(Size{9, 40}, dt, 35)), specials_mask(), -1, {});
                     }});
  }
  return cases;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "--targets") {
    const std::int64_t supported = smx::detail::supported_simd_targets();
    for (std::int64_t bit = 1; bit > 0 && bit <= supported; bit <<= 1) {
      if (supported & bit) std::printf("%s\n", hwy::TargetName(bit));
    }
    std::printf("REFERENCE\n");
    return 0;
  }
  const std::vector<Case> cases = all_cases();
  if (argc > 2 && std::string(argv[1]) == "--dump") {  // the output bytes of the case named argv[2], in hex
    for (const Case& c : cases) {
      if (c.name != argv[2]) continue;
      const Tensor t = c.run().contiguous();
      const auto* b = static_cast<const unsigned char*>(t.data_ptr());
      const std::size_t e = t.element_size();
      for (std::int64_t i = 0; i < t.numel(); ++i) {
        for (std::size_t k = e; k-- > 0;) std::printf("%02x", b[i * static_cast<std::int64_t>(e) + static_cast<std::int64_t>(k)]);
        std::printf("\n");
      }
    }
    return 0;
  }
  int disagreements = 0;
  for (const Case& c : cases) {
    smx::set_num_threads(1);
    const std::uint64_t one = digest(c.run());
    smx::set_num_threads(2);
    const std::uint64_t two = digest(c.run());
    std::printf("%s %016llx\n", c.name.c_str(), static_cast<unsigned long long>(one));
    if (one != two) {
      std::fprintf(stderr, "smx_battery: %s: 1 thread gives %016llx, 2 threads %016llx\n", c.name.c_str(),
                   static_cast<unsigned long long>(one), static_cast<unsigned long long>(two));
      ++disagreements;
    }
  }
  return disagreements == 0 ? 0 : 1;
}
