#!/usr/bin/python3
"""Python smx.softmax against torch.softmax and scipy.special.softmax on NumPy arrays.

All three run in this process on the same float32 arrays, smx and torch with 2 threads (scipy is
NumPy, one thread). torch gets its tensor made beforehand (torch.from_numpy, outside the timing),
so its time is the call alone. Each cell is the median of repeated timings of the call, the
three taking turns (with a pause before each turn for idle threads to stop spinning); the last
columns are torch's (and scipy's) time / smx's time, > 1 meaning smx is faster.

With --csv FILE it also writes one row per call (what,problem,impl,time_us,peak_rss_mib,identical,
the format cli_bench.sh writes too) for report.py's "What users call" table in docs/speed.md.

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
    rows += autograd_rows()
    rows += cross_entropy_rows()
    if args.csv:
        with open(args.csv, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["what", "problem", "impl", "time_us", "peak_rss_mib", "identical"])
            w.writerows(rows)


def cross_entropy_rows():
    """smx.cross_entropy_with_grad (in place) against F.cross_entropy forward + backward, and the
    forward alone, on LLM-sized logits (float32 and bfloat16, as torch tensors through DLPack);
    copy = torch's clone of the logits (one read and one write), timed in the same rounds."""
    import torch.nn.functional as F
    rows = []
    print("\ncross entropy (mean, index targets), medians in microseconds; copy = one read + one write")
    print(f"{'problem':>34} {'copy':>9} {'smx':>9} {'torch':>9} {'smx/copy':>9} {'torch/smx':>10}")
    gen = torch.Generator().manual_seed(0)
    for n, c, dtype in [(1024, 128256, torch.float32), (1024, 32000, torch.bfloat16)]:
        logits = torch.randn(n, c, generator=gen).to(dtype)
        target = torch.randint(0, c, (n,), generator=gen)
        work = logits.clone()
        leaf = logits.clone().requires_grad_(True)
        loss, grad = smx.cross_entropy_with_grad(work, target, inplace=True)
        torch_loss = F.cross_entropy(leaf.float() if dtype == torch.bfloat16 else leaf, target)
        torch_loss.backward()
        assert abs(float(torch.from_dlpack(loss)) - float(torch_loss)) <= 1e-3 * abs(float(torch_loss))

        def smx_step():
            work.copy_(logits)  # (the in-place form consumes its logits; the copy is timed as `copy`)
            smx.cross_entropy_with_grad(work, target, inplace=True)

        def torch_step():
            leaf.grad = None
            F.cross_entropy(leaf, target).backward()

        def copy():
            work.copy_(logits)

        def forward_only():
            smx.cross_entropy(logits, target)

        t_copy, t_smx, t_torch, t_fwd = medians_us([copy, smx_step, torch_step, forward_only], rounds=5)
        t_smx -= t_copy  # the refill of the in-place buffer
        label = f"{n}x{c} {str(dtype).replace('torch.', '')}"
        print(f"{label + ' with grad':>34} {t_copy:9.0f} {t_smx:9.0f} {t_torch:9.0f} {t_smx / t_copy:8.2f}x {t_torch / t_smx:9.2f}x")
        print(f"{label + ' forward':>34} {t_copy:9.0f} {t_fwd:9.0f} {'':>9} {t_fwd / t_copy:8.2f}x")
        rows.append(["python", f"cross_entropy {label} fwd+bwd", "smx.cross_entropy_with_grad", f"{t_smx:.2f}", "", ""])
        rows.append(["python", f"cross_entropy {label} fwd+bwd", "F.cross_entropy+backward", f"{t_torch:.2f}", "", ""])
    return rows


def autograd_rows():
    """smx.torch (autograd Functions) against torch: forward + backward of a softmax on 4096x4096
    float32, and of a scaled causal softmax over 8x12x512x512 attention scores (torch: scale,
    masked_fill with the causal mask, softmax, as attention code writes it)."""
    import smx.torch as st
    rows = []
    print("\nsmx.torch with autograd, forward + backward, float32, medians in microseconds")
    print(f"{'problem':>28} {'smx.torch':>10} {'torch':>10} {'torch/smx':>10}")
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(4096, 4096, generator=gen).requires_grad_(True)
    g = torch.randn(4096, 4096, generator=gen)
    scores = torch.randn(8, 12, 512, 512, generator=gen).requires_grad_(True)
    gs = torch.randn(8, 12, 512, 512, generator=gen)
    scale = 64 ** -0.5
    causal = torch.ones(512, 512, dtype=torch.bool).tril()

    def step(fn, inp, grad):
        def run():
            inp.grad = None
            fn(inp).backward(grad)
        return run

    problems = [
        ("softmax 4096x4096 dim -1", x, g, lambda t: st.softmax(t, -1), lambda t: torch.softmax(t, -1)),
        ("causal 8x12x512x512", scores, gs, lambda t: st.masked_softmax(t, None, -1, scale=scale, causal=True),
         lambda t: (t * scale).masked_fill(~causal, float("-inf")).softmax(-1)),
    ]
    for label, inp, grad, ours_fn, torch_fn in problems:
        step(ours_fn, inp, grad)()
        ours_grad = inp.grad.clone()
        step(torch_fn, inp, grad)()
        torch.testing.assert_close(ours_grad, inp.grad, rtol=1e-4, atol=1e-6)
        ours, theirs = medians_us([step(ours_fn, inp, grad), step(torch_fn, inp, grad)], rounds=5)
        print(f"{label:>28} {ours:10.0f} {theirs:10.0f} {theirs / ours:9.2f}x")
        rows.append(["python", f"{label} fwd+bwd", "smx.torch", f"{ours:.2f}", "", "gradient allclose to torch"])
        rows.append(["python", f"{label} fwd+bwd", "torch", f"{theirs:.2f}", "", ""])
    return rows


if __name__ == "__main__":
    main()
