// A direct test of each exp variant the SIMD kernels use (src/kernels/simd/exp-inl.h), on every
// SIMD target this CPU supports, against a higher-precision exp, over each variant's whole input
// range: the error bound the kernels' contracts state (docs/speed.md: "within 2 ulp") is asserted here,
// not inferred from softmax outputs where the sum and the scale blur it.
//
// Inputs: float32 bit patterns walked with a stride (every float when SMX_EXP_TEST_EVERY_FLOAT=1;
// the default stride 61 is odd and prime, so every mantissa residue class and every binade is
// hit, ~18M inputs per variant and target), plus the range ends and the special values.
// Error in ulp: |got - exact| / ulp(exact), exact from std::exp in double (float32 variants) or
// expl in long double (float64), ulp(e) the float spacing at e's binade (2^-149 for subnormals).

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "unit/simd_exp_test.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include <hwy/highway.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "kernels/simd/exp-inl.h"

#ifndef SMX_SIMD_EXP_TEST_SHARED_
#define SMX_SIMD_EXP_TEST_SHARED_
namespace smx::test {
// The result of a sweep: the largest error in ulp and the input that gave it, plus counts of
// results that broke a hard rule (flush, NaN, sign).
struct ExpSweep {
  double max_ulp = 0.0;
  double worst_input = 0.0;
  std::int64_t count = 0;
  std::int64_t wrong_flush = 0;    // ExpNonPositiveF32: below the cutoff not 0, or above it 0
  std::int64_t flush_mismatch = 0;  // ExpNonPositiveF32<false> differs from <true> above the cutoff
};
enum class ExpVariant : int { kNonPositiveF32, kKeepNaNF32 };

inline float float_from_bits(std::uint32_t b) {
  float f;
  std::memcpy(&f, &b, sizeof f);
  return f;
}
inline double ulp_of_float(double exact) {
  const double a = std::fabs(exact);
  if (a < 0x1p-126) return 0x1p-149;
  int e;
  std::frexp(a, &e);  // a = m * 2^e, m in [0.5, 1)
  return std::ldexp(1.0, e - 24);
}
inline double ulp_of_double(long double exact) {
  const long double a = fabsl(exact);
  if (a < 0x1p-1022L) return 0x1p-1074;
  int e;
  frexpl(a, &e);
  return std::ldexp(1.0, e - 53);
}
}  // namespace smx::test
#endif

HWY_BEFORE_NAMESPACE();
namespace smx::test {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
namespace kern = smx::detail::HWY_NAMESPACE;

// Sweeps the float32 values whose bit patterns run from `first` up to `last` (inclusive) in
// steps of `stride` (negative floats: larger patterns are more negative).
ExpSweep SweepF32(int variant, std::uint32_t first, std::uint32_t last, std::uint32_t stride) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  HWY_ALIGN float in[hn::MaxLanes(hn::ScalableTag<float>())] = {};
  HWY_ALIGN float out[hn::MaxLanes(hn::ScalableTag<float>())];
  HWY_ALIGN float out_noflush[hn::MaxLanes(hn::ScalableTag<float>())];
  ExpSweep r;
  const float cutoff = kern::kExpCutoff;
  std::uint64_t bits = first;
  while (bits <= last) {
    size_t k = 0;
    for (; k < N && bits <= last; ++k, bits += stride) in[k] = float_from_bits(static_cast<std::uint32_t>(bits));
    for (size_t j = k; j < N; ++j) in[j] = in[0];
    const auto v = hn::Load(d, in);
    if (variant == static_cast<int>(ExpVariant::kNonPositiveF32)) {
      hn::Store(kern::ExpNonPositiveF32<true>(d, v), d, out);
      hn::Store(kern::ExpNonPositiveF32<false>(d, v), d, out_noflush);
    } else {
      hn::Store(kern::ExpKeepNaN(d, v), d, out);
    }
    for (size_t j = 0; j < k; ++j) {
      ++r.count;
      const double x = in[j];
      const double exact = std::exp(x);
      if (variant == static_cast<int>(ExpVariant::kNonPositiveF32)) {
        if (in[j] < cutoff) {  // flushed to 0 by contract (exact < 1.2e-38)
          if (out[j] != 0.0f) ++r.wrong_flush;
          continue;
        }
        if (out[j] == 0.0f) ++r.wrong_flush;
        if (std::memcmp(&out[j], &out_noflush[j], sizeof(float)) != 0) ++r.flush_mismatch;
      }
      const double err = std::fabs(static_cast<double>(out[j]) - exact) / ulp_of_float(exact);
      if (err > r.max_ulp || std::isnan(err)) {
        r.max_ulp = std::isnan(err) ? std::numeric_limits<double>::infinity() : err;
        r.worst_input = x;
      }
    }
  }
  return r;
}

// float64 hwy::Exp (NaN kept) over [lo, hi], `count` evenly spaced points plus 1-ulp neighbours
// of each (dense enough to see a systematic error; float64 cannot be walked exhaustively).
ExpSweep SweepF64(double lo, double hi, std::int64_t count) {
  const hn::ScalableTag<double> d;
  const size_t N = hn::Lanes(d);
  HWY_ALIGN double in[hn::MaxLanes(hn::ScalableTag<double>())] = {};
  HWY_ALIGN double out[hn::MaxLanes(hn::ScalableTag<double>())];
  ExpSweep r;
  std::int64_t i = 0;
  while (i < count) {
    size_t k = 0;
    for (; k < N && i < count; ++k, ++i) {
      const double x = lo + (hi - lo) * static_cast<double>(i) / static_cast<double>(count - 1);
      in[k] = (i % 3 == 0) ? x : std::nextafter(x, (i % 3 == 1) ? hi : lo);
    }
    for (size_t j = k; j < N; ++j) in[j] = in[0];
    hn::Store(kern::ExpKeepNaN(d, hn::Load(d, in)), d, out);
    for (size_t j = 0; j < k; ++j) {
      ++r.count;
      const long double exact = expl(static_cast<long double>(in[j]));
      const double err = static_cast<double>(fabsl(static_cast<long double>(out[j]) - exact)) / ulp_of_double(exact);
      if (err > r.max_ulp || std::isnan(err)) {
        r.max_ulp = std::isnan(err) ? std::numeric_limits<double>::infinity() : err;
        r.worst_input = in[j];
      }
    }
  }
  return r;
}

// Whether this target has a fused multiply-add: without one, ExpNonPositiveF32's MulAdds round
// twice, which costs a fraction of an ulp.
int HasNativeFma() { return HWY_NATIVE_FMA; }

// exp of the special values, each variant: writes 1 to ok[i] when case i behaves.
void SpecialValues(int* ok) {
  const hn::ScalableTag<float> df;
  const hn::ScalableTag<double> dd;
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  auto f1 = [&](auto fn, float x) { return hn::GetLane(fn(hn::Set(df, x))); };
  auto d1 = [&](auto fn, double x) { return hn::GetLane(fn(hn::Set(dd, x))); };
  auto nonpos = [&](auto v) { return kern::ExpNonPositiveF32<true>(df, v); };
  auto keep_f = [&](auto v) { return kern::ExpKeepNaN(df, v); };
  auto keep_d = [&](auto v) { return kern::ExpKeepNaN(dd, v); };
  int i = 0;
  ok[i++] = f1(nonpos, 0.0f) == 1.0f;
  ok[i++] = f1(nonpos, -0.0f) == 1.0f;
  ok[i++] = f1(nonpos, -inf) == 0.0f;
  ok[i++] = std::isnan(f1(nonpos, nan));
  ok[i++] = f1(keep_f, 0.0f) == 1.0f;
  ok[i++] = f1(keep_f, -inf) == 0.0f;
  ok[i++] = f1(keep_f, inf) == inf;
  ok[i++] = f1(keep_f, 100.0f) == inf;  // overflow
  ok[i++] = std::isnan(f1(keep_f, nan));
  ok[i++] = d1(keep_d, 0.0) == 1.0;
  ok[i++] = d1(keep_d, -static_cast<double>(inf)) == 0.0;
  ok[i++] = d1(keep_d, static_cast<double>(inf)) == static_cast<double>(inf);
  ok[i++] = d1(keep_d, 710.0) == static_cast<double>(inf);
  ok[i++] = std::isnan(d1(keep_d, static_cast<double>(nan)));
}

}  // namespace HWY_NAMESPACE
}  // namespace smx::test
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "simd_target_fixture.h"

namespace smx::test {
HWY_EXPORT(SweepF32);
HWY_EXPORT(SweepF64);
HWY_EXPORT(SpecialValues);
HWY_EXPORT(HasNativeFma);

namespace {

constexpr int kSpecialCases = 14;

// The stride between float32 bit patterns: 1 (every float) on request, else 61.
std::uint32_t f32_stride() {
  const char* every = std::getenv("SMX_EXP_TEST_EVERY_FLOAT");
  return every != nullptr && std::string(every) == "1" ? 1u : 61u;
}

std::uint32_t bits_of(float f) {
  std::uint32_t b;
  std::memcpy(&b, &f, sizeof b);
  return b;
}

class ExpPerTarget : public SimdTargetTest {};

// Each test calls the current target's version directly (HWY_DYNAMIC_DISPATCH follows the
// target the fixture forces), so every target this CPU runs is checked.
TEST_P(ExpPerTarget, NonPositiveF32WithinTwoUlpAndFlushesBelowCutoff) {
  // Every float in [-0, -104]: 0x80000000 (-0) up to -104 (well below the cutoff -87.34, where
  // the flush must give exactly 0; everything below -104 takes the same path).
  const ExpSweep r = HWY_DYNAMIC_DISPATCH(SweepF32)(static_cast<int>(ExpVariant::kNonPositiveF32), 0x80000000u,
                                                    bits_of(-104.0f), f32_stride());
  std::printf("  ExpNonPositiveF32: max %.3f ulp at %.9g (%lld inputs)\n", r.max_ulp, r.worst_input,
              static_cast<long long>(r.count));
  // The contract (exp-inl.h): within 2 ulp for v in [kExpCutoff, 0] on targets with FMA
  // (measured over every float: 1.981 ulp at -2.93714523 on AVX2); without FMA (SSE4, SSSE3,
  // SCALAR) each MulAdd rounds twice and the bound is 2.5 ulp (every float: 2.264 at -27.33321).
  const double bound = HWY_DYNAMIC_DISPATCH(HasNativeFma)() ? 2.0 : 2.5;
  EXPECT_LE(r.max_ulp, bound) << "worst input " << r.worst_input << " of " << r.count;
  EXPECT_EQ(r.wrong_flush, 0) << "results below the cutoff must be 0 and above it nonzero";
  EXPECT_EQ(r.flush_mismatch, 0) << "the no-flush variant must give the same bits above the cutoff";
  EXPECT_GT(r.count, 1000000);
}

// Highway documents exp's error as 1 ulp: 1 ulp from the correctly rounded result, which is
// within 0.5 ulp of the exact value, so below 1.5 ulp of the exact value (measured with the
// default sweep: 1.010 for float, 1.022 for double, on AVX2).
constexpr double kHwyExpBound = 1.5;

void report(const ExpSweep& neg, const ExpSweep& pos) {
  std::printf("  ExpKeepNaN: max %.3f ulp at %.17g (x <= 0), %.3f ulp at %.17g (x >= 0)\n", neg.max_ulp,
              neg.worst_input, pos.max_ulp, pos.worst_input);
}

TEST_P(ExpPerTarget, KeepNaNF32WithinOneUlpOverItsRange) {
  // hwy::Exp, which the kernels use for float only on log_softmax's backward (exp of y <= 0):
  // every float from -0 down to -87.33 (normal results) and from +0 up to +88, where
  // ExpKeepNaN's clamp starts (Highway's valid range; above it ExpKeepNaN returns +inf, although
  // exp is finite up to 88.72 - outside what the kernels feed it). Below -87.33 results are
  // subnormal, where Highway gives no ulp bound.
  const std::uint32_t stride = f32_stride();
  const ExpSweep neg = HWY_DYNAMIC_DISPATCH(SweepF32)(static_cast<int>(ExpVariant::kKeepNaNF32), 0x80000000u,
                                                      bits_of(-87.33f), stride);
  const ExpSweep pos =
      HWY_DYNAMIC_DISPATCH(SweepF32)(static_cast<int>(ExpVariant::kKeepNaNF32), 0u, bits_of(88.0f), stride);
  report(neg, pos);
  EXPECT_LE(neg.max_ulp, kHwyExpBound) << "worst input " << neg.worst_input;
  EXPECT_LE(pos.max_ulp, kHwyExpBound) << "worst input " << pos.worst_input;
}

TEST_P(ExpPerTarget, KeepNaNF64WithinOneUlp) {
  // float64 x - max (and log_softmax's backward exp(y)) lies in [-708, 0] for normal results;
  // the positive side up to +709 (ExpKeepNaN's clamp, as for float) too. 3M points per side.
  const ExpSweep neg = HWY_DYNAMIC_DISPATCH(SweepF64)(-708.0, 0.0, 3000000);
  const ExpSweep pos = HWY_DYNAMIC_DISPATCH(SweepF64)(0.0, 709.0, 3000000);
  // The reference (expl, 64-bit mantissa) adds at most 2^-11 ulp of its own.
  report(neg, pos);
  EXPECT_LE(neg.max_ulp, kHwyExpBound) << "worst input " << neg.worst_input;
  EXPECT_LE(pos.max_ulp, kHwyExpBound) << "worst input " << pos.worst_input;
}

TEST_P(ExpPerTarget, SpecialValues) {
  int ok[kSpecialCases] = {};
  HWY_DYNAMIC_DISPATCH(SpecialValues)(ok);
  const char* names[kSpecialCases] = {
      "nonpos(0)=1", "nonpos(-0)=1", "nonpos(-inf)=0", "nonpos(NaN)=NaN", "keepf(0)=1", "keepf(-inf)=0",
      "keepf(inf)=inf", "keepf(100)=inf", "keepf(NaN)=NaN", "keepd(0)=1", "keepd(-inf)=0",
      "keepd(inf)=inf", "keepd(710)=inf", "keepd(NaN)=NaN"};
  for (int i = 0; i < kSpecialCases; ++i) EXPECT_EQ(ok[i], 1) << names[i];
}

INSTANTIATE_TEST_SUITE_P(Targets, ExpPerTarget, ::testing::ValuesIn(supported_targets()), target_name);

}  // namespace
}  // namespace smx::test
#endif  // HWY_ONCE
