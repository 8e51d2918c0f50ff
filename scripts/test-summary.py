"""The one-screen summary at the end of `make test` (scripts/test.sh).

Reads DIR/phases.tsv (name, seconds, exit status per phase) and the JUnit files ctest wrote in
DIR (release.xml, sanitize.xml, tsan.xml), and prints per phase its time and its passed, failed
and skipped tests; then every failed test by name, and every skip with its reason - GoogleTest's
GTEST_SKIP message, or pytest's "SKIPPED [n] file:line: reason" lines (pytest runs with -rs) from
inside a test that passed - grouped so that the same reason shows once. Exit status 1 when a
phase failed.

Usage: /usr/bin/python3 scripts/test-summary.py DIR
"""
import collections
import os
import re
import sys
import xml.etree.ElementTree as ET

JUNIT = {"tests: g++ Release": "release.xml", "tests: clang ASan+UBSan": "sanitize.xml"}


def junit_for(phase, directory):
    for prefix, name in JUNIT.items():
        if phase.startswith(prefix):
            return os.path.join(directory, name)
    if phase.startswith("tests: clang TSan"):
        return os.path.join(directory, "tsan.xml")
    return None


def gtest_skip_reason(output):
    """The message GTEST_SKIP() printed: the line(s) after 'file:line: Skipped'."""
    m = re.search(r": Skipped\n(.*?)\n", output)
    return m.group(1).strip() if m and m.group(1).strip() else "(no reason given)"


def read_junit(path):
    """(passed, failed names, [(test, reason)] skipped, [(test, reason)] skips inside passed tests)."""
    passed, failed, skipped, inner = 0, [], [], []
    for case in ET.parse(path).getroot().iter("testcase"):
        name = case.get("name")
        out = case.findtext("system-out") or ""
        status = case.get("status")
        if case.find("skipped") is not None or status in ("notrun", "disabled"):
            skipped.append((name, gtest_skip_reason(out)))
        elif case.find("failure") is not None or status == "fail":
            failed.append(name)
        else:
            passed += 1
            for m in re.finditer(r"^SKIPPED \[(\d+)\] (.*)$", out, re.M):
                inner.append((name, f"{m.group(2)} ({m.group(1)} case{'s' if m.group(1) != '1' else ''})"))
    return passed, failed, skipped, inner


def fmt_time(seconds):
    seconds = int(seconds)
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def main():
    directory = sys.argv[1]
    rows, failures, skips = [], [], collections.defaultdict(list)
    any_failed = False
    for line in open(os.path.join(directory, "phases.tsv")):
        phase, seconds, rc = line.rstrip("\n").split("\t")
        any_failed |= rc != "0"
        path = junit_for(phase, directory)
        if path and os.path.exists(path):
            passed, failed, skipped, inner = read_junit(path)
            rows.append((phase, fmt_time(seconds), str(passed), str(len(failed)), str(len(skipped)),
                         "ok" if rc == "0" else "FAILED"))
            failures += [f"{phase}: {name}" for name in failed]
            for name, reason in skipped + inner:
                skips[(phase, re.sub(r"^(\.\./)+", "", reason))].append(name)
        else:
            rows.append((phase, fmt_time(seconds), "", "", "", "ok" if rc == "0" else "FAILED"))
    print("\n== make test: summary ==")
    header = ("phase", "time", "passed", "failed", "skipped", "")
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    for r in [header] + rows:
        print("  " + "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
    if skips:
        print("skipped (with reasons):")
        for (phase, reason), names in sorted(skips.items()):
            who = names[0] if len(names) == 1 else f"{names[0]} and {len(names) - 1} more"
            print(f"  {phase.split(': ')[-1]}: {who}: {reason}")
    if failures:
        print("failed:")
        for f in failures:
            print(f"  {f}")
    print("make test: " + ("FAILED" if any_failed else "passed"))
    return 1 if any_failed else 0


if __name__ == "__main__":
    sys.exit(main())
