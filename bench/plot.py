#!/usr/bin/python3
"""Plots bench.csv (from smx_bench) as time / copy time per problem and implementation."""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

src, dst = sys.argv[1], sys.argv[2]
rows = list(csv.DictReader(open(src)))
labels = []
for r in rows:
    if r["label"] not in labels:
        labels.append(r["label"])
impls = ["smx", "libtorch", "oneDNN", "XNNPACK"]
colors = {"smx": "#d62728", "libtorch": "#1f77b4", "oneDNN": "#2ca02c", "XNNPACK": "#9467bd"}
ratio = {(r["label"], r["impl"]): float(r["ratio_to_copy"]) for r in rows}

fig, ax = plt.subplots(figsize=(12, 6.5))
width = 0.2
for k, impl in enumerate(impls):
    xs = [i + (k - 1.5) * width for i, lab in enumerate(labels) if (lab, impl) in ratio]
    ys = [ratio[(lab, impl)] for lab in labels if (lab, impl) in ratio]
    ax.bar(xs, ys, width, label=impl, color=colors[impl])
ax.axhline(1.0, color="black", linewidth=1, linestyle="--", label="parallel memcpy of the same bytes")
ax.set_yscale("log")
ax.set_ylabel("time / copy time (log scale, lower is better)")
ax.set_xticks(range(len(labels)))
ax.set_xticklabels(labels, rotation=40, ha="right", fontsize=8)
ax.set_title("softmax, 2 threads, medians (smx_bench)")
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(dst, dpi=110)
print(f"wrote {dst}")
