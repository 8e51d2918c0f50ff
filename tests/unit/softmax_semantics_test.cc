// PyTorch's argument semantics: dim wrapping and its errors, the implicit dim and its warning,
// dtype= casting, integer and bool input, empty and 0-d tensors, out= checks.
#include <gtest/gtest.h>

#include <string>

#include "smx/smx.h"
#include "test_support.h"
#include "tolerances.h"

namespace smx {
namespace {

template <typename E, typename Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("wrong exception type: ") + e.what();
  }
  return "no exception";
}

TEST(Semantics, DimOutOfRangeIsIndexErrorWithPyTorchsWords) {
  const Tensor x = randn({2, 2}, 0);
  EXPECT_EQ(error_of<IndexError>([&] { softmax(x, 2); }),
            "Dimension out of range (expected to be in range of [-2, 1], but got 2)");
  EXPECT_EQ(error_of<IndexError>([&] { log_softmax(x, -3); }),
            "Dimension out of range (expected to be in range of [-2, 1], but got -3)");
  EXPECT_EQ(error_of<IndexError>([&] { softmin(randn({2, 3, 4}, 0), 3); }),
            "Dimension out of range (expected to be in range of [-3, 2], but got 3)");
  EXPECT_EQ(error_of<IndexError>([&] { softmax(scalar_tensor(3), 1); }),
            "Dimension out of range (expected to be in range of [-1, 0], but got 1)");
  EXPECT_EQ(error_of<IndexError>([&] { softmax(zeros({5, 0, 0}), 3); }),
            "Dimension out of range (expected to be in range of [-3, 2], but got 3)");
  EXPECT_EQ(error_of<IndexError>([&] { softmax_backward(x, x, 2); }),
            "Dimension out of range (expected to be in range of [-2, 1], but got 2)");
}

TEST(Semantics, ZeroDimAcceptsMinusOneAndZero) {
  EXPECT_EQ(softmax(scalar_tensor(3), -1).item<double>(), 1.0);
  EXPECT_EQ(softmax(scalar_tensor(3), 0).item<double>(), 1.0);
  EXPECT_EQ(log_softmax(scalar_tensor(3), 0).item<double>(), 0.0);
  EXPECT_EQ(softmin(scalar_tensor(-7), 0).item<double>(), 1.0);
  EXPECT_EQ(softmax(scalar_tensor(3), 0).dim(), 0);
}

TEST(Semantics, IntegerAndBoolInputNeedAFloatingDtype) {
  const Tensor i = arange(6, kInt64).view({2, 3});
  EXPECT_EQ(error_of<RuntimeError>([&] { softmax(i, 1); }),
            "\"softmax_lastdim_kernel_impl\" not implemented for 'Long'");
  EXPECT_EQ(error_of<RuntimeError>([&] { softmax(i, 0); }),
            "\"softmax_kernel_impl\" not implemented for 'Long'");
  EXPECT_EQ(error_of<RuntimeError>([&] { log_softmax(i, 0); }),
            "\"softmax_kernel_impl\" not implemented for 'Long'");  // sic: PyTorch's name
  EXPECT_EQ(error_of<RuntimeError>([&] { log_softmax(i, 1); }),
            "\"log_softmax_lastdim_kernel_impl\" not implemented for 'Long'");
  EXPECT_EQ(error_of<RuntimeError>([&] { softmin(i, -1); }),
            "\"softmax_lastdim_kernel_impl\" not implemented for 'Long'");
  EXPECT_EQ(error_of<RuntimeError>([&] { softmax(scalar_tensor(3, kInt64), 0); }),
            "\"softmax_lastdim_kernel_impl\" not implemented for 'Long'");
  EXPECT_EQ(error_of<RuntimeError>([&] { softmax(zeros({2, 3}, kBool), -1); }),
            "\"softmax_lastdim_kernel_impl\" not implemented for 'Bool'");
  EXPECT_EQ(error_of<RuntimeError>([&] { softmax(zeros({2, 3}), -1, kInt64); }),
            "\"softmax_lastdim_kernel_impl\" not implemented for 'Long'");
  // softmin negates first, and PyTorch refuses to negate bools, even with dtype=.
  EXPECT_EQ(error_of<RuntimeError>([&] { softmin(zeros({2}, kBool), 0, kFloat32); }),
            "Negation, the `-` operator, on a bool tensor is not supported. If you are trying to "
            "invert a mask, use the `~` or `logical_not()` operator instead.");
  // With dtype= the input is cast first.
  const Tensor y = softmax(i, 1, kFloat64);
  EXPECT_EQ(y.dtype(), kFloat64);
  const auto iv = test::values(i);
  const auto tol = [](Dtype d) { return test::tolerance(test::Pass::kForward, test::Reference::kOracle, d); };
  EXPECT_LE(test::excess(test::values(y), test::oracle(iv, i.sizes().vec(), 1, test::Op::kSoftmax), tol(kFloat64)), 1.0);
  EXPECT_EQ(softmax(zeros({2}, kBool), 0, kFloat32).dtype(), kFloat32);
  EXPECT_LE(test::excess(test::values(softmin(i, 1, kFloat32)), test::oracle(iv, i.sizes().vec(), 1, test::Op::kSoftmin),
                         tol(kFloat32)),
            1.0);
}

TEST(Semantics, DtypeCastsBeforeTheOp) {
  const Tensor x = randn({3, 5}, 1);
  EXPECT_EQ(softmax(x, 1, kBFloat16).dtype(), kBFloat16);
  EXPECT_EQ(softmax(x.to(kFloat64), 1, kFloat32).dtype(), kFloat32);
  EXPECT_EQ(test::values(softmax(x, 1, kBFloat16)), test::values(softmax(x.to(kBFloat16), 1)));
}

TEST(Semantics, EmptyInputGivesEmptyOutputOfTheSameShape) {
  const Tensor y = softmax(zeros({5, 0, 0}), -1);
  EXPECT_EQ(y.sizes(), (Size{5, 0, 0}));
  EXPECT_EQ(log_softmax(zeros({0, 10}), 0).sizes(), (Size{0, 10}));
  EXPECT_EQ(softmax(zeros({10, 0}), 1).sizes(), (Size{10, 0}));
  // PyTorch returns before checking the dtype when there is nothing to compute.
  EXPECT_EQ(softmax(zeros({0}, kInt64), 0).dtype(), kInt64);
  EXPECT_EQ(softmax_backward(zeros({0, 3}), zeros({0, 3}), 1).sizes(), (Size{0, 3}));
}

TEST(Semantics, ImplicitDimFollowsPyTorchAndWarnsOncePerOp) {
  EXPECT_EQ(implicit_softmax_dim(0), 0);
  EXPECT_EQ(implicit_softmax_dim(1), 0);
  EXPECT_EQ(implicit_softmax_dim(2), 1);
  EXPECT_EQ(implicit_softmax_dim(3), 0);
  EXPECT_EQ(implicit_softmax_dim(4), 1);
  const Tensor x = randn({2, 3, 4, 5}, 9);
  testing::internal::CaptureStderr();
  const Tensor y = log_softmax(x);
  log_softmax(x);
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(err,
            "UserWarning: Implicit dimension choice for log_softmax has been deprecated. Change "
            "the call to include dim=X as an argument.\n");
  EXPECT_EQ(test::values(y), test::values(log_softmax(x, 1)));
  const Tensor x3 = randn({2, 3, 4}, 9);
  testing::internal::CaptureStderr();
  EXPECT_EQ(test::values(softmin(x3)), test::values(softmin(x3, 0)));
  EXPECT_NE(testing::internal::GetCapturedStderr().find("Implicit dimension choice for softmin"),
            std::string::npos);
}

TEST(Semantics, OutVariantsCheckShapeAndDtypeAndWorkInPlace) {
  const Tensor x = randn({4, 6}, 5);
  Tensor out = empty({4, 6});
  softmax_out(out, x, 1);
  EXPECT_EQ(test::values(out), test::values(softmax(x, 1)));
  Tensor strided_out = empty({6, 4}).transpose(0, 1);
  log_softmax_out(strided_out, x, 0);
  EXPECT_EQ(test::values(strided_out), test::values(log_softmax(x, 0)));
  Tensor inplace = x.clone();
  softmin_out(inplace, inplace, -1);
  EXPECT_EQ(test::values(inplace), test::values(softmin(x, -1)));
  Tensor wrong_shape = empty({6, 4});
  EXPECT_THROW(softmax_out(wrong_shape, x, 1), RuntimeError);
  Tensor wrong_dtype = empty({4, 6}, kFloat64);
  EXPECT_THROW(softmax_out(wrong_dtype, x, 1), RuntimeError);
  Tensor undefined;
  EXPECT_THROW(softmax_out(undefined, x, 1), RuntimeError);
  EXPECT_THROW(softmax_out(out, x, 2), IndexError);
}

TEST(Semantics, BackwardChecksItsInputs) {
  const Tensor y = softmax(randn({3, 4}, 2), 1);
  EXPECT_THROW(softmax_backward(y, y.view({4, 3}), 1), RuntimeError);
  EXPECT_THROW(softmax_backward(y, y.to(kFloat64), 1), RuntimeError);
  EXPECT_EQ(error_of<RuntimeError>([&] { softmax_backward(y.to(kInt64), y.to(kInt64), 1); }),
            "\"softmax_lastdim_backward_kernel_impl\" not implemented for 'Long'");
}

TEST(Semantics, UndefinedInputIsAnError) { EXPECT_THROW(softmax(Tensor(), 0), RuntimeError); }

// The op as a value: every name parses back to its op, anything else is one clear error, and
// forward/backward(op, ...) are the named functions (checked against the float64 oracle).
TEST(Semantics, OpsParseFromTheirNamesOnly) {
  for (Op op : {Op::kSoftmax, Op::kLogSoftmax, Op::kSoftmin, Op::kSoftmaxBackward, Op::kLogSoftmaxBackward}) {
    EXPECT_EQ(parse_op(op_name(op)), op);
  }
  EXPECT_EQ(error_of<ValueError>([] { parse_op("softmx"); }),
            "unknown op 'softmx' (expected one of softmax, log_softmax, softmin, softmax_backward, "
            "log_softmax_backward)");
  EXPECT_EQ(backward_of(Op::kLogSoftmax), Op::kLogSoftmaxBackward);
  EXPECT_THROW(backward_of(Op::kSoftmin), ValueError);
  const Tensor x = randn({3, 5}, 4, kFloat64);
  EXPECT_THROW(forward(Op::kSoftmaxBackward, x, 1), ValueError);
  EXPECT_THROW(backward(Op::kSoftmax, x, x, 1), ValueError);
  for (Op op : {Op::kSoftmax, Op::kLogSoftmax, Op::kSoftmin}) {
    const test::Op t = op == Op::kSoftmax ? test::Op::kSoftmax : op == Op::kLogSoftmax ? test::Op::kLogSoftmax
                                                                                       : test::Op::kSoftmin;
    const auto want = test::oracle(test::values(x), {3, 5}, 1, t);
    EXPECT_LT(test::max_rel_error(test::values(forward(op, x, 1)), want), 1e-13) << op_name(op);
  }
}

}  // namespace
}  // namespace smx
