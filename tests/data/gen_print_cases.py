#!/usr/bin/python3
"""Writes print_cases.txt: tensors and the exact repr() that PyTorch prints for them.

Run with Debian's python3-torch: /usr/bin/python3 tests/data/gen_print_cases.py > tests/data/print_cases.txt
The C++ print test rebuilds each tensor from its exact values and compares smx's repr().

Format, per case:
  case NAME
  dtype float32|float64|float16|bfloat16|int64|bool
  shape D0 D1 ...        (nothing after 'shape' for 0-d)
  values V0 V1 ...       (row-major; floats as C99 hex, ints as decimal, bools as 0/1)
  expected N             (then N lines of repr)
"""
import math
import torch

torch.manual_seed(0)
g = torch.Generator().manual_seed(1234)
nan, inf = float("nan"), float("inf")


def randn(*shape, dtype=torch.float32, scale=1.0):
    return (torch.randn(*shape, generator=g, dtype=torch.float64) * scale).to(dtype)


CASES = [
    ("seed_input", torch.tensor([1, 2, 4, 3, 5, 5], dtype=torch.float32).view(3, 2)),
    ("seed_softmax", torch.softmax(torch.tensor([1, 2, 4, 3, 5, 5], dtype=torch.float32).view(3, 2), 0)),
    ("seed_sum", torch.tensor([1.0, 1.0])),
    ("nonfinite_mix", torch.tensor([4, inf, 1.5, -inf, 0, nan, 1])),
    ("zeros_10000", torch.zeros(10000)),
    ("big_int_sci", torch.tensor([123456789.0])),
    ("sci_ratio", torch.tensor([1e-2, 11])),
    ("int_mode_wide", torch.tensor([1.0, 1000.0])),
    ("int_mode_sci", torch.tensor([1.0, 1010.0])),
    ("scalar_small", torch.tensor(2e-5)),
    ("scalar_three", torch.tensor(3.0)),
    ("scalar_nan", torch.tensor(nan)),
    ("scalar_neg_inf", torch.tensor(-inf)),
    ("scalar_f64", torch.tensor(0.5, dtype=torch.float64)),
    ("scalar_int", torch.tensor(-42)),
    ("scalar_bool", torch.tensor(True)),
    ("empty_1d", torch.zeros(0)),
    ("empty_3d", torch.zeros(5, 0, 0)),
    ("empty_f64", torch.zeros(2, 0, dtype=torch.float64)),
    ("empty_int", torch.zeros(0, dtype=torch.int64)),
    ("empty_bool_2d", torch.zeros(0, 3, dtype=torch.bool)),
    ("int_arange", torch.arange(10)),
    ("int_summarized", torch.arange(-5, 1000)),
    ("int_2d", torch.tensor([[1, -20, 300], [4000, 5, -6]])),
    ("bool_vec", torch.tensor([True, False, True])),
    ("bool_2d", torch.tensor([[True], [False]])),
    ("randn_40x40", randn(40, 40)),
    ("randn_3x4x5", randn(3, 4, 5)),
    ("randn_2x3x4x5", randn(2, 3, 4, 5)),
    ("randn_12x90", randn(12, 90)),
    ("randn_10x8x20", randn(10, 8, 20)),
    ("randn_30_wrap", randn(30)),
    ("arange_100_float", torch.arange(100.0)),
    ("randn_f64", randn(5, dtype=torch.float64)),
    ("randn_f64_wrap", randn(24, dtype=torch.float64)),
    ("randn_f16", randn(6, dtype=torch.float16)),
    ("f16_inf", torch.tensor([1.0, 70000.0, -2.5]).half()),
    ("randn_bf16", randn(2, 3, dtype=torch.bfloat16)),
    ("bf16_softmax", torch.tensor([[0.3340, 0.3340, 0.3340]]).bfloat16()),
    ("neg_zero_int", torch.tensor([-0.0, 1.0])),
    ("neg_zero_frac", torch.tensor([-0.0, 1.5])),
    ("wide_range", torch.tensor([1e-10, 1e10])),
    ("huge", torch.tensor([1e20, -3e20])),
    ("tiny_frac", torch.tensor([1e-5, 1.0])),
    ("int_mode_1e9", torch.tensor([1e9, 1.0])),
    ("int_mode_neg", torch.tensor([-1.0, -1000.0, 5.0])),
    ("nan_only", torch.tensor([nan, nan])),
    ("inf_zero", torch.tensor([0.0, inf, -inf])),
    ("max_float", torch.tensor([3.4e38, -3.4e38, 1.0])),
    ("denormal", torch.tensor([1e-40, 1.0])),
    ("rounding_ties", torch.tensor([0.00005, 0.00015, 0.12345, 2.5, 0.5])),
    ("scale_1e3", randn(4, 4, scale=1e3)),
    ("scale_1e-3", randn(4, 4, scale=1e-3)),
    ("col_vector", randn(7, 1)),
    ("row_1x1001", randn(1, 1001)),
    ("deep_summarized", randn(8, 2, 2, 70)),
    ("softmax_dim1_5x10", torch.softmax(randn(5, 10), 1)),
    ("log_softmax_3x4", torch.log_softmax(randn(3, 4), 1)),
]

NAMES = {torch.float32: "float32", torch.float64: "float64", torch.float16: "float16",
         torch.bfloat16: "bfloat16", torch.int64: "int64", torch.bool: "bool"}


def fmt(v, dtype):
    if dtype == torch.bool:
        return "1" if v else "0"
    if dtype == torch.int64:
        return str(int(v))
    v = float(v)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v.hex()


for name, t in CASES:
    text = repr(t)
    values = [fmt(v, t.dtype) for v in t.reshape(-1).tolist()]
    print("case", name)
    print("dtype", NAMES[t.dtype])
    print(" ".join(["shape"] + [str(s) for s in t.shape]))
    print(" ".join(["values"] + values))
    lines = text.split("\n")
    print("expected", len(lines))
    for line in lines:
        print(line)
