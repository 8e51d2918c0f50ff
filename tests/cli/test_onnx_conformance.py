"""ONNX's own Softmax/LogSoftmax backend test vectors through the command (`smx softmax|log_softmax
--dim D input.npy -o out.npy`), the way tests/unit/onnx_conformance_test.cc runs them through the
library. The vectors live beside the checkout (../shared/conformance/onnx, or SMX_ONNX_DIR): without
them the test skips with the reason, except under CI (the CI environment variable set), where they
must be present and a missing folder fails."""
import json
import os

import numpy as np
import pytest

ONNX_DIR = os.environ.get("SMX_ONNX_DIR") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..",
                                                          "shared", "conformance", "onnx")


def under_ci():
    return os.environ.get("CI", "") not in ("", "0", "false")


def test_every_vector_through_the_command(run, tmp_path):
    manifest = os.path.join(ONNX_DIR, "manifest.json")
    if not os.path.exists(manifest):
        if under_ci():
            pytest.fail(f"CI is set but the ONNX vectors are missing at {os.path.abspath(ONNX_DIR)}")
        pytest.skip(f"no ONNX vectors at {os.path.abspath(ONNX_DIR)} (outside CI they are optional)")
    cases = json.load(open(manifest))
    assert len(cases) >= 20
    for case in cases:
        assert case["op"] in ("softmax", "log_softmax"), case
        out = tmp_path / f"{case['name']}.npy"
        run(case["op"], "--dim", str(case["dim"]), os.path.join(ONNX_DIR, case["name"] + ".input.npy"), "-o",
            str(out), check_rc=0)
        got = np.load(out).astype(np.float64)
        want = np.load(os.path.join(ONNX_DIR, case["name"] + ".expected.npy")).astype(np.float64)
        assert got.shape == want.shape, case["name"]
        # ONNX's expected values are NumPy float32 (within 3e-7 of float64, says its README).
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6, err_msg=case["name"])
