// masked_softmax / masked_log_softmax / masked_softmax_backward against an independent float64
// oracle written on plain vectors: (scale * x).masked_fill(~mask, -inf), the textbook softmax,
// then the fully-masked rule - for every dtype, ranks 1-5, every broadcast class of mask,
// strided views, causal (L == S and L != S), NaN/inf at kept and masked elements, and errors.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "smx/smx.h"
#include "test_support.h"
#include "tolerances.h"

namespace smx {
namespace {

using test::values;
constexpr double kInf = std::numeric_limits<double>::infinity();

// A bool tensor of `shape`, True with probability `keep`.
Tensor random_mask(const Size& shape, std::uint64_t seed, double keep) {
  const auto u = values(rand(shape, seed, kFloat64));
  Tensor m = empty(shape, kBool);
  for (std::size_t i = 0; i < u.size(); ++i) m.data<bool>()[i] = u[i] < keep;
  return m;
}

Tensor bool_tensor(const Size& shape, const std::vector<int>& v) {
  Tensor m = empty(shape, kBool);
  for (std::size_t i = 0; i < v.size(); ++i) m.data<bool>()[i] = v[i] != 0;
  return m;
}

// The mask broadcast to `shape` (NumPy's rule), one flag per element in row-major order;
// causal ANDs tril over the last two dims. No mask: all kept.
std::vector<bool> expand_mask(const std::optional<Tensor>& mask, const std::vector<std::int64_t>& shape, bool causal) {
  std::int64_t total = 1;
  for (auto s : shape) total *= s;
  std::vector<bool> kept(static_cast<std::size_t>(total), true);
  const std::vector<double> mv = mask ? values(*mask) : std::vector<double>{};
  const std::vector<std::int64_t> ms = mask ? mask->sizes().vec() : std::vector<std::int64_t>{};
  const std::size_t nd = shape.size();
  std::vector<std::int64_t> idx(nd, 0);
  for (std::int64_t e = 0; e < total; ++e) {
    bool k = true;
    if (mask) {
      std::int64_t off = 0;
      for (std::size_t d = 0; d < ms.size(); ++d) {
        const std::int64_t i = ms[d] == 1 ? 0 : idx[nd - ms.size() + d];
        off = off * ms[d] + i;
      }
      k = mv[static_cast<std::size_t>(off)] != 0;
    }
    if (causal && idx[nd - 1] > idx[nd - 2]) k = false;
    kept[static_cast<std::size_t>(e)] = k;
    for (std::size_t d = nd; d-- > 0;) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
  return kept;
}

// scale * x rounded once in `dtype` (what PyTorch's scale * x gives before masked_fill).
double scaled_in(Dtype dtype, double x, std::optional<double> scale) {
  if (!scale) return x;
  switch (dtype) {
    case kFloat64: return x * *scale;
    case kFloat16: return static_cast<float>(Half(static_cast<float>(x) * static_cast<float>(*scale)));
    case kBFloat16: return static_cast<float>(BFloat16(static_cast<float>(x) * static_cast<float>(*scale)));
    default: return static_cast<double>(static_cast<float>(x) * static_cast<float>(*scale));
  }
}

struct Groups {
  std::int64_t outer = 1, n = 1, inner = 1;
  explicit Groups(const std::vector<std::int64_t>& shape, std::int64_t dim) {
    for (std::size_t d = 0; d < shape.size(); ++d) {
      if (static_cast<std::int64_t>(d) < dim) outer *= shape[d];
      else if (static_cast<std::int64_t>(d) == dim) n = shape[d];
      else inner *= shape[d];
    }
  }
  std::size_t at(std::int64_t o, std::int64_t k, std::int64_t i) const { return static_cast<std::size_t>((o * n + k) * inner + i); }
};

std::vector<double> oracle_forward(Dtype dtype, const std::vector<double>& x, const std::vector<bool>& kept,
                                   const std::vector<std::int64_t>& shape, std::int64_t dim, std::optional<double> scale,
                                   bool log, FullyMasked policy) {
  const Groups g(shape, dim);
  std::vector<double> y(x.size());
  for (std::int64_t o = 0; o < g.outer; ++o) {
    for (std::int64_t i = 0; i < g.inner; ++i) {
      std::vector<double> z(static_cast<std::size_t>(g.n));
      bool any = false, nan = false;
      double m = -kInf;
      for (std::int64_t k = 0; k < g.n; ++k) {
        const std::size_t e = g.at(o, k, i);
        z[k] = kept[e] ? scaled_in(dtype, x[e], scale) : -kInf;
        any |= kept[e];
        nan |= std::isnan(z[k]);
        m = std::max(m, z[k]);
      }
      double s = 0;
      for (std::int64_t k = 0; k < g.n; ++k) s += std::exp(z[k] - m);
      for (std::int64_t k = 0; k < g.n; ++k) {
        const std::size_t e = g.at(o, k, i);
        if (!any) y[e] = policy == FullyMasked::kNan ? std::nan("") : (log ? -kInf : 0.0);
        else if (nan || std::isinf(m)) y[e] = std::nan("");  // as torch.softmax: NaN, +inf or all -inf
        else y[e] = log ? z[k] - m - std::log(s) : std::exp(z[k] - m) / s;
      }
    }
  }
  return y;
}

std::vector<double> oracle_backward(const std::vector<double>& g, const std::vector<double>& y,
                                    const std::vector<bool>& kept, const std::vector<std::int64_t>& shape,
                                    std::int64_t dim, std::optional<double> scale) {
  const Groups gr(shape, dim);
  std::vector<double> dx(g.size());
  for (std::int64_t o = 0; o < gr.outer; ++o) {
    for (std::int64_t i = 0; i < gr.inner; ++i) {
      double acc = 0;
      for (std::int64_t k = 0; k < gr.n; ++k) acc += g[gr.at(o, k, i)] * y[gr.at(o, k, i)];
      for (std::int64_t k = 0; k < gr.n; ++k) {
        const std::size_t e = gr.at(o, k, i);
        dx[e] = kept[e] ? scale.value_or(1.0) * y[e] * (g[e] - acc) : 0.0;
      }
    }
  }
  return dx;
}

// The oracle sees the logits already rounded in the dtype (scaled_in), so what is left is the
// kernels' own error and the one rounding of the output: the "oracle" rows of tests/tolerances.h.
test::Tolerance tolerance(test::Pass pass, Dtype dtype) { return test::tolerance(pass, test::Reference::kOracle, dtype); }

void expect_forward(const Tensor& x, const std::optional<Tensor>& mask, std::int64_t dim, const MaskedSoftmaxOptions& o,
                    const std::string& what) {
  const std::int64_t wrapped = dim < 0 ? dim + x.dim() : dim;
  const auto kept = expand_mask(mask, x.sizes().vec(), o.causal);
  for (bool log : {false, true}) {
    const Tensor y = log ? masked_log_softmax(x, mask, dim, o) : masked_softmax(x, mask, dim, o);
    ASSERT_EQ(y.sizes(), x.sizes());
    ASSERT_EQ(y.dtype(), x.dtype());
    const auto expected = oracle_forward(x.dtype(), values(x), kept, x.sizes().vec(), wrapped, o.scale, log, o.fully_masked);
    const auto got = values(y);
    for (std::size_t i = 0; i < got.size(); ++i) {
      if (!kept[i] && !std::isnan(expected[i])) {  // masked: exactly 0 / -inf
        ASSERT_EQ(got[i], log ? -kInf : 0.0) << what << " masked element " << i;
      }
    }
    EXPECT_LE(test::excess(got, expected, tolerance(test::Pass::kForward, x.dtype()), log), 1.0)
        << what << (log ? " (log)" : "");
  }
}

Tensor make_x(const Size& shape, std::uint64_t seed, Dtype dtype) {
  return randn(shape, seed, kFloat64).to(dtype);
}

TEST(MaskedSoftmax, NoMaskIsPlainSoftmaxBitForBit) {
  for (Dtype dt : {kFloat32, kFloat64, kFloat16, kBFloat16}) {
    const Tensor x = make_x({7, 300}, 1, dt);
    EXPECT_EQ(values(masked_softmax(x, std::nullopt)), values(softmax(x, -1)));
    EXPECT_EQ(values(masked_log_softmax(x, Tensor())), values(log_softmax(x, -1)));
  }
}

TEST(MaskedSoftmax, EveryDtypeRankAndMaskClass) {
  const std::vector<Size> shapes = {{33}, {5, 40}, {3, 4, 17}, {2, 3, 4, 9}, {2, 2, 3, 2, 6}};
  std::uint64_t seed = 10;
  for (Dtype dt : {kFloat32, kFloat64, kFloat16, kBFloat16}) {
    for (const Size& shape : shapes) {
      const auto nd = static_cast<std::int64_t>(shape.size());
      // Mask shape classes: full, last dim only (1, .., S), leading dims only (.., L, 1),
      // scalar, rank-0, fewer dims than x, leading broadcast dims (1, ..).
      std::vector<std::vector<std::int64_t>> masks = {shape.vec(), {shape[nd - 1]}, {}, {1}};
      std::vector<std::int64_t> row(static_cast<std::size_t>(nd), 1), col = shape.vec(), lead = shape.vec();
      row.back() = shape[nd - 1];
      col.back() = 1;
      lead[0] = 1;
      masks.push_back(row);
      masks.push_back(col);
      masks.push_back(lead);
      if (nd >= 3) masks.push_back(std::vector<std::int64_t>(shape.vec().begin() + 1, shape.vec().end()));
      for (const auto& ms : masks) {
        for (std::int64_t dim = 0; dim < nd; ++dim) {
          const Tensor x = make_x(shape, ++seed, dt);
          const Tensor m = random_mask(Size(ms), ++seed, 0.6);
          MaskedSoftmaxOptions o;
          o.scale = (seed % 3 == 0) ? std::optional<double>(0.125) : std::nullopt;
          o.fully_masked = (seed % 2 == 0) ? FullyMasked::kZero : FullyMasked::kNan;
          expect_forward(x, m, dim, o, dtype_name(dt) + " x " + shape.str() + " mask " + Size(ms).str() + " dim " +
                                           std::to_string(dim));
        }
      }
    }
  }
}

TEST(MaskedSoftmax, FullyMaskedGroupsUnderBothPolicies) {
  const Tensor x = make_x({3, 4}, 2, kFloat32);
  const Tensor m = bool_tensor({3, 4}, {1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1});
  for (FullyMasked p : {FullyMasked::kZero, FullyMasked::kNan}) {
    MaskedSoftmaxOptions o;
    o.fully_masked = p;
    const auto y = values(masked_softmax(x, m, -1, o));
    const auto ly = values(masked_log_softmax(x, m, -1, o));
    for (int j = 0; j < 4; ++j) {
      if (p == FullyMasked::kZero) {
        EXPECT_EQ(y[4 + j], 0.0);
        EXPECT_EQ(ly[4 + j], -kInf);
      } else {
        EXPECT_TRUE(std::isnan(y[4 + j]));
        EXPECT_TRUE(std::isnan(ly[4 + j]));
      }
    }
    EXPECT_EQ(y[11], 1.0);  // the only kept element of its row
    EXPECT_NEAR(y[0] + y[2], 1.0, 1e-6);
    expect_forward(x, m, -1, o, "fully masked rows");
    expect_forward(x, m, 0, o, "fully masked columns");
  }
}

TEST(MaskedSoftmax, ScaleIsAppliedBeforeMasking) {
  const Tensor x = make_x({6, 50}, 3, kFloat64);
  const Tensor m = random_mask({1, 50}, 4, 0.5);
  MaskedSoftmaxOptions o;
  o.scale = 2.5;
  // softmax(2.5 x) over kept elements.
  expect_forward(x, m, -1, o, "scale 2.5");
  o.scale = -1.0;  // a negative scale is softmin over the kept elements
  expect_forward(x, m, -1, o, "scale -1");
}

TEST(MaskedSoftmax, CausalSquareAndRectangular) {
  for (Dtype dt : {kFloat32, kFloat64, kFloat16, kBFloat16}) {
    for (const Size& shape : std::vector<Size>{{5, 5}, {2, 3, 7, 7}, {4, 9}, {9, 4}, {2, 1, 6, 3}}) {
      const Tensor x = make_x(shape, 5, dt);
      MaskedSoftmaxOptions o;
      o.causal = true;
      expect_forward(x, std::nullopt, -1, o, "causal " + shape.str());
      // Causal and a padding mask together (AND): a key padding mask (..., 1, S).
      std::vector<std::int64_t> pad(shape.size(), 1);
      pad.back() = shape[shape.size() - 1];
      o.scale = 0.3;
      expect_forward(x, random_mask(Size(pad), 6, 0.7), -1, o, "causal + padding " + shape.str());
    }
  }
  // Top-left aligned as torch.ones(L, S).tril(): row 0 keeps only column 0.
  MaskedSoftmaxOptions o;
  o.causal = true;
  const auto y = values(masked_softmax(make_x({3, 5}, 7, kFloat64), std::nullopt, -1, o));
  EXPECT_EQ(y[0], 1.0);
  for (int j = 1; j < 5; ++j) EXPECT_EQ(y[j], 0.0);
  EXPECT_EQ(y[5 + 2], 0.0);
}

TEST(MaskedSoftmax, StridedViewsOfInputAndMask) {
  for (Dtype dt : {kFloat32, kFloat64, kFloat16}) {
    const Tensor base = make_x({6, 8, 10}, 8, dt);
    const Tensor mbase = random_mask({10, 8}, 9, 0.6);
    const Tensor mt = random_mask({10, 6}, 10, 0.6).transpose(0, 1);  // (6, 10), strided
    // x views: (8, 6, 10) transposed, and (6, 8, 8) narrowed + transposed; masks: strided views.
    for (const Tensor& x : {base.transpose(0, 1), base.narrow(2, 1, 8).narrow(1, 0, 8).transpose(1, 2)}) {
      const Tensor m = x.size(-1) == 10 ? mt : mbase.narrow(0, 2, 8);
      for (std::int64_t dim : {-1, 0, 1}) {
        MaskedSoftmaxOptions o;
        o.scale = 0.7;
        expect_forward(x, m, dim, o, "strided " + x.sizes().str() + " dim " + std::to_string(dim));
      }
    }
  }
}

TEST(MaskedSoftmax, NanAndInfAtKeptAndMaskedElements) {
  const double nan = std::nan("");
  const Tensor x = tensor({1, nan, 3, 4,  1, kInf, 2, 0,  -kInf, 2, 3, 0,  -kInf, -kInf, 5, 1,  nan, 1, 2, 3},
                          kFloat64).view({5, 4});
  const Tensor m = bool_tensor({5, 4}, {1, 0, 1, 1,  1, 0, 1, 1,  1, 1, 0, 0,  1, 1, 0, 0,  1, 1, 1, 1});
  for (Dtype dt : {kFloat32, kFloat64}) {
    for (FullyMasked p : {FullyMasked::kZero, FullyMasked::kNan}) {
      MaskedSoftmaxOptions o;
      o.fully_masked = p;
      const Tensor xd = x.to(dt);
      expect_forward(xd, m, -1, o, "specials");
      const auto y = values(masked_softmax(xd, m, -1, o));
      EXPECT_FALSE(std::isnan(y[0]));   // NaN at a masked element is ignored
      EXPECT_FALSE(std::isnan(y[4]));   // so is +inf
      EXPECT_EQ(y[8], 0.0);             // -inf at a kept element gives 0
      EXPECT_TRUE(std::isnan(y[12]));   // kept elements all -inf: NaN, as torch.softmax
      EXPECT_TRUE(std::isnan(y[16]));   // NaN at a kept element: NaN row
    }
  }
}

TEST(MaskedSoftmax, SameBitsAtAnyThreadCount) {
  const Tensor x = make_x({64, 2000}, 10, kFloat32);
  const Tensor m = random_mask({64, 1}, 11, 0.8);
  MaskedSoftmaxOptions o;
  o.scale = 0.5;
  const int saved = get_num_threads();
  set_num_threads(1);
  const auto one = values(masked_softmax(x, m, -1, o));
  set_num_threads(3);
  const auto three = values(masked_softmax(x, m, -1, o));
  set_num_threads(saved);
  EXPECT_EQ(one, three);
}

// Outputs of 8 MiB and more use non-temporal stores, and rows whose kept elements are a prefix
// (padding masks, causal) run the kernel straight from x: both paths, with NaN rows among them
// (a NaN row must be NaN in its masked tail too), at 1 and 2 threads alike.
TEST(MaskedSoftmax, LargeOutputsAndPrefixRows) {
  const double nan = std::nan("");
  for (Dtype dt : {kFloat32, kFloat16}) {
    Tensor x = make_x({512, 4096}, 40, kFloat64);
    x.data<double>()[5 * 4096 + 7] = nan;                 // kept NaN in a padded row
    x.data<double>()[9 * 4096 + 4000] = nan;              // NaN in the padding: ignored
    for (int j = 0; j < 3072; ++j) x.data<double>()[11 * 4096 + j] = -kInf;  // kept all -inf
    x = x.to(dt);
    Tensor pad = empty({512, 1, 4096}, kBool);  // per-row padding lengths, row 3 fully masked
    for (std::int64_t r = 0; r < 512; ++r) {
      const std::int64_t len = r == 3 ? 0 : r % 5 == 0 ? 4096 : 3072;
      for (std::int64_t j = 0; j < 4096; ++j) pad.data<bool>()[r * 4096 + j] = j < len;
    }
    const Tensor mask = pad.view({512, 4096});  // float32: exactly 8 MiB out
    for (FullyMasked p : {FullyMasked::kZero, FullyMasked::kNan}) {
      MaskedSoftmaxOptions o;
      o.fully_masked = p;
      expect_forward(x, mask, -1, o, "large padded " + dtype_name(dt));
      const int saved = get_num_threads();
      set_num_threads(1);
      const auto one = values(masked_softmax(x, mask, -1, o));
      set_num_threads(2);
      const auto two = values(masked_softmax(x, mask, -1, o));
      set_num_threads(saved);
      ASSERT_EQ(one.size(), two.size());
      for (std::size_t i = 0; i < one.size(); ++i) {
        ASSERT_TRUE(one[i] == two[i] || (std::isnan(one[i]) && std::isnan(two[i]))) << i;
      }
    }
  }
  // Short rows (n < 2048) of a large output: causal rows, and padded rows with a NaN row, go
  // through the staging buffer and are streamed out in blocks.
  MaskedSoftmaxOptions causal;
  causal.causal = true;
  Tensor xc = make_x({4, 3, 512, 512}, 41, kFloat64);  // float32: 12 MiB out
  xc.data<double>()[700 * 512 + 3] = nan;               // row 700 keeps element 3 under causal
  xc = xc.to(kFloat32);
  expect_forward(xc, std::nullopt, -1, causal, "large causal");
  expect_forward(xc, random_mask({4, 1, 1, 512}, 42, 1.0).narrow(3, 0, 512), -1, causal, "large causal, all-True mask");
  Tensor padded = empty({4, 1, 1, 512}, kBool);
  for (std::int64_t b = 0; b < 4; ++b) {
    for (std::int64_t j = 0; j < 512; ++j) padded.data<bool>()[b * 512 + j] = j < 100 * (b + 1);
  }
  expect_forward(xc, padded, -1, MaskedSoftmaxOptions{}, "large, padded short rows");
  expect_forward(xc, padded, -1, causal, "large causal + padded short rows");
}

TEST(MaskedSoftmax, LongRowsTakeTheGenericPath) {
  const Tensor x = make_x({2, 70000}, 12, kFloat32);  // longer than the fused kernel takes
  MaskedSoftmaxOptions o;
  o.scale = 0.9;
  expect_forward(x, random_mask({70000}, 13, 0.3), -1, o, "long rows");
}

TEST(MaskedSoftmax, EmptyAndZeroDim) {
  EXPECT_EQ(masked_softmax(empty({0, 3}), random_mask({3}, 1, 0.5)).sizes(), Size({0, 3}));
  const Tensor y = masked_softmax(scalar_tensor(2.0), bool_tensor({}, {1}), 0);
  EXPECT_EQ(y.item<double>(), 1.0);
  EXPECT_EQ(masked_softmax(scalar_tensor(2.0), bool_tensor({}, {0}), 0).item<double>(), 0.0);
}

TEST(MaskedSoftmaxBackward, MatchesAutogradFormula) {
  for (Dtype dt : {kFloat64, kFloat32, kFloat16, kBFloat16}) {
    for (std::int64_t dim : {-1, 0, 1}) {
      for (FullyMasked p : {FullyMasked::kZero, FullyMasked::kNan}) {
        const Size shape{4, 6, 9};
        const Tensor x = make_x(shape, 20, dt);
        const Tensor g = make_x(shape, 21, dt);
        Tensor m = random_mask({6, 9}, 22, 0.5);
        m.data<bool>()[0] = m.data<bool>()[1] = m.data<bool>()[2] = false;
        MaskedSoftmaxOptions o;
        o.scale = 1.5;
        o.fully_masked = p;
        o.causal = dim == -1;
        const Tensor y = masked_softmax(x, m, dim, o);
        const Tensor dx = masked_softmax_backward(g, y, m, dim, o);
        const auto kept = expand_mask(m, shape.vec(), o.causal);
        const auto expected = oracle_backward(values(g), values(y), kept, shape.vec(), dim < 0 ? dim + 3 : dim, o.scale);
        const auto got = values(dx);
        for (std::size_t i = 0; i < got.size(); ++i) {
          if (!kept[i]) {
            ASSERT_EQ(got[i], 0.0) << "masked gradient at " << i;
          }
        }
        // The oracle uses the same y, so only the backward's own arithmetic and rounding remain
        // (plus the scale product rounded once more for 16-bit types).
        EXPECT_LE(test::excess(got, expected, tolerance(test::Pass::kBackward, dt)), 1.0) << dtype_name(dt) << " dim " << dim;
      }
    }
  }
}

TEST(MaskedSoftmaxBackward, MatchesFiniteDifferences) {
  const Tensor x = make_x({3, 7}, 30, kFloat64);
  const Tensor w = make_x({3, 7}, 31, kFloat64);
  const Tensor m = random_mask({3, 7}, 32, 0.6);
  MaskedSoftmaxOptions o;
  o.scale = 0.8;
  const Tensor dx = masked_softmax_backward(w, masked_softmax(x, m, -1, o), m, -1, o);
  const auto wv = values(w);
  auto loss = [&](const Tensor& t) {
    const auto y = values(masked_softmax(t, m, -1, o));
    double l = 0;
    for (std::size_t i = 0; i < y.size(); ++i) l += wv[i] * y[i];
    return l;
  };
  const auto got = values(dx);
  for (std::int64_t i = 0; i < x.numel(); ++i) {
    Tensor plus = x.clone(), minus = x.clone();
    plus.data<double>()[i] += 1e-6;
    minus.data<double>()[i] -= 1e-6;
    EXPECT_NEAR(got[static_cast<std::size_t>(i)], (loss(plus) - loss(minus)) / 2e-6, 1e-7) << i;
  }
}

template <typename E>
void expect_error(const std::function<void()>& fn, const std::string& part) {
  try {
    fn();
    ADD_FAILURE() << "no error; expected one containing: " << part;
  } catch (const E& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

TEST(MaskedSoftmax, Errors) {
  const Tensor x = make_x({2, 4}, 1, kFloat32);
  expect_error<RuntimeError>([&] { masked_softmax(x, ones({2, 4})); }, "expected a bool mask");
  expect_error<RuntimeError>([&] { masked_softmax(x, random_mask({3}, 1, 0.5)); },
                             "The size of tensor a (4) must match the size of tensor b (3) at non-singleton dimension 1");
  expect_error<RuntimeError>([&] { masked_softmax(x, random_mask({2, 2, 4}, 1, 0.5)); }, "has more dims");
  expect_error<RuntimeError>([&] { masked_softmax(make_x({2, 1}, 1, kFloat32), random_mask({2, 3}, 1, 0.5)); },
                             "may not grow");
  expect_error<IndexError>([&] { masked_softmax(x, std::nullopt, 2); }, "Dimension out of range");
  MaskedSoftmaxOptions causal;
  causal.causal = true;
  expect_error<RuntimeError>([&] { masked_softmax(x, std::nullopt, 0, causal); }, "causal applies only to the last dim");
  expect_error<RuntimeError>([&] { masked_softmax(make_x({4}, 1, kFloat32), std::nullopt, -1, causal); },
                             "at least 2 dims");
  expect_error<RuntimeError>([&] { masked_softmax(ones({2, 2}, kInt64), std::nullopt); }, "expected a floating input");
  expect_error<RuntimeError>([&] { masked_softmax_backward(x, make_x({2, 3}, 1, kFloat32), std::nullopt); },
                             "grad_output has shape");
  expect_error<ValueError>([] { parse_fully_masked("one"); }, "\"zero\" or \"nan\"");
}

}  // namespace
}  // namespace smx
