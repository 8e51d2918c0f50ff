#!/usr/bin/env bash
# The command against a NumPy + PyTorch script on a 1 GiB float32 .npy: wall time and
# peak RSS (/usr/bin/time -v) for --dim -1 and --dim 0, and a byte-for-byte check (cmp) of the
# streamed output against the library's in-memory result (the same command with SMX_STREAM=0:
# load the whole array, smx::softmax, save).
# Usage: bench/cli_bench.sh [SMX_BINARY]   (default build/release/smx)
# Env: BENCH_DIR (scratch folder, needs ~4 GiB; default /tmp/smx_cli_bench), ROWS, COLS (shape;
# default 16384 x 16384 = 1 GiB), THREADS (default 2), CSV (also write the rows there, in
# python_bench.py's format what,problem,impl,time_us,peak_rss_mib,identical, for report.py).
set -euo pipefail
cd "$(dirname "$0")/.."
smx=$(realpath "${1:-build/release/smx}")
dir=${BENCH_DIR:-/tmp/smx_cli_bench}
rows=${ROWS:-16384}
cols=${COLS:-16384}
threads=${THREADS:-2}
csv=${CSV:-}
py=/usr/bin/python3  # Debian's, with NumPy and torch
mkdir -p "$dir"
trap 'rm -f "$dir"/out_*.npy "$dir"/ref_*.npy "$dir"/numpy_torch_softmax.py "$dir"/close.py' EXIT

if [[ ! -f $dir/big.npy ]] || ! $py -c "import numpy as np,sys; a=np.load(sys.argv[1], mmap_mode='r'); sys.exit(a.shape != ($rows, $cols))" "$dir/big.npy"; then
  echo "generating $dir/big.npy ($rows x $cols float32)"
  $py - "$dir/big.npy" "$rows" "$cols" <<'PY'
import sys
import numpy as np
path, rows, cols = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
a = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(rows, cols))
rng = np.random.default_rng(0)
step = max(1, (64 << 20) // (4 * cols))
for r in range(0, rows, step):
    a[r:r + step] = rng.standard_normal((min(step, rows - r), cols), dtype=np.float32) * 4
a.flush()
PY
fi

cat >"$dir/numpy_torch_softmax.py" <<'PY'
import os, sys
import numpy as np
import torch
src, dim, dst = sys.argv[1], int(sys.argv[2]), sys.argv[3]
torch.set_num_threads(int(sys.argv[4]))
x = torch.from_numpy(np.load(src))
y = torch.softmax(x, dim)
with open(dst, "wb") as f:
    np.save(f, y.numpy())
    f.flush()
    os.fsync(f.fileno())
PY

# Runs a command under /usr/bin/time -v; prints "seconds max_rss_kib".
measure() {
  local log
  log=$(mktemp)
  /usr/bin/time -v "$@" 2>"$log" >/dev/null || { cat "$log" >&2; rm -f "$log"; return 1; }
  awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i] }
              /Maximum resident set size/ { rss = $2 }
              END { printf "%.2f %d\n", s, rss }' "$log"
  rm -f "$log"
}

# Both outputs against a float64 softmax of the same input, on a slab of whole groups (512 rows
# for dim -1, 256 full columns for dim 0) so that no 1 GiB array is loaded whole. Prints each
# one's largest relative error. (torch 1.13 sums dim-0 columns of 16384 in float32 and lands at
# ~6e-5; smx's float32 bound is ~2e-6, see the accuracy notes in docs/testing.md.)
cat >"$dir/close.py" <<'PY'
import sys
import numpy as np
import torch
ours, theirs, src, dim = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
x = np.load(src, mmap_mode="r")
part = (slice(0, 512), slice(None)) if dim == -1 else (slice(None), slice(0, 256))
ref = torch.softmax(torch.from_numpy(np.asarray(x[part], np.float64)), dim).numpy()
def err(path):
    y = np.asarray(np.load(path, mmap_mode="r")[part], np.float64)
    return float(np.max(np.abs(y - ref) / ref))
print(f"smx {err(ours):.1e} / torch {err(theirs):.1e}")
PY

if [[ -n $csv ]]; then echo "what,problem,impl,time_us,peak_rss_mib,identical" >"$csv"; fi
bytes=$((rows * cols * 4))
size=$(awk -v b="$bytes" 'BEGIN { if (b >= 2^30) printf "%.0f GiB", b / 2^30; else printf "%.0f MiB", b / 2^20 }')

cat "$dir/big.npy" >/dev/null  # both start from a warm page cache
printf '%-8s %-22s %9s %12s\n' dim what seconds "peak RSS MiB"
for dim in -1 0; do
  read -r ts tr < <(measure $py "$dir/numpy_torch_softmax.py" "$dir/big.npy" "$dim" "$dir/out_torch.npy" "$threads")
  read -r ss sr < <(measure env SMX_NUM_THREADS="$threads" "$smx" softmax --dim "$dim" "$dir/big.npy" -o "$dir/out_smx.npy")
  printf '%-8s %-22s %9.2f %12d\n' "$dim" "numpy+torch script" "$ts" $((tr / 1024))
  printf '%-8s %-22s %9.2f %12d\n' "$dim" "smx softmax (stream)" "$ss" $((sr / 1024))
  awk -v a="$ts" -v b="$ss" -v d="$dim" 'BEGIN { printf "%-8s speed-up %.1fx\n", d, a / b }'
  close="max relative error vs float64: $($py "$dir/close.py" "$dir/out_smx.npy" "$dir/out_torch.npy" "$dir/big.npy" "$dim")"
  rm -f "$dir/out_torch.npy"
  SMX_STREAM=0 SMX_NUM_THREADS="$threads" "$smx" softmax --dim "$dim" "$dir/big.npy" -o "$dir/ref_smx.npy"
  if cmp -s "$dir/out_smx.npy" "$dir/ref_smx.npy"; then same=yes; else same=no; fi
  if [[ -n $csv ]]; then
    problem="${rows}x${cols} float32 .npy ($size) dim $dim"
    echo "cli,$problem,smx softmax,$(awk -v s="$ss" 'BEGIN { printf "%.0f", s * 1e6 }'),$((sr / 1024)),$same (bitwise = in-memory smx); $close" >>"$csv"
    echo "cli,$problem,NumPy + PyTorch script,$(awk -v s="$ts" 'BEGIN { printf "%.0f", s * 1e6 }'),$((tr / 1024))," >>"$csv"
  fi
  if [[ $same == yes ]]; then
    echo "$dim       identical to the in-memory result (cmp); $close"
  else
    echo "$dim       DIFFERS from the in-memory result" >&2
    exit 1
  fi
  rm -f "$dir/out_smx.npy" "$dir/ref_smx.npy"
done
