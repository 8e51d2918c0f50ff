// nn modules: reprs, forward == functional, Softmax2d's channel dim and its shape check.
#include <gtest/gtest.h>

#include <cstdlib>
#include <sstream>

#include "smx/smx.h"
#include "test_support.h"

namespace smx {
namespace {

using test::values;

TEST(Modules, ReprsMatchPyTorch) {
  EXPECT_EQ(nn::Softmax(0).repr(), "Softmax(dim=0)");
  EXPECT_EQ(nn::Softmax().repr(), "Softmax(dim=None)");
  EXPECT_EQ(nn::LogSoftmax(-1).repr(), "LogSoftmax(dim=-1)");
  EXPECT_EQ(nn::Softmin(1).repr(), "Softmin(dim=1)");
  EXPECT_EQ(nn::Softmax2d().repr(), "Softmax2d()");
  std::ostringstream os;
  os << nn::Softmax(0) << " " << nn::Softmax2d();
  EXPECT_EQ(os.str(), "Softmax(dim=0) Softmax2d()");
}

TEST(Modules, ForwardIsTheFunctional) {
  const Tensor x = randn({3, 4, 5}, 2);
  EXPECT_EQ(values(nn::Softmax(1)(x)), values(softmax(x, 1)));
  EXPECT_EQ(values(nn::Softmax(1).forward(x)), values(softmax(x, 1)));
  EXPECT_EQ(values(nn::LogSoftmax(-1)(x)), values(log_softmax(x, -1)));
  EXPECT_EQ(values(nn::Softmin(0)(x)), values(softmin(x, 0)));
  EXPECT_EQ(nn::Softmax(2).dim(), 2);
  EXPECT_FALSE(nn::Softmax().dim().has_value());
  EXPECT_THROW(nn::Softmax(3)(x), IndexError);
}

TEST(Modules, Softmax2dIsOverChannels) {
  const Tensor x4 = randn({2, 3, 4, 5}, 3);
  const Tensor x3 = randn({3, 4, 5}, 4);
  EXPECT_EQ(values(nn::Softmax2d()(x4)), values(softmax(x4, 1)));
  EXPECT_EQ(values(nn::Softmax2d()(x3)), values(softmax(x3, 0)));
  try {
    nn::Softmax2d()(randn({2, 2}, 1));
    FAIL() << "no error";
  } catch (const ValueError& e) {
    EXPECT_STREQ(e.what(), "Softmax2d: expected input to be 3D or 4D, got 2D instead");
  }
  EXPECT_THROW(nn::Softmax2d()(randn({1, 2, 3, 4, 5}, 1)), ValueError);
}

// Each op warns once per process, so whether this process has warned already depends on the
// tests before this one. The check therefore runs in a fresh process: gtest's "threadsafe"
// death-test style re-executes this binary with only this test, and the child's stderr must
// hold PyTorch's text - no warning, or another text, fails.
TEST(Modules, ImplicitDimThroughAModuleWarnsWithTheOpsName) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const Tensor x = randn({2, 3}, 6);
  EXPECT_EXIT(
      {
        (void)nn::Softmax()(x);
        std::exit(0);
      },
      ::testing::ExitedWithCode(0),
      "^UserWarning: Implicit dimension choice for softmax has been deprecated\\. Change the call to include "
      "dim=X as an argument\\.\n$");
  EXPECT_EQ(values(nn::Softmax()(x)), values(softmax(x, 1)));
}

}  // namespace
}  // namespace smx
