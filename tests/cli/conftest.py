"""Shared fixtures for the command-line tests: the smx binary and a runner."""
import os
import sys
import subprocess

import pytest


@pytest.fixture(scope="session")
def smx_bin():
    path = os.environ.get("SMX_BIN")
    if not path or not os.path.exists(path):
        pytest.fail("set SMX_BIN to the built smx command (ctest does)")
    return path


@pytest.fixture
def run(smx_bin):
    def _run(*args, stdin=b"", check_rc=None):
        p = subprocess.run([smx_bin, *args], input=stdin, capture_output=True, timeout=120)
        out, err = p.stdout.decode(), p.stderr.decode()
        if check_rc is not None:
            assert p.returncode == check_rc, f"rc={p.returncode}\nstdout:\n{out}\nstderr:\n{err}"
        return p.returncode, out, err
    return _run

# tests/tolerances.py, the one tolerance table (it reads tests/tolerances.h).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
