"""The Python module's own behaviour: input kinds, zero-copy, output kinds, errors, warnings,
modules, threads and the GIL. Runs under Debian's /usr/bin/python3 (NumPy, torch)."""
import sys
import threading
import time
import warnings

import numpy as np
import pytest
import torch

import smx


def test_numpy_in_numpy_out():
    a = np.array([[1, 2], [4, 3], [5, 5]], dtype=np.float32)
    y = smx.softmax(a, 0)
    assert isinstance(y, np.ndarray) and y.dtype == np.float32 and y.shape == (3, 2)
    np.testing.assert_allclose(y, torch.softmax(torch.from_numpy(a), 0).numpy(), rtol=1e-6)


def test_numpy_views_are_read_in_place():
    base = np.random.default_rng(0).standard_normal((6, 8)).astype(np.float32)
    for view in [base.T, base[1:, 2:], base[::2, ::-3], base[:, 3]]:
        for dim in range(view.ndim):
            np.testing.assert_array_equal(smx.softmax(view, dim), smx.softmax(np.ascontiguousarray(view), dim))


def test_input_is_not_copied():
    # A 256 MiB float32 input: a hidden contiguous copy of it would show as a jump in peak memory.
    import resource
    a = np.ones((8192, 8192), dtype=np.float32)[:, ::2]   # 128 MiB view of 256 MiB
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    y = smx.softmax(a, 1)
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert y.shape == a.shape
    assert grown_kib < 200 * 1024, f"peak memory grew by {grown_kib} KiB"  # output alone is 128 MiB


def test_dlpack_in_dlpack_out_bfloat16():
    t = torch.randn(4, 5, generator=torch.Generator().manual_seed(1)).bfloat16()
    y = smx.softmax(t, 1)
    assert isinstance(y, smx.Tensor) and y.dtype == "bfloat16" and y.shape == (4, 5)
    back = torch.from_dlpack(y)
    assert back.dtype == torch.bfloat16
    torch.testing.assert_close(back, torch.softmax(t, 1), rtol=1e-2, atol=1e-3)
    assert repr(y) == repr(back)


def test_dlpack_output_outlives_its_producer():
    y = smx.log_softmax(torch.arange(6.0).view(2, 3), 1)
    t = torch.from_dlpack(y)
    del y
    torch.testing.assert_close(t, torch.log_softmax(torch.arange(6.0).view(2, 3), 1))
    assert smx.Tensor.__dlpack_device__(smx.softmax(torch.ones(2), 0)) == (1, 0)


def test_lists_and_smx_tensors_are_accepted():
    np.testing.assert_allclose(smx.softmax([1.0, 2.0], 0), torch.softmax(torch.tensor([1.0, 2.0], dtype=torch.float64), 0).numpy())
    y = smx.softmax(torch.ones(3), 0)
    assert isinstance(smx.softmax(y, 0), smx.Tensor)
    np.testing.assert_allclose(y.numpy(), np.full(3, 1 / 3, np.float32))


@pytest.mark.parametrize("dtype", ["float64", np.float64, np.dtype("float64"), torch.float64])
def test_dtype_spellings(dtype):
    y = smx.softmax(np.arange(4, dtype=np.int64), 0, dtype=dtype)
    assert y.dtype == np.float64


def test_bad_dtype_argument():
    with pytest.raises(ValueError):
        smx.softmax(np.ones(2), 0, dtype="complex64")
    with pytest.raises(TypeError):
        smx.softmax(np.ones(2), 0, dtype=object())


def test_errors_are_pytorchs():
    with pytest.raises(IndexError, match=r"Dimension out of range \(expected to be in range of \[-2, 1\], but got 2\)"):
        smx.softmax(np.ones((2, 2), np.float32), 2)
    with pytest.raises(RuntimeError, match="\"softmax_lastdim_kernel_impl\" not implemented for 'Long'"):
        smx.softmax(np.arange(3), 0)
    with pytest.raises(ValueError, match="Softmax2d: expected input to be 3D or 4D, got 2D instead"):
        smx.nn.Softmax2d()(np.ones((2, 2), np.float32))
    with pytest.raises(TypeError):
        smx.softmax(np.array(["a"]), 0)


def test_implicit_dim_warning_is_a_userwarning_with_pytorchs_text():
    x = np.ones((2, 3), np.float32)
    with warnings.catch_warnings(record=True) as ours:
        warnings.simplefilter("always")
        smx.softmax(x)
        smx.nn.LogSoftmax()(x)
    with warnings.catch_warnings(record=True) as theirs:
        warnings.simplefilter("always")
        torch.nn.functional.softmax(torch.from_numpy(x))
        torch.nn.LogSoftmax()(torch.from_numpy(x))
    assert [str(w.message) for w in ours] == [str(w.message) for w in theirs]
    assert all(w.category is UserWarning for w in ours)
    assert ours[0].filename == __file__  # points at the caller, like PyTorch's
    assert ours[1].filename == __file__


def test_module_reprs_match_pytorch():
    for ours, theirs in [(smx.nn.Softmax(), torch.nn.Softmax()), (smx.nn.Softmax(0), torch.nn.Softmax(0)),
                         (smx.nn.LogSoftmax(-1), torch.nn.LogSoftmax(-1)), (smx.nn.Softmin(2), torch.nn.Softmin(2)),
                         (smx.nn.Softmax2d(), torch.nn.Softmax2d())]:
        assert repr(ours) == repr(theirs)


def test_modules_compute_like_pytorch():
    x = torch.randn(2, 3, 4, 5, generator=torch.Generator().manual_seed(3))
    for ours, theirs in [(smx.nn.Softmax(1), torch.nn.Softmax(1)), (smx.nn.LogSoftmax(-1), torch.nn.LogSoftmax(-1)),
                         (smx.nn.Softmin(0), torch.nn.Softmin(0)), (smx.nn.Softmax2d(), torch.nn.Softmax2d())]:
        torch.testing.assert_close(torch.from_dlpack(ours(x)), theirs(x))
        torch.testing.assert_close(torch.from_dlpack(ours.forward(x)), theirs(x))


def test_threads_setting():
    n = smx.get_num_threads()
    smx.set_num_threads(1)
    assert smx.get_num_threads() == 1
    smx.set_num_threads(n)
    with pytest.raises(ValueError):
        smx.set_num_threads(0)
    assert isinstance(smx.simd_target(), str) and smx.__version__


def test_gil_is_released_while_computing():
    # While one thread runs a long softmax, another Python thread must keep running.
    x = np.random.default_rng(1).standard_normal((8, 4_000_000)).astype(np.float32)  # ~0.1 s on one core
    smx.set_num_threads(1)
    ticks = []
    stop = threading.Event()

    def ticker():
        while not stop.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.001)

    t = threading.Thread(target=ticker)
    t.start()
    start = time.perf_counter()
    smx.log_softmax(x, 1)
    end = time.perf_counter()
    stop.set()
    t.join()
    smx.set_num_threads(2)
    during = [s for s in ticks if start < s < end]
    assert end - start > 0.02, "too fast to tell"
    assert len(during) >= 3, f"only {len(during)} ticks in {end - start:.3f}s: the GIL was held"


# ---- the lean path (python/fast_forward.cc) ----------------------------------------------------

@pytest.mark.parametrize("op", ["softmax", "log_softmax", "softmin"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_lean_path_gives_the_full_paths_bits(op, dtype):
    fast, full = getattr(smx, op), getattr(smx, "_" + op)
    rng = np.random.default_rng(5)
    for shape in [(), (7,), (3, 2), (64, 1000), (300, 257), (2, 3, 4, 5)]:
        x = rng.standard_normal(shape).astype(dtype)
        for dim in range(-max(x.ndim, 1), max(x.ndim, 1)):
            for y in (fast(x, dim), fast(x, dim=dim), fast(x, dim, None), fast(x, dim, dtype=None)):
                assert y.dtype == dtype and y.shape == x.shape
                np.testing.assert_array_equal(y, full(x, dim))


def test_lean_path_output_is_a_fresh_array_without_copies():
    small = np.ones((3, 2), np.float32)
    a, b = smx.softmax(small, 0), smx.softmax(small, 0)
    assert a.flags["C_CONTIGUOUS"] and a.flags["WRITEABLE"] and not np.shares_memory(a, b)
    big = np.ones((256, 1024), np.float32)  # 1 MiB: memory from smx's block cache
    c, d = smx.softmax(big, 1), smx.softmax(big, 1)
    assert c.base is not None and not np.shares_memory(c, d)  # the base owns smx's buffer
    c[0, 0] = 5.0
    assert d[0, 0] == np.float32(1 / 1024)
    np.testing.assert_array_equal(smx.softmax(big, 1), d)


def test_lean_path_hands_everything_else_to_the_full_path():
    x = np.arange(6, dtype=np.float32).reshape(3, 2)
    np.testing.assert_array_equal(smx.softmax(x.T, 0), smx.softmax(np.ascontiguousarray(x.T), 0))  # a view
    np.testing.assert_array_equal(smx.softmax(x.astype(">f4"), 1), smx.softmax(x, 1))  # byte-swapped
    assert smx.softmax(x, 1, dtype="float64").dtype == np.float64
    assert smx.softmax(x, np.int64(1)).shape == (3, 2)  # a NumPy integer dim
    assert isinstance(smx.softmax(torch.from_numpy(x), 1), smx.Tensor)
    assert smx.softmax(np.empty((0, 3), np.float32), 1).shape == (0, 3)
    with pytest.raises(IndexError, match=r"Dimension out of range \(expected to be in range of \[-2, 1\], but got 2\)"):
        smx.softmax(x, 2)
    with pytest.raises(TypeError):
        smx.softmax(x, 1, None, 3)
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        smx.softmax(x)


def test_cache_api():
    limit = smx.get_cache_limit()
    smx.set_cache_limit(64 << 20)
    smx.empty_cache()
    assert smx.cache_stats()["cached_bytes"] == 0
    smx.softmax(np.ones((512, 1024), np.float32), 1)  # the result is dropped: its 2 MiB is cached
    s = smx.cache_stats()
    assert s["cached_bytes"] == 2 << 20 and s["cached_blocks"] == 1 and s["limit"] == 64 << 20
    hits = s["hits"]
    smx.softmax(np.ones((512, 1024), np.float32), 1)
    assert smx.cache_stats()["hits"] == hits + 1
    smx.empty_cache()
    assert smx.cache_stats()["cached_blocks"] == 0
    smx.set_cache_limit(limit)


def test_functions_pickle_by_name():
    import pickle
    for f in (smx.softmax, smx.log_softmax, smx.softmin):
        assert pickle.loads(pickle.dumps(f)) is f
    assert "built-in function softmax" in repr(smx.softmax)


def test_cache_limit_from_the_environment():
    import os
    import subprocess
    code = "import smx; print(smx.get_cache_limit())"
    for value, expected, warns in [("536870912", 512 << 20, False), ("512M", 512 << 20, False), ("0", 0, False),
                                   ("2g", 2 << 30, False), ("lots", 1 << 30, True), ("-5", 1 << 30, True)]:
        env = dict(os.environ, SMX_CACHE_BYTES=value)
        r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        assert int(r.stdout) == expected, value
        assert ("ignoring SMX_CACHE_BYTES" in r.stderr) == warns, value
