#!/usr/bin/env bash
# The CUDA backend on a machine with a GPU, in one command: build with CUDA, run the CUDA tests
# (against the CPU path), the command against torch.softmax on the GPU (when PyTorch with CUDA is
# there), then the GPU benchmark (device-to-device copy, smx, torch.softmax) as a table.
# Everything printed also goes to the output file (default build/device-check.txt).
#
#   scripts/device-check.sh [-o FILE]              build here (needs the build deps and nvcc), run
#   scripts/device-check.sh --pack DIR             build here, copy what the run needs into DIR
#   scripts/device-check.sh --prebuilt DIR [-o F]  run binaries packed by --pack (a GPU machine
#                                                  without the build deps, e.g. the device tool's)
set -euo pipefail
cd "$(dirname "$0")/.."

out=build/device-check.txt
mode=build
dir=
while (($#)); do
  case $1 in
    -o) out=$2; shift 2 ;;
    --pack) mode=pack; dir=$2; shift 2 ;;
    --prebuilt) mode=prebuilt; dir=$2; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "device-check: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

build_cuda() {
  SMX_CMAKE_ARGS="-DSMX_CUDA=ON -DSMX_BUILD_PYTHON=OFF ${SMX_CMAKE_ARGS:-}" BUILD_DIR=build/cuda \
    scripts/build.sh release cuda_test smx_cuda_bench smx_cli
}

if [[ $mode == pack ]]; then
  build_cuda
  mkdir -p "$dir"
  cp build/cuda/tests/cuda_test build/cuda/smx_cuda_bench build/cuda/smx "$dir/"
  # The shared libraries a bare GPU machine may lack (Highway comes from Debian here).
  for lib in $(ldd build/cuda/smx | awk '/libhwy/ {print $3}'); do cp -L "$lib" "$dir/"; done
  echo "device-check: packed into $dir ($(du -sh "$dir" | cut -f1))"
  exit 0
fi

if [[ $mode == build ]]; then
  build_cuda
  bin=build/cuda
  test_bin=$bin/tests/cuda_test
else
  bin=$dir
  test_bin=$dir/cuda_test
  export LD_LIBRARY_PATH="$dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi

mkdir -p "$(dirname "$out")"
exec > >(tee "$out") 2>&1
status=0
echo "== device =="
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
date -u
echo "== CUDA tests (smx on the GPU vs smx on the CPU) =="
"$test_bin" --gtest_brief=1 || status=1
echo "== GPU benchmark =="
"$bin/smx_cuda_bench" | tee "$(dirname "$out")/cuda-bench.csv" || status=1
echo "== the command vs torch on the GPU; torch.softmax timings =="
"${PYTHON:-python3}" bench/cuda_torch_compare.py "$(dirname "$out")/cuda-bench.csv" "$bin/smx" || status=1
echo "device-check: $([[ $status == 0 ]] && echo passed || echo FAILED)"
exit $status
