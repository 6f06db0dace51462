"""matmul, mm, bmm and @: the 1-D rules, batch broadcasting, dtypes,
non-contiguous operands and empty dims."""

import operator

import numpy as np
import pytest
import torch

import ember
from ember_testing import assert_close, from_array, pair, reference, tdtype

# Sums of products: the summation order differs from torch's.
F32_TOL = {"rtol": 1e-4, "atol": 1e-4}


@pytest.mark.parametrize("left,right", [
    ((5,), (5,)),
    ((5,), (5, 3)),
    ((4, 5), (5,)),
    ((4, 5), (5, 3)),
    ((1, 5), (5, 1)),
    ((2, 4, 5), (2, 5, 3)),
    ((2, 4, 5), (5, 3)),
    ((4, 5), (2, 5, 3)),
    ((5,), (2, 5, 3)),
    ((2, 4, 5), (5,)),
    ((2, 1, 4, 5), (3, 5, 2)),
    ((1, 4, 5), (3, 5, 2)),
    ((3, 1, 4, 5), (1, 2, 5, 6)),
])
def test_matmul_shapes(rng, left, right):
    x, t = pair(rng, left)
    y, u = pair(rng, right)
    want = torch.matmul(t, u)
    assert_close(ember.matmul(x, y), want, **F32_TOL)
    assert_close(x @ y, want, **F32_TOL)
    assert_close(x.matmul(y), want, **F32_TOL)


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16", "int32", "int64"])
def test_matmul_dtypes(rng, dtype):
    # Small integer values: every product and sum is exact in every dtype.
    a = rng.integers(-3, 4, size=(6, 8)).astype(np.float32)
    b = rng.integers(-3, 4, size=(8, 5)).astype(np.float32)
    x, y = from_array(a, dtype), from_array(b, dtype)
    t = torch.from_numpy(a).to(tdtype(dtype))
    u = torch.from_numpy(b).to(tdtype(dtype))
    assert_close(x @ y, reference(operator.matmul, t, u))
    assert_close(ember.bmm(x.unsqueeze(0), y.unsqueeze(0)),
                 reference(torch.bmm, t.unsqueeze(0), u.unsqueeze(0)))


@pytest.mark.parametrize("dtype", ["float64", "float16", "bfloat16"])
def test_matmul_dtypes_with_fractions(rng, dtype):
    x, t = pair(rng, (5, 6), dtype, low=-1, high=1)
    y, u = pair(rng, (6, 4), dtype, low=-1, high=1)
    assert_close(x @ y, reference(operator.matmul, t, u), atol=3e-2 if dtype != "float64" else 1e-12)


def test_mm(rng):
    x, t = pair(rng, (7, 3))
    y, u = pair(rng, (3, 9))
    assert_close(ember.mm(x, y), torch.mm(t, u), **F32_TOL)
    assert_close(x.mm(y), t.mm(u), **F32_TOL)


def test_bmm(rng):
    x, t = pair(rng, (4, 3, 6), "float64")
    y, u = pair(rng, (4, 6, 2), "float64")
    assert_close(ember.bmm(x, y), torch.bmm(t, u))
    assert_close(x.bmm(y), t.bmm(u))


@pytest.mark.parametrize("case", ["left_T", "right_T", "both_T", "step", "batch_permute", "expand"])
def test_matmul_of_views(rng, case):
    if case == "left_T":
        x, t = pair(rng, (5, 4))
        y, u = pair(rng, (5, 3))
        make = lambda a, b: (a.T, b)
    elif case == "right_T":
        x, t = pair(rng, (4, 5))
        y, u = pair(rng, (3, 5))
        make = lambda a, b: (a, b.T)
    elif case == "both_T":
        x, t = pair(rng, (5, 4))
        y, u = pair(rng, (3, 5))
        make = lambda a, b: (a.T, b.T)
    elif case == "step":
        x, t = pair(rng, (8, 10))
        y, u = pair(rng, (5, 7))
        make = lambda a, b: (a[::2, 1::2], b[:, 2:])
    elif case == "batch_permute":
        x, t = pair(rng, (4, 2, 5))
        y, u = pair(rng, (2, 5, 3))
        make = lambda a, b: (a.permute(1, 0, 2), b)
    else:
        x, t = pair(rng, (1, 4, 5))
        y, u = pair(rng, (5, 3))
        make = lambda a, b: (a.expand(3, 4, 5), b.expand(3, 5, 3))
    a, b = make(x, y)
    ta, tb = make(t, u)
    assert_close(a @ b, ta @ tb, **F32_TOL)


def test_matmul_with_empty_dims(rng):
    cases = [((2, 0), (0, 3)), ((0, 4), (4, 3)), ((2, 4), (4, 0)), ((0,), (0,)), ((3, 0, 2), (2, 5))]
    for left, right in cases:
        x, t = pair(rng, left)
        y, u = pair(rng, right)
        assert_close(x @ y, t @ u)


def test_matmul_larger(rng):
    x, t = pair(rng, (64, 96), "float32", low=-1, high=1)
    y, u = pair(rng, (96, 80), "float32", low=-1, high=1)
    want = (t.double() @ u.double()).float()
    assert_close(x @ y, want, rtol=1e-4, atol=1e-4)
    b, v = pair(rng, (3, 33, 17), "float64")
    c, w = pair(rng, (3, 17, 9), "float64")
    assert_close(b @ c, v @ w)


def test_matmul_feeds_elementwise(rng):
    x, t = pair(rng, (6, 5))
    w, tw = pair(rng, (5, 4))
    b, tb = pair(rng, (4,))
    got = (x @ w + b).relu().softmax(-1)
    want = (t @ tw + tb).relu().softmax(-1)
    assert_close(got, want, **F32_TOL)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("layout", ["plain", "right_T", "left_step", "right_step", "batched"])
def test_matmul_with_one_row(rng, dtype, layout):
    # One-row products run as BLAS matrix-vector products: every operand layout.
    if layout == "plain":
        x, t = pair(rng, (1, 37), dtype)
        y, u = pair(rng, (37, 19), dtype)
        make = lambda a, b: (a, b)
    elif layout == "right_T":
        x, t = pair(rng, (1, 37), dtype)
        y, u = pair(rng, (19, 37), dtype)
        make = lambda a, b: (a, b.T)
    elif layout == "left_step":
        x, t = pair(rng, (3, 74), dtype)
        y, u = pair(rng, (37, 19), dtype)
        make = lambda a, b: (a[1:2, ::2], b)
    elif layout == "right_step":
        x, t = pair(rng, (1, 37), dtype)
        y, u = pair(rng, (37, 40), dtype)
        make = lambda a, b: (a, b[:, ::2])
    else:
        x, t = pair(rng, (4, 1, 37), dtype)
        y, u = pair(rng, (4, 19, 37), dtype)
        make = lambda a, b: (a, b.transpose(1, 2))
    a, b = make(x, y)
    ta, tb = make(t, u)
    assert_close(a @ b, ta @ tb, **F32_TOL)
