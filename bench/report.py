#!/usr/bin/python3
"""From bench.csv (written by smx_bench): a plot of time / copy time per problem and
implementation, and the markdown table that README.md shows between the markers
<!-- bench-table:begin --> and <!-- bench-table:end -->.

Usage: report.py BENCH_CSV PLOT_PNG README_MD
"""
import csv
import sys

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


def table(labels, by, readme):
    out = ["| problem | copy | smx | libtorch 1.13 | oneDNN 2.6 | XNNPACK | smx vs best peer |",
           "|---|---|---|---|---|---|---|"]
    for lab in labels:
        copy = float(by[(lab, "copy")]["median_us"])
        peers = [float(by[(lab, i)]["median_us"]) for i in IMPLS[1:] if (lab, i) in by]
        speedup = f"{min(peers) / float(by[(lab, 'smx')]['median_us']):.2f}x" if peers else "n/a"
        out.append(f"| {lab} | {copy:.1f} | " + " | ".join(cell(by, lab, i) for i in IMPLS) + f" | {speedup} |")
    text = open(readme).read()
    begin, end = "<!-- bench-table:begin -->", "<!-- bench-table:end -->"
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    open(readme, "w").write(head + begin + "\n" + "\n".join(out) + "\n" + end + tail)


if __name__ == "__main__":
    labels, by = load(sys.argv[1])
    plot(labels, by, sys.argv[2])
    table(labels, by, sys.argv[3])
    print(f"wrote {sys.argv[2]} and the table in {sys.argv[3]}")
