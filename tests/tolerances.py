"""The tests' one tolerance table, read from tests/tolerances.h (the numbers live there only; the
reasons too). tol(pass_, reference, dtype) -> (rtol, atol) for a torch dtype or a dtype name.

    from tolerances import tol
    rtol, atol = tol("forward", "torch", torch.float32)
"""
import os
import re

_HEADER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tolerances.h")
_ROW = re.compile(r"X\((\w+),\s*(\w+),\s*(\w+),\s*([0-9.eE+-]+),\s*([0-9.eE+-]+)\)")
TABLE = {(p, r, d): (float(rt), float(at)) for p, r, d, rt, at in _ROW.findall(open(_HEADER).read())}
assert len(TABLE) == 24, f"tests/tolerances.h: expected 24 rows, read {len(TABLE)}"


def tol(pass_, reference, dtype, log_form=False):
    """(rtol, atol) for pass_ "forward" / "backward", reference "oracle" / "torch" and a dtype
    (torch.float32, "float32", np.float32, ...). log_form: log_softmax outputs and gradients,
    which cancel towards 0, take atol = max(atol, rtol) (as smx::test::excess does)."""
    name = str(dtype).replace("torch.", "")
    if name.startswith("<class 'numpy."):
        name = name[len("<class 'numpy."):-2]
    rtol, atol = TABLE[(pass_, reference, name)]
    return (rtol, max(atol, rtol)) if log_form else (rtol, atol)
