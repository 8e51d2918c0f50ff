"""The tests' reference for an op over a group of dims: permute the group last, flatten it,
run torch's single-dim op, undo (what smx's dim lists mean, as scipy.special.softmax(axis=tuple)).

    from over_dims import over_dims
    y = over_dims(torch.softmax, x.double(), (1, 2))
"""


def over_dims(fn, x, dims):
    """fn(t, dim) over the flattened group `dims` of the torch tensor x (a 0-d x: fn(x, 0))."""
    nd = x.dim()
    if nd == 0:
        return fn(x, 0)
    group = sorted(d % nd for d in dims)
    rest = [d for d in range(nd) if d not in group]
    p = x.permute(rest + group)
    y = fn(p.reshape(*p.shape[: len(rest)], -1), -1).reshape(p.shape)
    inverse = [0] * nd
    for i, d in enumerate(rest + group):
        inverse[d] = i
    return y.permute(inverse)
