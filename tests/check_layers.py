"""The layers include one way only (docs/design.md draws them):

    clients   tools/ (the command), python/, src/io/, src/dist/, src/cuda/
    ops       src/ops/, src/nn/          PyTorch's checks, then the engine
    engine    src/engine/                planner, executor, pieces
    kernels   src/kernels/               the kernel table and its one choice
    tensor    src/tensor/, src/print/, src/interop/
    runtime   src/runtime/               threads, cache sizes

A file may include headers of its own layer or of a lower one, and the public headers
(include/smx/) from anywhere. Clients use the public API or the engine's headers: never a header
under src/kernels/ or src/ops/. This reads every #include "..." of src/, tools/ and python/ and
fails naming each one that breaks the rule.

Usage: python3 tests/check_layers.py [SOURCE_DIR]
"""
import os
import re
import sys

ROOT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), ".."))
LAYERS = [  # lowest first
    ("runtime", ["src/runtime/"]),
    ("tensor", ["src/tensor/", "src/print/", "src/interop/"]),
    ("kernels", ["src/kernels/"]),
    ("engine", ["src/engine/"]),
    ("ops", ["src/ops/", "src/nn/"]),
    ("clients", ["tools/", "python/", "src/io/", "src/dist/", "src/cuda/"]),
]
CLIENTS_NEVER = ("src/kernels/", "src/ops/")


def layer_of(path):
    for rank, (name, prefixes) in enumerate(LAYERS):
        if any(path.startswith(p) for p in prefixes):
            return rank, name
    return None


def resolve(include):
    """The repository path an include names (src/ is on the include path; "smx/..." is public)."""
    if include.startswith("smx/"):
        return None  # the public API: allowed everywhere
    for base in ("src/", "tools/cli/", "python/", "examples/"):
        if os.path.exists(os.path.join(ROOT, base, include)):
            return base + include
    return None


def main():
    problems = []
    for top in ("src", "tools", "python"):
        for base, _, files in os.walk(os.path.join(ROOT, top)):
            for name in files:
                if not name.endswith((".h", ".cc", ".cu", ".cuh")):
                    continue
                path = os.path.relpath(os.path.join(base, name), ROOT)
                here = layer_of(path)
                if here is None:
                    continue
                for line_no, line in enumerate(open(os.path.join(ROOT, path), errors="replace"), 1):
                    m = re.match(r'\s*#\s*include\s+"([^"]+)"', line)
                    target = resolve(m.group(1)) if m else None
                    if target is None:
                        continue
                    there = layer_of(target)
                    if there is None:
                        continue
                    if there[0] > here[0]:
                        problems.append(f"{path}:{line_no}: the {here[1]} layer includes {target} from the "
                                        f"{there[1]} layer above it")
                    elif here[1] == "clients" and target.startswith(CLIENTS_NEVER):
                        problems.append(f"{path}:{line_no}: a client includes {target}: use the public API or "
                                        "engine/engine.h")
    if problems:
        print("\n".join(problems), file=sys.stderr)
        sys.exit(1)
    print("check_layers: every include goes down a layer (or stays in it); no client reaches kernels/ or ops/")


if __name__ == "__main__":
    main()
