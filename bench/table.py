#!/usr/bin/python3
"""Writes the benchmark table (markdown) from bench.csv into README.md between the markers
<!-- bench-table:begin --> and <!-- bench-table:end -->, so the README shows the last `make bench`."""
import csv
import sys

src, readme = sys.argv[1], sys.argv[2]
rows = list(csv.DictReader(open(src)))
labels = []
for r in rows:
    if r["label"] not in labels:
        labels.append(r["label"])
by = {(r["label"], r["impl"]): r for r in rows}
impls = ["smx", "libtorch", "oneDNN", "XNNPACK"]


def cell(label, impl):
    r = by.get((label, impl))
    if r is None:
        return "n/a"
    us, ratio = float(r["median_us"]), float(r["ratio_to_copy"])
    t = f"{us:.1f}" if us < 100 else f"{us:.0f}"
    return f"{t} ({ratio:.2f})" if ratio < 100 else f"{t} ({ratio:.0f})"


out = ["| problem | copy | smx | libtorch 1.13 | oneDNN 2.6 | XNNPACK | smx vs best peer |",
       "|---|---|---|---|---|---|---|"]
for lab in labels:
    copy = float(by[(lab, "copy")]["median_us"])
    peers = [float(by[(lab, i)]["median_us"]) for i in impls[1:] if (lab, i) in by]
    speedup = f"{min(peers) / float(by[(lab, 'smx')]['median_us']):.2f}x" if peers else "n/a"
    out.append(f"| {lab} | {copy:.1f} | " + " | ".join(cell(lab, i) for i in impls) + f" | {speedup} |")

text = open(readme).read()
begin, end = "<!-- bench-table:begin -->", "<!-- bench-table:end -->"
head, rest = text.split(begin, 1)
_, tail = rest.split(end, 1)
open(readme, "w").write(head + begin + "\n" + "\n".join(out) + "\n" + end + tail)
print(f"updated the table in {readme}")
