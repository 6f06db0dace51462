"""dtype conversions: to(dtype) between every pair and the float() double()
long() int() half() bool() shorthands."""

import numpy as np
import pytest
import torch

import ember
from ember_testing import ALL_DTYPES, assert_close, edtype, from_array, tdtype


def source_values(dtype):
    """Values every conversion defines the same way in torch: fractions and
    negatives (truncated toward zero for ints), zeros (False for bool)."""
    values = np.array([[0.0, -0.0, 1.0, -1.0], [2.75, -2.75, 100.5, -7.25], [0.5, 3.0, -0.5, 1e-3]],
                      dtype=np.float32)
    if dtype == "bool":
        return values != 0
    if dtype in ("int32", "int64"):
        return np.trunc(values)
    return values


@pytest.mark.parametrize("source", ALL_DTYPES)
def test_to_every_dtype(source):
    values = source_values(source)
    x = from_array(values, source)
    t = torch.from_numpy(values).to(tdtype(source))
    results = [(x.to(edtype(target)), t.to(tdtype(target))) for target in ALL_DTYPES]
    for got, want in results:
        assert_close(got, want, rtol=0, atol=0)


@pytest.mark.parametrize("source", ALL_DTYPES)
def test_conversion_shorthands(source):
    values = source_values(source)
    x = from_array(values, source)
    t = torch.from_numpy(values).to(tdtype(source))
    names = ["float", "double", "long", "int", "half", "bool"]
    results = [(getattr(x, name)(), getattr(t, name)()) for name in names]
    for got, want in results:
        assert_close(got, want, rtol=0, atol=0)


def test_to_the_same_dtype_returns_self():
    x = ember.ones(3)
    assert x.to(ember.float32) is x
    assert x.float() is x


def test_conversions_round_like_torch(rng):
    values = rng.normal(scale=100.0, size=(64,)).astype(np.float32)
    x = from_array(values)
    t = torch.from_numpy(values)
    results = [(x.half(), t.half()), (x.to(ember.bfloat16), t.to(torch.bfloat16)),
               (x.double(), t.double()), (x.int(), t.int()), (x.long(), t.long())]
    for got, want in results:
        assert_close(got, want, rtol=0, atol=0)


def test_conversions_of_views_and_computed_values(rng):
    values = rng.normal(size=(4, 6)).astype(np.float64) * 10
    x = from_array(values)
    t = torch.from_numpy(values)
    assert_close(x.T.float(), t.T.float(), rtol=0, atol=0)
    assert_close(x[:, ::2].long(), t[:, ::2].long())
    assert_close((x * 2.0).half(), (t * 2.0).half(), rtol=0, atol=0)
    assert_close((x > 0).int().sum(), (t > 0).int().sum())


def test_a_conversion_is_a_copy():
    x = ember.zeros(3)
    y = x.double()
    x.add_(1.0)
    assert y.tolist() == [0.0, 0.0, 0.0]
    assert x.tolist() == [1.0, 1.0, 1.0]
