#!/usr/bin/python3
"""From bench.csv (written by smx_bench): a plot of time / copy time per problem and
implementation, and the markdown table that the markdown page (docs/speed.md) shows between the
markers <!-- bench-table:begin --> and <!-- bench-table:end -->. From the allocating rows of
bench.csv and the CSVs of bench/python_bench.py and bench/cli_bench.sh: the table "What users call"
between <!-- users-table:begin --> and <!-- users-table:end -->. Both are rewritten whole, so
running it again on the same CSVs gives the same page.

A run in which any implementation out of cache takes less than 0.95x the copy's time is a broken
baseline (no memory-bound op beats a copy of its bytes): report.py then prints the rows, writes
neither the plot nor the markdown page, and exits with 1 (bench.csv stays for inspection).

Usage: report.py BENCH_CSV PLOT_PNG PAGE_MD [USERS_CSV...]   (a USERS_CSV that does not exist,
a part `make bench` was told to skip, is left out of the table)
"""
import csv
import os
import sys

# Out of cache, a ratio below this means the copy was measured slower than it can run.
BROKEN_BELOW = 0.95

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

IMPLS = ["smx", "libtorch", "oneDNN", "XNNPACK"]
COLORS = {"smx": "#d62728", "libtorch": "#1f77b4", "oneDNN": "#2ca02c", "XNNPACK": "#9467bd"}


def load(path):
    rows = list(csv.DictReader(open(path)))
    labels = []
    for r in rows:
        if r["label"] not in labels:
            labels.append(r["label"])
    return labels, {(r["label"], r["impl"]): r for r in rows}


def plot(labels, by, dst):
    fig, ax = plt.subplots(figsize=(12, 6.5))
    width = 0.2
    for k, impl in enumerate(IMPLS):
        present = [(i, lab) for i, lab in enumerate(labels) if (lab, impl) in by]
        ax.bar([i + (k - 1.5) * width for i, _ in present],
               [float(by[(lab, impl)]["ratio_to_copy"]) for _, lab in present], width, label=impl,
               color=COLORS[impl])
    ax.axhline(1.0, color="black", linewidth=1, linestyle="--", label="parallel memcpy of the same bytes")
    ax.set_yscale("log")
    ax.set_ylabel("time / copy time (log scale, lower is better)")
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=40, ha="right", fontsize=8)
    ax.set_title("softmax, 2 threads, medians (smx_bench)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(dst, dpi=110)


def cell(by, label, impl):
    r = by.get((label, impl))
    if r is None:
        return "n/a"
    us, ratio = float(r["median_us"]), float(r["ratio_to_copy"])
    t = f"{us:.1f}" if us < 100 else f"{us:.0f}"
    return f"{t} ({ratio:.2f})" if ratio < 100 else f"{t} ({ratio:.0f})"


def broken_baseline(path):
    """(label, impl, ratio) of every out-of-cache row faster than BROKEN_BELOW x its copy."""
    return [(r["label"], r["impl"], float(r["ratio_to_copy"])) for r in csv.DictReader(open(path))
            if r["in_cache"] == "0" and r["impl"] != "copy" and float(r["ratio_to_copy"]) < BROKEN_BELOW]


def replace_between(text, name, lines):
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    if begin not in text or end not in text:
        sys.exit(f"report.py: the markdown page has no {begin} ... {end} markers")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    return head + begin + "\n" + "\n".join(lines) + "\n" + end + tail


def table(labels, by):
    out = ["| problem | copy | smx | libtorch 1.13 | oneDNN 2.6 | XNNPACK | smx vs best peer |",
           "|---|---|---|---|---|---|---|"]
    for lab in labels:
        copy = float(by[(lab, "copy")]["median_us"])
        peers = [float(by[(lab, i)]["median_us"]) for i in IMPLS[1:] if (lab, i) in by]
        speedup = f"{min(peers) / float(by[(lab, 'smx')]['median_us']):.2f}x" if peers else "n/a"
        out.append(f"| {lab} | {copy:.1f} | " + " | ".join(cell(by, lab, i) for i in IMPLS) + f" | {speedup} |")
    return out


def duration(us):
    if us < 1000:
        return f"{us:.1f} us"
    if us < 1e6:
        return f"{us / 1e3:.2f} ms"
    return f"{us / 1e6:.2f} s"


# How each group's smx call and its alternatives are named in the table.
CALLS = {
    "smx": "`smx::softmax(x, dim)` (C++, allocating)",
    "libtorch": "`torch::softmax(x, dim)` (libtorch)",
    "smx_out": "`smx::softmax_out(y, x, dim)` (into a kept buffer)",
    "smx.softmax": "`smx.softmax(a, dim)` (Python, NumPy float32)",
    "torch.softmax": "`torch.softmax(t, dim)`",
    "scipy.special.softmax": "`scipy.special.softmax(a, axis=dim)`",
    "smx softmax": "`smx softmax --dim D x.npy -o y.npy`",
    "NumPy + PyTorch script": "NumPy + PyTorch script (np.load, torch.softmax, np.save)",
    "smx.torch": "`smx.torch` forward + `.backward()` (autograd)",
    "torch": "the same in torch (forward + `.backward()`)",
    "smx.cross_entropy_with_grad": "`smx.cross_entropy_with_grad(x, t, inplace=True)`",
    "F.cross_entropy+backward": "`F.cross_entropy(x, t).backward()`",
}
SMX_IMPLS = ("smx", "smx.softmax", "smx softmax", "smx.torch", "smx.cross_entropy_with_grad")


def users_table(bench_rows, users_csvs):
    """One row per (problem, alternative): smx's call and time, the alternative's, their ratio
    (> 1: smx is faster), peak RSS where measured, and what was checked of smx's output."""
    groups = {}  # (what, problem) -> {impl: row}, in first-seen order
    for r in bench_rows:
        if r["label"].startswith("dims "):
            continue  # dim lists: their own docs page (docs/dims.md), not a user's single-dim call
        if r["pass"] == "softmax_allocating" or r["impl"] == "smx_out":
            if r["impl"] in ("smx", "libtorch", "smx_out", "smx_alloc_paired"):
                groups.setdefault(("C++", r["label"].removeprefix("alloc ")), {})[r["impl"]] = {
                    "time_us": r["median_us"], "peak_rss_mib": "", "identical": ""}
    for path in users_csvs:
        if not os.path.exists(path):
            print(f"report.py: {path} not there (skipped), left out of the users table")
            continue
        for r in csv.DictReader(open(path)):
            groups.setdefault(({"python": "Python", "cli": "command"}.get(r["what"], r["what"]), r["problem"]),
                              {})[r["impl"]] = r
    out = ["| | problem | smx | time | alternative | time | alternative / smx | peak RSS MiB (smx / alt.) | smx output |",
           "|---|---|---|---|---|---|---|---|---|"]
    for (what, problem), impls in groups.items():
        ours = next((i for i in SMX_IMPLS if i in impls), None)
        if ours is None:
            continue
        mine = impls[ours]
        for name, r in impls.items():
            if name in (ours, "smx_alloc_paired"):
                continue
            # softmax_out was timed in alternation with the allocating call: compare with that half.
            t = float(impls["smx_alloc_paired"]["time_us"] if name == "smx_out" else mine["time_us"])
            alt = float(r["time_us"])
            rss = f"{mine['peak_rss_mib']} / {r['peak_rss_mib']}" if mine["peak_rss_mib"] else "-"
            out.append(f"| {what} | {problem} | {CALLS.get(ours, ours)} | {duration(t)} | {CALLS.get(name, name)} | "
                       f"{duration(alt)} | {alt / t:.2f}x | {rss} | {mine['identical'] or '-'} |")
    return out


if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    bench_csv, plot_png, page = sys.argv[1:4]
    broken = broken_baseline(bench_csv)
    if broken:
        print(f"BROKEN BASELINE: out of cache, these ran faster than {BROKEN_BELOW}x the copy of their bytes,")
        print("so the copy was mismeasured (a memory-bound op cannot beat it); rerun on a quieter machine:")
        for label, impl, ratio in broken:
            print(f"  {label}: {impl} at {ratio:.2f}x the copy")
        print(f"{plot_png} and {page} were NOT written; {bench_csv} is kept for inspection.")
        sys.exit(1)
    labels, by = load(bench_csv)
    text = open(page).read()
    text = replace_between(text, "bench-table", table(labels, by))
    text = replace_between(text, "users-table", users_table(list(csv.DictReader(open(bench_csv))), sys.argv[4:]))
    plot(labels, by, plot_png)
    open(page, "w").write(text)
    print(f"wrote {plot_png} and the tables in {page}")
