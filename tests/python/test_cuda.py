"""The Python module on CUDA tensors through DLPack (kDLCUDA): results against torch.softmax on
the same GPU. Skips where torch has no CUDA device or smx was built without its CUDA backend."""
import pytest
import torch

import smx

needs_gpu = pytest.mark.skipif(
    not (torch.cuda.is_available() and smx._smx.cuda_is_available()), reason="no CUDA device")


def test_cuda_availability_is_a_bool_everywhere():
    assert smx._smx.cuda_is_available() in (True, False)
    assert smx._smx.cuda_device_count() >= 0


@needs_gpu
@pytest.mark.parametrize("dtype,tol", [(torch.float32, 2e-6), (torch.float64, 1e-13),
                                       (torch.float16, 2e-3), (torch.bfloat16, 2e-2)])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cuda_dlpack_in_and_out_matches_torch(dtype, tol, dim):
    x = torch.randn(64, 33, 7, device="cuda").to(dtype)
    y = smx.softmax(x, dim)
    assert y.device == "cuda:0"
    assert y.__dlpack_device__() == (2, 0)
    yt = torch.from_dlpack(y)
    assert yt.device.type == "cuda" and yt.dtype == dtype
    ref = torch.softmax(x.double(), dim).to(dtype)
    torch.testing.assert_close(yt.double(), ref.double(), rtol=tol, atol=1e-6)


@needs_gpu
def test_cuda_strided_view_and_backward():
    x = torch.randn(40, 50, device="cuda").t()
    g = torch.randn(50, 40, device="cuda")
    y = torch.from_dlpack(smx.log_softmax(x, 1))
    torch.testing.assert_close(y, torch.log_softmax(x, 1))
    dx = torch.from_dlpack(smx.log_softmax_backward(g, y, 1))
    torch.testing.assert_close(dx, torch._log_softmax_backward_data(g, y, 1, torch.float32))
