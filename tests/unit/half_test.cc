// 16-bit conversions: every half and bfloat16 value round-trips, and float -> 16-bit picks the
// nearest representable value with ties to even (checked against neighbours, not a formula).
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <random>

#include "smx/half.h"

namespace smx {
namespace {

void check_nearest_even(float f, std::uint16_t h, float (*to_float)(std::uint16_t)) {
  const double exact = f;
  const double got = to_float(h);
  if (std::isinf(got)) return;  // overflow handled by the dedicated test
  for (int delta : {-1, 1}) {
    const auto neighbour = static_cast<std::uint16_t>(h + delta);
    const double other = to_float(neighbour);
    if (std::isnan(other) || std::isinf(other)) continue;
    if ((neighbour & 0x7fffu) == 0 && (h & 0x7fffu) == 0) continue;
    const double d_got = std::fabs(got - exact);
    const double d_other = std::fabs(other - exact);
    ASSERT_LE(d_got, d_other) << "f=" << f << " bits=" << h;
    if (d_got == d_other) {
      ASSERT_EQ(h & 1u, 0u) << "tie not to even for f=" << f;
    }
  }
}

TEST(Half, EveryValueRoundTrips) {
  for (std::uint32_t b = 0; b < 65536; ++b) {
    const auto h = static_cast<std::uint16_t>(b);
    const float f = half_bits_to_float(h);
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(half_bits_to_float(float_to_half_bits(f))));
    } else {
      EXPECT_EQ(float_to_half_bits(f), h) << b;
    }
  }
}

TEST(Half, RoundsToNearestEven) {
  std::mt19937 gen(7);
  std::uniform_real_distribution<float> exponent(-26.0f, 16.0f);
  for (int i = 0; i < 200000; ++i) {
    const float f = std::exp2(exponent(gen)) * (i % 2 ? 1.0f : -1.0f);
    check_nearest_even(f, float_to_half_bits(f), half_bits_to_float);
  }
  // Exact midpoints between neighbouring halves.
  for (std::uint32_t b = 1; b < 0x7bff; b += 37) {
    const float lo = half_bits_to_float(static_cast<std::uint16_t>(b));
    const float hi = half_bits_to_float(static_cast<std::uint16_t>(b + 1));
    const float mid = (lo + hi) / 2;  // exact in float
    EXPECT_EQ(float_to_half_bits(mid) & 1u, 0u) << b;
  }
}

TEST(Half, OverflowAndSpecials) {
  EXPECT_EQ(float_to_half_bits(65504.0f), 0x7bffu);
  EXPECT_EQ(float_to_half_bits(65519.99f), 0x7bffu);
  EXPECT_EQ(float_to_half_bits(65520.0f), 0x7c00u);  // rounds up to inf
  EXPECT_EQ(float_to_half_bits(-1e10f), 0xfc00u);
  EXPECT_EQ(float_to_half_bits(INFINITY), 0x7c00u);
  EXPECT_TRUE(std::isnan(half_bits_to_float(float_to_half_bits(NAN))));
  EXPECT_EQ(float_to_half_bits(-0.0f), 0x8000u);
  EXPECT_EQ(float_to_half_bits(0x1p-25f), 0u);        // half-way to the smallest subnormal: even
  EXPECT_EQ(float_to_half_bits(0x1.8p-25f), 1u);
}

TEST(BFloat16, EveryValueRoundTrips) {
  for (std::uint32_t b = 0; b < 65536; ++b) {
    const auto h = static_cast<std::uint16_t>(b);
    const float f = bfloat16_bits_to_float(h);
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(bfloat16_bits_to_float(float_to_bfloat16_bits(f))));
    } else {
      EXPECT_EQ(float_to_bfloat16_bits(f), h) << b;
    }
  }
}

TEST(BFloat16, RoundsToNearestEven) {
  std::mt19937 gen(11);
  std::uniform_int_distribution<std::uint32_t> bits(0, 0x7f7fffffu);
  for (int i = 0; i < 200000; ++i) {
    const float f = std::bit_cast<float>(bits(gen) | (i % 2 ? 0x80000000u : 0u));
    check_nearest_even(f, float_to_bfloat16_bits(f), bfloat16_bits_to_float);
  }
  EXPECT_EQ(float_to_bfloat16_bits(std::bit_cast<float>(0x3f808000u)), 0x3f80u);  // tie -> even
  EXPECT_EQ(float_to_bfloat16_bits(std::bit_cast<float>(0x3f818000u)), 0x3f82u);  // tie -> even
  EXPECT_TRUE(std::isnan(bfloat16_bits_to_float(float_to_bfloat16_bits(NAN))));
}

}  // namespace
}  // namespace smx
