#!/usr/bin/env bash
# `pip install .` from the checkout into a scratch folder, then use the installed package.
set -euo pipefail
src=$1
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cd "$src"
# The CUDA backend is off here: the main build compiles and tests it, and nvcc would make this
# install take minutes instead of one.
SMX_CMAKE_ARGS=-DSMX_CUDA=OFF /usr/bin/python3 -m pip install --quiet --disable-pip-version-check --no-build-isolation --no-deps --target "$scratch/site" . \
  >"$scratch/pip.log" 2>&1 || { cat "$scratch/pip.log"; exit 1; }
cd "$scratch"
PYTHONPATH="$scratch/site" /usr/bin/python3 - <<'PY'
import numpy as np
import smx
y = smx.softmax(np.array([[1, 2], [4, 3], [5, 5]], np.float32), dim=0)
assert abs(float(y.sum(axis=0)[0]) - 1.0) < 1e-6, y
assert repr(smx.nn.Softmax(0)) == "Softmax(dim=0)"
print("pip-installed smx works:", smx.__file__)
PY
