// Tensor: factories, views over shared storage, copies, casts, sum, item, neg, allclose.
#include <gtest/gtest.h>

#include <cmath>

#include "smx/smx.h"
#include "test_support.h"

namespace smx {
namespace {

using test::values;

TEST(Tensor, FactoriesDefaultToFloat32) {
  EXPECT_EQ(tensor({1, 2}).dtype(), kFloat32);
  EXPECT_EQ(scalar_tensor(1).dtype(), kFloat32);
  EXPECT_EQ(empty({2}).dtype(), kFloat32);
  EXPECT_EQ(zeros({2}).dtype(), kFloat32);
  EXPECT_EQ(ones({2}).dtype(), kFloat32);
  EXPECT_EQ(full({2}, 3).dtype(), kFloat32);
  EXPECT_EQ(arange(3).dtype(), kFloat32);
  EXPECT_EQ(randn({2}, 1).dtype(), kFloat32);
  EXPECT_EQ(rand({2}, 1).dtype(), kFloat32);
}

TEST(Tensor, FactoryValues) {
  EXPECT_EQ(values(zeros({2, 3})), std::vector<double>(6, 0.0));
  EXPECT_EQ(values(ones({2}, kBFloat16)), (std::vector<double>{1, 1}));
  EXPECT_EQ(values(full({3}, 2.5, kFloat16)), (std::vector<double>{2.5, 2.5, 2.5}));
  EXPECT_EQ(values(arange(1, 2, 0.25)), (std::vector<double>{1, 1.25, 1.5, 1.75}));
  EXPECT_EQ(values(arange(4, kInt64)), (std::vector<double>{0, 1, 2, 3}));
  EXPECT_EQ(scalar_tensor(7, kFloat64).dim(), 0);
  EXPECT_EQ(scalar_tensor(7, kFloat64).item<double>(), 7.0);
  EXPECT_EQ(tensor({0.1}).item<double>(), static_cast<double>(0.1f));  // rounded to float32
}

TEST(Tensor, RandomFactoriesAreSeededAndPlausible) {
  const auto a = values(randn({10000}, 42));
  EXPECT_EQ(a, values(randn({10000}, 42)));
  EXPECT_NE(a, values(randn({10000}, 43)));
  double mean = 0, var = 0;
  for (double v : a) mean += v / a.size();
  for (double v : a) var += (v - mean) * (v - mean) / a.size();
  EXPECT_NEAR(mean, 0.0, 0.05);
  EXPECT_NEAR(var, 1.0, 0.05);
  for (double v : values(rand({1000}, 3))) {
    EXPECT_GE(v, 0.0);
    EXPECT_LT(v, 1.0);
  }
}

TEST(Tensor, NegativeSizeIsAnError) { EXPECT_THROW(empty({2, -1}), RuntimeError); }

TEST(Tensor, ViewSharesStorageAndInfers) {
  Tensor a = arange(6);
  Tensor v = a.view({3, -1});
  EXPECT_EQ(v.sizes(), (Size{3, 2}));
  EXPECT_EQ(v.strides(), (std::vector<std::int64_t>{2, 1}));
  static_cast<float*>(v.data_ptr())[5] = 42;
  EXPECT_EQ(a.data<float>()[5], 42.0f);
  EXPECT_THROW(a.view({4, 2}), RuntimeError);
  EXPECT_THROW(a.view({-1, -1}), RuntimeError);
  try {
    a.view({4, 2});
  } catch (const RuntimeError& e) {
    EXPECT_STREQ(e.what(), "shape '[4, 2]' is invalid for input of size 6");
  }
}

TEST(Tensor, ViewOfTransposeNeedsReshape) {
  Tensor t = arange(6).view({2, 3}).transpose(0, 1);
  EXPECT_FALSE(t.is_contiguous());
  EXPECT_THROW(t.view({6}), RuntimeError);
  EXPECT_EQ(values(t.reshape({6})), (std::vector<double>{0, 3, 1, 4, 2, 5}));
  // A view that only splits a dim works without a copy even when non-contiguous.
  Tensor split = t.view({3, 2, 1});
  EXPECT_EQ(split.data_ptr(), t.data_ptr());
}

TEST(Tensor, TransposePermuteNarrowSelect) {
  Tensor x = arange(24).view({2, 3, 4});
  Tensor p = x.permute({2, 0, 1});
  EXPECT_EQ(p.sizes(), (Size{4, 2, 3}));
  EXPECT_EQ(p.strides(), (std::vector<std::int64_t>{1, 12, 4}));
  EXPECT_EQ(values(p)[1], 4.0);
  Tensor n = x.narrow(2, 1, 2);
  EXPECT_EQ(n.sizes(), (Size{2, 3, 2}));
  EXPECT_EQ(n.storage_offset(), 1);
  EXPECT_EQ(values(n)[0], 1.0);
  EXPECT_EQ(values(n)[2], 5.0);
  Tensor s = x.select(1, -1);
  EXPECT_EQ(s.sizes(), (Size{2, 4}));
  EXPECT_EQ(values(s)[0], 8.0);
  EXPECT_EQ(x[1][2][3].item<double>(), 23.0);
  EXPECT_THROW(x.narrow(0, 1, 2), RuntimeError);
  EXPECT_THROW(x.select(0, 2), IndexError);
  EXPECT_THROW(x.transpose(0, 3), IndexError);
  EXPECT_THROW(x.permute({0, 0, 1}), RuntimeError);
}

TEST(Tensor, ContiguousCopiesOnlyWhenNeeded) {
  Tensor x = arange(6).view({2, 3});
  EXPECT_EQ(x.contiguous().data_ptr(), x.data_ptr());
  Tensor t = x.transpose(0, 1).contiguous();
  EXPECT_TRUE(t.is_contiguous());
  EXPECT_EQ(values(t), (std::vector<double>{0, 3, 1, 4, 2, 5}));
}

TEST(Tensor, ToCastsLikePyTorch) {
  Tensor x = tensor({1.5, -2.7, 0.0, 65504.0 * 2});
  EXPECT_EQ(values(x.to(kInt64)), (std::vector<double>{1, -2, 0, 131008}));
  EXPECT_EQ(values(x.to(kBool)), (std::vector<double>{1, 1, 0, 1}));
  EXPECT_TRUE(std::isinf(values(x.to(kFloat16))[3]));
  EXPECT_EQ(values(tensor({1.0 + 1.0 / 256}).to(kBFloat16))[0], 1.0);  // tie to even
  EXPECT_EQ(x.to(kFloat32).data_ptr(), x.data_ptr());                 // same dtype: no copy
}

TEST(Tensor, SumOverDims) {
  Tensor x = arange(6).view({2, 3});
  EXPECT_EQ(values(x.sum(0)), (std::vector<double>{3, 5, 7}));
  EXPECT_EQ(values(x.sum(-1)), (std::vector<double>{3, 12}));
  EXPECT_EQ(x.sum(1, true).sizes(), (Size{2, 1}));
  EXPECT_EQ(x.to(kBool).sum(0).dtype(), kInt64);
  EXPECT_EQ(x.to(kFloat64).sum(0).dtype(), kFloat64);
  EXPECT_EQ(scalar_tensor(4).sum(0).item<double>(), 4.0);
  EXPECT_EQ(zeros({0, 3}).sum(0).sizes(), (Size{3}));
  EXPECT_THROW(x.sum(2), IndexError);
}

TEST(Tensor, ItemNeedsOneElement) {
  EXPECT_EQ(tensor({3}).item<std::int64_t>(), 3);
  EXPECT_EQ(tensor({3}).item<bool>(), true);
  EXPECT_EQ(static_cast<float>(tensor({3}).item<Half>()), 3.0f);
  EXPECT_THROW(tensor({1, 2}).item<float>(), RuntimeError);
  EXPECT_THROW(tensor({1}).data<double>(), RuntimeError);
  EXPECT_THROW(Tensor().item<float>(), RuntimeError);
}

TEST(Tensor, NegAndAllclose) {
  Tensor x = tensor({1, -2, 0});
  EXPECT_EQ(values(neg(x)), (std::vector<double>{-1, 2, 0}));
  EXPECT_EQ(values(x.to(kInt64).neg()), (std::vector<double>{-1, 2, 0}));
  EXPECT_THROW(x.to(kBool).neg(), RuntimeError);
  EXPECT_TRUE(allclose(x, tensor({1 + 1e-6, -2, 0})));
  EXPECT_FALSE(allclose(x, tensor({1.1, -2, 0})));
  EXPECT_FALSE(allclose(tensor({NAN}), tensor({NAN})));
  EXPECT_TRUE(allclose(tensor({INFINITY}), tensor({INFINITY})));
  EXPECT_THROW(allclose(x, tensor({1})), RuntimeError);
}

TEST(Tensor, FromBlobBorrows) {
  float buf[6] = {1, 2, 3, 4, 5, 6};
  Tensor t = from_blob(buf, {2, 3}, kFloat32);
  EXPECT_EQ(t.data_ptr(), buf);
  buf[4] = 50;
  EXPECT_EQ(t[1][1].item<float>(), 50.0f);
  Tensor strided = from_blob(buf, {3}, {2}, kFloat32);
  EXPECT_EQ(values(strided), (std::vector<double>{1, 3, 50}));
}

TEST(Size, ComparesAndPrints) {
  EXPECT_EQ((Size{3, 2}), (Size{3, 2}));
  EXPECT_NE((Size{3, 2}), (Size{2, 3}));
  EXPECT_EQ((Size{3, 2}).str(), "torch.Size([3, 2])");
  EXPECT_EQ(Size{}.str(), "torch.Size([])");
  EXPECT_EQ((Size{0, 4}).numel(), 0);
}

TEST(Dtype, NamesAndParsing) {
  EXPECT_EQ(dtype_name(kBFloat16), "torch.bfloat16");
  EXPECT_EQ(parse_dtype("torch.float16"), kFloat16);
  EXPECT_EQ(parse_dtype("double"), kFloat64);
  EXPECT_THROW(parse_dtype("complex64"), ValueError);
  EXPECT_EQ(element_size(kBool), 1u);
}

}  // namespace
}  // namespace smx
