"""Two builds of smx side by side: is any row of the benchmark slower?

Runs the smx_bench of build A and of build B in alternation (A, B, A, B, ...), each with
--smx-only, so that a noisy machine's slow spells hit both alike, and compares per row the median
over the runs of smx's time divided by the copy timed next to it in the same run (a ratio, so runs
minutes apart compare). For the paired rows (masked vs plain, allocating vs softmax_out, dims vs a
single dim) it compares the pair's time ratio. Prints one line per row: A's ratio, B's ratio and
B / A (above 1: B is slower).

Usage: python3 bench/compare_builds.py A/bench/smx_bench B/bench/smx_bench [--runs 3] [--threads 2]
       [--only TEXT]
"""
import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile


def run(binary, threads, only, path):
    args = [binary, "--smx-only", "--threads", str(threads), "--csv", path]
    if only:
        args += ["--only", only]
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
    rows = {}
    for r in csv.DictReader(open(path)):
        rows.setdefault(r["label"], {})[r["impl"]] = r
    return rows


def measures(rows):
    """label -> value: smx time / copy time, and each pair's ratio."""
    out = {}
    for label, impls in rows.items():
        if "smx" in impls:
            out[label] = float(impls["smx"]["ratio_to_copy"])
        for a, b, name in (("smx_masked_paired", "smx_plain_paired", "masked / plain"),
                           ("smx_alloc_paired", "smx_out", "allocating / out"),
                           ("smx_dims_paired", "smx_single_dim_out", "dims / single dim")):
            if a in impls and b in impls:
                out[f"{label}: {name}"] = float(impls[a]["median_us"]) / float(impls[b]["median_us"])
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", default="")
    args = ap.parse_args()
    results = {"a": [], "b": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.runs):
            for key in ("a", "b"):
                path = os.path.join(tmp, f"{key}{i}.csv")
                results[key].append(measures(run(getattr(args, key), args.threads, args.only, path)))
                print(f"run {i + 1}/{args.runs} of {key.upper()} done", file=sys.stderr)
    labels = [l for l in results["a"][0] if all(l in r for r in results["a"] + results["b"])]
    width = max(len(l) for l in labels)
    print(f"{'row':<{width}}  {'A':>7}  {'B':>7}  {'B/A':>6}   (medians of {args.runs} runs; rows: time / copy)")
    worst = 0.0
    for label in labels:
        a = statistics.median(r[label] for r in results["a"])
        b = statistics.median(r[label] for r in results["b"])
        worst = max(worst, b / a)
        print(f"{label:<{width}}  {a:7.3f}  {b:7.3f}  {b / a:6.3f}")
    print(f"worst B/A: {worst:.3f}")


if __name__ == "__main__":
    main()
