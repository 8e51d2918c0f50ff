// A test fixture run once per SIMD target this CPU supports (Highway's HWY_EXPORT_AND_TEST_P
// idea): the parameter is the target's bit, forced for the test's duration - with the SIMD
// kernels selected even under SMX_ISA=REFERENCE, so these tests test the targets they name.
#pragma once

#include <gtest/gtest.h>
#include <hwy/targets.h>

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/kernel_table.h"

namespace smx::test {

inline std::vector<std::int64_t> supported_targets() {
  std::vector<std::int64_t> out;
  const std::int64_t all = detail::supported_simd_targets();
  for (std::int64_t bit = 1; bit > 0 && bit <= all; bit <<= 1) {
    if (all & bit) out.push_back(bit);
  }
  return out;
}

class SimdTargetTest : public ::testing::TestWithParam<std::int64_t> {
 protected:
  void SetUp() override {
    reference_ = detail::reference_kernels_selected();
    detail::force_reference_kernels_for_test(false);
    detail::force_simd_target_for_test(GetParam());
  }
  void TearDown() override {
    detail::force_simd_target_for_test(0);
    detail::force_reference_kernels_for_test(reference_);
  }

 private:
  bool reference_ = false;
};

inline std::string target_name(const ::testing::TestParamInfo<std::int64_t>& info) {
  return hwy::TargetName(info.param);
}

}  // namespace smx::test
