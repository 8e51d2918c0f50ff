"""Second half of scripts/device-check.sh, on a machine with a GPU and PyTorch with CUDA:

1. correctness: the `smx` command with --device cuda on .npy files against torch.softmax /
   log_softmax computed in float64 on the same GPU (every dim of a few shapes, three dtypes);
2. speed: torch.softmax (and friends) timed on the same problems as smx_cuda_bench's CSV, with
   CUDA events, median of the repeats; prints one markdown table with both.

Usage: python3 bench/cuda_torch_compare.py BENCH_CSV SMX_COMMAND
Exits non-zero if a correctness check fails. Without torch.cuda, prints smx's numbers alone.
"""
import csv
import os
import subprocess
import sys
import tempfile

import numpy as np

try:
    import torch
    HAVE_TORCH = torch.cuda.is_available()
except ImportError:
    HAVE_TORCH = False

TOL = {"float32": (2e-6, 1e-7), "float64": (1e-12, 1e-15), "float16": (2e-3, 1e-6)}


def check_command(smx_cmd):
    """smx --device cuda on files vs float64 torch on the GPU; returns the number of failures."""
    failures = 0
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        for shape in [(3, 2), (64, 1000), (7, 300, 5), (1, 200000)]:
            for dtype in ["float32", "float64", "float16"]:
                x = rng.standard_normal(shape).astype(dtype)
                src = os.path.join(tmp, "x.npy")
                np.save(src, x)
                for op in ["softmax", "log_softmax"]:
                    for dim in range(len(shape)):
                        out = os.path.join(tmp, "y.npy")
                        subprocess.run([smx_cmd, op, "--device", "cuda", "--dim", str(dim), src, "-o", out],
                                       check=True)
                        got = np.load(out).astype(np.float64)
                        xt = torch.from_numpy(x.astype(np.float64)).cuda()
                        ref = (torch.softmax if op == "softmax" else torch.log_softmax)(xt, dim)
                        ref = ref.to(getattr(torch, dtype)).double().cpu().numpy()
                        rtol, atol = TOL[dtype]
                        ok = np.allclose(got, ref, rtol=rtol, atol=atol)
                        worst = np.max(np.abs(got - ref)) if got.size else 0.0
                        print(f"check {op} {shape} dim {dim} {dtype}: {'ok' if ok else 'FAIL'} "
                              f"(max abs diff {worst:.3g})")
                        failures += 0 if ok else 1
    return failures


def time_torch(row, repeats=50):
    dtype = getattr(torch, row["dtype"].replace("torch.", ""))
    shape = [int(s) for s in row["shape"].split("x")]
    dim = int(row["dim"])
    x = torch.randn(shape, device="cuda").to(dtype)
    if row["op"] == "softmax":
        fn = lambda: torch.softmax(x, dim)  # noqa: E731
    elif row["op"] == "log_softmax":
        fn = lambda: torch.log_softmax(x, dim)  # noqa: E731
    else:
        y = torch.softmax(x, dim)
        g = torch.randn_like(y)
        fn = lambda: torch._softmax_backward_data(g, y, dim, dtype)  # noqa: E731
    for _ in range(3):
        fn()
    times = []
    for _ in range(repeats):
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        times.append(start.elapsed_time(stop) * 1000.0)
    times.sort()
    return times[len(times) // 2]


def main():
    bench_csv, smx_cmd = sys.argv[1], sys.argv[2]
    failures = 0
    if HAVE_TORCH:
        print(f"torch {torch.__version__} on {torch.cuda.get_device_name(0)}")
        failures = check_command(smx_cmd)
        print(f"command checks: {failures} failed")
    else:
        print("no torch with CUDA here: smx's numbers only")
    rows = list(csv.DictReader(open(bench_csv)))
    print()
    print("| problem | D2D copy us | smx us (share of copy bandwidth) | torch.softmax us (share) | smx vs torch |")
    print("|---|---|---|---|---|")
    for row in rows:
        copy, ours = float(row["copy_us"]), float(row["smx_us"])
        share = float(row["copy_fraction"])
        torch_cell, speedup = "n/a", "n/a"
        if HAVE_TORCH:
            t = time_torch(row)
            torch_cell = f"{t:.1f} ({share * ours / t:.0%})"
            speedup = f"{t / ours:.2f}x"
        print(f"| {row['problem']} | {copy:.1f} | {ours:.1f} ({share:.0%}) | {torch_cell} | {speedup} |")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
