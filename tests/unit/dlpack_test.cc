// smx::from_dlpack / to_dlpack: zero-copy both ways, ownership (the producer's deleter runs once,
// when the last view goes), strides and offsets, CUDA device tags, and refusals.
#include <gtest/gtest.h>

#include <dlpack/dlpack.h>

#include <vector>

#include "smx/smx.h"

namespace {

// A producer's tensor over `values`, counting deleter calls.
struct Producer {
  std::vector<float> values;
  std::vector<std::int64_t> shape, strides;
  int deleted = 0;
  DLManagedTensor managed{};

  Producer(std::vector<float> v, std::vector<std::int64_t> sh, std::vector<std::int64_t> st)
      : values(std::move(v)), shape(std::move(sh)), strides(std::move(st)) {
    managed.dl_tensor.data = values.data();
    managed.dl_tensor.device = {kDLCPU, 0};
    managed.dl_tensor.ndim = static_cast<int>(shape.size());
    managed.dl_tensor.dtype = {kDLFloat, 32, 1};
    managed.dl_tensor.shape = shape.data();
    managed.dl_tensor.strides = strides.empty() ? nullptr : strides.data();
    managed.manager_ctx = this;
    managed.deleter = [](DLManagedTensor* m) { ++static_cast<Producer*>(m->manager_ctx)->deleted; };
  }
};

TEST(Dlpack, ImportsInPlaceAndCallsTheDeleterOnceWhenTheLastViewGoes) {
  Producer p({1, 2, 4, 3, 5, 5}, {3, 2}, {});
  {
    smx::Tensor a = smx::from_dlpack(&p.managed);
    EXPECT_EQ(a.data_ptr(), p.values.data());
    EXPECT_EQ(a.sizes(), smx::Size({3, 2}));
    const smx::Tensor view = a.transpose(0, 1);
    a = smx::Tensor();
    EXPECT_EQ(p.deleted, 0);  // `view` still uses the memory
    EXPECT_EQ(smx::softmax(view.transpose(0, 1), 0).repr(),
              "tensor([[0.0132, 0.0420],\n        [0.2654, 0.1142],\n        [0.7214, 0.8438]])");
  }
  EXPECT_EQ(p.deleted, 1);
}

TEST(Dlpack, ImportsStridesAndByteOffset) {
  // A transposed 2x3 view of 3x2 storage, starting one element in.
  Producer p({0, 1, 2, 3, 4, 5, 6}, {2, 3}, {1, 2});
  p.managed.dl_tensor.byte_offset = sizeof(float);
  const smx::Tensor t = smx::from_dlpack(&p.managed);
  EXPECT_EQ(t.strides(), (std::vector<std::int64_t>{1, 2}));
  EXPECT_TRUE(smx::allclose(t, smx::tensor({1, 3, 5, 2, 4, 6}).view({2, 3}), 0, 0));
}

TEST(Dlpack, UnsupportedDtypeOrDeviceRaisesAndStillCallsTheDeleter) {
  Producer p({1, 2}, {2}, {});
  p.managed.dl_tensor.dtype = {kDLInt, 32, 1};
  EXPECT_THROW(smx::from_dlpack(&p.managed), smx::RuntimeError);
  EXPECT_EQ(p.deleted, 1);
  Producer q({1, 2}, {2}, {});
  q.managed.dl_tensor.device = {kDLMetal, 0};
  EXPECT_THROW(smx::from_dlpack(&q.managed), smx::RuntimeError);
  EXPECT_EQ(q.deleted, 1);
}

TEST(Dlpack, CudaTensorsKeepTheirDeviceWithoutBeingRead) {
  Producer p({1, 2, 3}, {3}, {});
  p.managed.dl_tensor.device = {kDLCUDA, 1};
  const smx::Tensor t = smx::from_dlpack(&p.managed);  // never dereferenced here
  EXPECT_TRUE(t.is_cuda());
  EXPECT_EQ(t.device().str(), "cuda:1");
}

TEST(Dlpack, ExportsAViewThatKeepsTheStorageAlive) {
  DLManagedTensor* m = nullptr;
  const void* data = nullptr;
  {
    const smx::Tensor x = smx::arange(12, smx::kFloat64).view({3, 4}).transpose(0, 1);
    data = x.data_ptr();
    m = smx::to_dlpack(x);
  }
  const DLTensor& d = m->dl_tensor;
  EXPECT_EQ(d.data, data);
  EXPECT_EQ(d.device.device_type, kDLCPU);
  EXPECT_EQ(d.dtype.code, kDLFloat);
  EXPECT_EQ(d.dtype.bits, 64);
  ASSERT_EQ(d.ndim, 2);
  EXPECT_EQ(d.shape[0], 4);
  EXPECT_EQ(d.strides[0], 1);
  EXPECT_EQ(d.strides[1], 4);
  EXPECT_EQ(static_cast<const double*>(d.data)[5], 5.0);  // still alive after x went away
  // And back in: the round trip sees the same elements.
  const smx::Tensor back = smx::from_dlpack(m);
  EXPECT_TRUE(smx::allclose(back, smx::arange(12, smx::kFloat64).view({3, 4}).transpose(0, 1), 0, 0));
}

}  // namespace
