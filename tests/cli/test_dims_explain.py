"""The command's dim lists (--dim 1,2) and `smx explain`, against PyTorch in float64.

--dim lists: the result must match the float64 oracle (permute the group dims to the end,
reshape, softmax, back) within the forward "oracle" row of tests/tolerances.h. explain: the drawn groups must be exactly the groups of the oracle (elements
that share their indices outside the dims) and every drawn value must be the float64 softmax
rounded to 4 decimals (|drawn - exact| <= 5e-5 + 1e-9).
"""
import io
import re

import numpy as np
import pytest
import torch
from over_dims import over_dims
from tolerances import tol

SEED = "[[1,2],[4,3],[5,5]]"


def oracle(x, dims, fn=torch.softmax):
    return over_dims(fn, torch.as_tensor(x).double(), dims)


def group_ids(shape, dims):
    """The oracle's groups: the row-major index over the dims outside the group."""
    nd = len(shape)
    group = {d % max(nd, 1) for d in dims}
    ids = []
    for idx in np.ndindex(*shape):
        key = tuple(i for d, i in enumerate(idx) if d not in group)
        ids.append(key)
    return ids


def save(tmp_path, name, a):
    path = tmp_path / name
    np.save(path, a)
    return str(path)


@pytest.mark.parametrize("op,fn", [("softmax", torch.softmax), ("log_softmax", torch.log_softmax),
                                   ("softmin", lambda x, d: torch.softmax(-x, d))])
@pytest.mark.parametrize("dims", ["1,2", "0,2", "-1,0", "2, 0, 1", "1,3"])
def test_dim_list_file_to_file(run, tmp_path, op, fn, dims):
    x = np.random.default_rng(3).standard_normal((3, 4, 5, 6)).astype(np.float32)
    src = save(tmp_path, "x.npy", x)
    out = tmp_path / "y.npy"
    run(op, "--dim", dims, src, "-o", str(out), check_rc=0)
    ours = torch.from_numpy(np.load(out))
    expected = oracle(x, [int(d) for d in dims.split(",")], fn)
    rtol, atol = tol("forward", "oracle", "float32")
    torch.testing.assert_close(ours.double(), expected, rtol=rtol, atol=max(atol, 1e-7))


def test_dim_list_prints_like_pytorch(run):
    out = run("softmax", "--dim", "0,1", SEED, check_rc=0)[1]
    expected = oracle(torch.tensor([[1, 2], [4, 3], [5, 5]]), (0, 1)).float()
    assert out == repr(expected) + "\n"


def test_dim_list_backward(run, tmp_path):
    rng = np.random.default_rng(4)
    x = torch.from_numpy(rng.standard_normal((4, 3, 5))).requires_grad_(True)
    g = rng.standard_normal((4, 3, 5))
    y = oracle(x, (0, 2))
    (expected,) = torch.autograd.grad(y, x, torch.from_numpy(g))
    out = tmp_path / "dx.npy"
    run("backward", "--op", "softmax", "--dim", "0,2", "--grad", save(tmp_path, "g.npy", g),
        "--output", save(tmp_path, "y.npy", y.detach().numpy()), "-o", str(out), check_rc=0)
    rtol, atol = tol("forward", "oracle", "float64")
    torch.testing.assert_close(torch.from_numpy(np.load(out)), expected, rtol=rtol, atol=max(atol, 1e-13))


def test_dim_list_errors(run):
    rc, _, err = run("softmax", "--dim", "1,-1", SEED)
    assert rc == 1 and "dim 1 appears multiple times in the list of dims" in err
    rc, _, err = run("softmax", "--dim", "0,5", SEED)
    assert rc == 1 and "Dimension out of range (expected to be in range of [-2, 1], but got 5)" in err
    for bad in ["1,", "a", "1,,2", "1;2"]:
        rc, _, err = run("softmax", "--dim", bad, SEED)
        assert rc == 2 and "comma-separated list of dims" in err, bad


# ---- explain ----

CELL = re.compile(r"([A-Za-z]|g\d+) (\d\.\d{4}|nan)")


def parse_explain(out):
    """(header line, [(label, value)] in row-major order, {label: listed group line})"""
    lines = out.splitlines()
    cells = []
    for line in lines:
        if "|" in line:
            cells += [(m.group(1), float(m.group(2))) for m in CELL.finditer(line)]
    listed = {line.split()[0]: line for line in lines if re.match(r"^([A-Za-z]|g\d+)  x", line)}
    return lines[0], cells, listed


def check_explain(run, literal, shape, dims, extra=()):
    args = ["explain", *extra] + (["--dim", ",".join(map(str, dims))] if dims is not None else []) + [literal]
    rc, out, err = run(*args)
    assert rc == 0, err
    x = np.array(eval(literal), dtype=np.float32)  # the literal is a Python list (tests only)
    used = dims if dims is not None else [0 if len(shape) in (0, 1, 3) else 1]
    expected = oracle(x, used).flatten().tolist()
    header, cells, listed = parse_explain(out)
    assert len(cells) == x.size, out
    ids = group_ids(shape, used)
    # The drawn letters partition the elements exactly as the oracle's groups do.
    by_label, by_id = {}, {}
    for (label, _), gid in zip(cells, ids):
        assert by_label.setdefault(label, gid) == gid, out
        assert by_id.setdefault(gid, label) == label, out
    for (_, value), exact in zip(cells, expected):
        assert abs(value - exact) <= 5e-5 + 1e-9, out
    size = x.size // len(by_id)
    assert f"{len(by_id)} group" in header and f"of {size} element" in header, header
    assert set(listed) == set(by_label), out  # every group listed once, with its sum
    for line in listed.values():
        assert line.endswith("= 1.0000"), line
    return out, err


def test_explain_seed_dim0_answers_which_elements_sum_to_1(run):
    out, _ = check_explain(run, SEED, (3, 2), [0])
    assert "each COLUMN sums to 1" in out
    assert "A  x[:, 0] = [1, 4, 5]" in out and "B  x[:, 1] = [2, 3, 5]" in out


def test_explain_seed_dim1(run):
    out, _ = check_explain(run, SEED, (3, 2), [1])
    assert "each ROW sums to 1" in out


def test_explain_implicit_dim_warns(run):
    _, err = check_explain(run, SEED, (3, 2), None)
    assert "Implicit dimension choice for softmax has been deprecated" in err


@pytest.mark.parametrize("shape,dims", [((2, 3, 2), [0, 2]), ((2, 3, 2), [-1]), ((4,), [0]), ((2, 2, 2, 2), [1, 3]),
                                        ((1, 2, 3, 2, 1), [0, 2, 4]), ((3, 2), [1, 0]), ((2, 3, 4), [0, 1, 2])])
def test_explain_any_rank_and_dim_lists(run, shape, dims):
    x = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape) * 0.5
    check_explain(run, str(x.tolist()), shape, dims)


def test_explain_zero_dim(run):
    rc, out, _ = run("explain", "--dim", "0", "2.5")
    assert rc == 0 and "1 group of 1 element" in out and "1.0000" in out


def test_explain_large_tensor_gives_counts(run, tmp_path):
    src = save(tmp_path, "big.npy", np.zeros((10, 20, 30), np.float32))
    rc, out, _ = run("explain", "--dim", "0,2", src)
    assert rc == 0
    assert "20 groups of 300 elements" in out
    assert "Too large to draw (6000 elements" in out


def test_explain_errors(run):
    rc, _, err = run("explain", "--dim", "2", SEED)
    assert rc == 1 and "Dimension out of range" in err
    rc, _, err = run("explain", "--dim", "x", SEED)
    assert rc == 2
