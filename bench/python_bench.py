#!/usr/bin/python3
"""Python smx.softmax against torch.softmax and scipy.special.softmax on NumPy arrays.

All three run in this process on the same float32 arrays, smx and torch with 2 threads (scipy is
NumPy, one thread). torch gets its tensor made beforehand (torch.from_numpy, outside the timing),
so its time is the call alone. Each cell is the median of repeated timings of the call, the
three taking turns (with a pause before each turn for idle threads to stop spinning); the last
columns are torch's (and scipy's) time / smx's time, > 1 meaning smx is faster.

With --csv FILE it also writes one row per call (what,problem,impl,time_us,peak_rss_mib,identical,
the format cli_bench.sh writes too) for report.py's "What users call" table in README.md.

Usage: PYTHONPATH=build/release/python /usr/bin/python3 bench/python_bench.py [--threads N] [--csv FILE]
"""
import csv
import argparse
import statistics
import time

import numpy as np
import torch

import smx

try:
    import scipy.special as _scipy_special
except ImportError:  # python3-scipy (make bench installs it) is optional here
    _scipy_special = None

PROBLEMS = [((1024, 4096), -1), ((1024, 4096), 0), ((64, 1000), 1), ((3, 2), 0)]


def batch_size(fn):
    """Calls per sample, so that a sample takes about 1 ms (fast calls are timed in batches)."""
    fn()
    fn()
    t0 = time.perf_counter()
    fn()
    return max(1, int(1e-3 / max(time.perf_counter() - t0, 1e-9)))


def medians_us(fns, rounds=7, block_seconds=0.03, settle_seconds=0.25):
    """Median time of one call of each fn in microseconds. The fns take turns, round after round,
    so that the shared machine's slow spells hit all of them alike; before each turn the previous
    fn's idle threads get time to stop spinning (torch's OpenMP workers spin for a while after a
    call, which would otherwise be timed against the next fn)."""
    batches = [batch_size(fn) for fn in fns]
    samples = [[] for _ in fns]
    for _ in range(rounds):
        for fn, batch, out in zip(fns, batches, samples):
            time.sleep(settle_seconds)
            fn()
            start = time.perf_counter()
            while time.perf_counter() - start < block_seconds:
                t0 = time.perf_counter()
                for _ in range(batch):
                    fn()
                out.append((time.perf_counter() - t0) / batch)
    return [statistics.median(s) * 1e6 for s in samples]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--csv", help="also write the medians here (for bench/report.py)")
    args = parser.parse_args()
    rows = []
    torch.set_num_threads(args.threads)
    smx.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    print(f"smx {smx.__version__} ({smx.simd_target()}), torch {torch.__version__}, {args.threads} threads; "
          "float32, medians in microseconds")
    head = f"{'shape':>10} {'dim':>4} {'smx':>10} {'torch':>10} {'scipy':>10} {'torch/smx':>10} {'scipy/smx':>10}"
    print(head)
    for shape, dim in PROBLEMS:
        x = rng.standard_normal(shape).astype(np.float32)
        t = torch.from_numpy(x)
        np.testing.assert_allclose(smx.softmax(x, dim), torch.softmax(t, dim).numpy(), rtol=1e-5, atol=1e-7)
        fns = [lambda: smx.softmax(x, dim), lambda: torch.softmax(t, dim)]
        if _scipy_special:
            fns.append(lambda: _scipy_special.softmax(x, axis=dim))
        ours, theirs, *rest = medians_us(fns)
        sp = rest[0] if rest else None
        sp_cell = f"{sp:10.1f}" if sp else f"{'n/a':>10}"
        sp_ratio = f"{sp / ours:9.2f}x" if sp else f"{'n/a':>10}"
        label = "x".join(map(str, shape))
        print(f"{label:>10} {dim:>4} {ours:10.1f} {theirs:10.1f} {sp_cell} {theirs / ours:9.2f}x {sp_ratio}")
        # identical: smx's result was checked against torch's above (allclose, not bitwise: the
        # exps differ in the last bits).
        problem = f"{label} dim {dim}"
        rows.append(["python", problem, "smx.softmax", f"{ours:.2f}", "", "allclose to torch"])
        rows.append(["python", problem, "torch.softmax", f"{theirs:.2f}", "", ""])
        if sp:
            rows.append(["python", problem, "scipy.special.softmax", f"{sp:.2f}", "", ""])
    if args.csv:
        with open(args.csv, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["what", "problem", "impl", "time_us", "peak_rss_mib", "identical"])
            w.writerows(rows)


if __name__ == "__main__":
    main()
