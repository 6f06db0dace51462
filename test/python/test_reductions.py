"""Reductions (sum mean max min argmax argmin) with dim/keepdim/tuple/negative
dims, max/min returning values and indices, softmax and log_softmax."""

import numpy as np
import pytest
import torch

import ember
from ember_testing import (ALL_DTYPES, FLOAT_DTYPES, NUMERIC_DTYPES, assert_close,
                           from_array, pair, reference, tdtype, to_numpy)

SHAPE = (3, 4, 5)
DIMS = [None, 0, 1, 2, -1, -3, (0, 2), (-1, 0), (1, 2), (0, 1, 2)]


def integral_pair(rng, shape, dtype):
    """Small integer values in any dtype: sums are exact in every dtype and
    in every order, so float16/bfloat16 results compare tightly."""
    array = rng.integers(-3, 4, size=shape).astype(np.float32)
    if dtype == "bool":
        array = array > 0
    tensor = torch.from_numpy(array).to(tdtype(dtype))
    return from_array(array, dtype), tensor


def distinct_pair(rng, shape, dtype):
    """Distinct values (no ties for arg reductions) in `dtype`."""
    array = rng.permutation(int(np.prod(shape))).reshape(shape).astype(np.float32) - 20
    return from_array(array, dtype), torch.from_numpy(array).to(tdtype(dtype))


def reduce_kwargs(dim, keepdim):
    kwargs = {} if dim is None else {"dim": dim}
    if keepdim and dim is not None:
        kwargs["keepdim"] = True
    return kwargs


@pytest.mark.parametrize("dim", DIMS)
@pytest.mark.parametrize("keepdim", [False, True])
def test_sum_and_mean_dims(rng, dim, keepdim):
    x, t = pair(rng, SHAPE, "float32")
    kwargs = reduce_kwargs(dim, keepdim)
    results = [(x.sum(**kwargs), t.sum(**kwargs)), (x.mean(**kwargs), t.mean(**kwargs)),
               (ember.sum(x, **kwargs), torch.sum(t, **kwargs)),
               (ember.mean(x, **kwargs), torch.mean(t, **kwargs))]
    for got, want in results:
        assert_close(got, want, atol=1e-5)


def test_positional_dim_and_keepdim(rng):
    x, t = pair(rng, SHAPE)
    assert_close(x.sum(1, True), t.sum(1, True))
    assert_close(x.mean((0, 1), True), t.mean((0, 1), True))
    assert_close(ember.sum(x, -1), torch.sum(t, -1))
    values, indices = x.max(2, True)
    assert_close(values, t.max(2, True).values)
    assert_close(indices, t.max(2, True).indices)


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_sum_dtypes(rng, dtype):
    x, t = integral_pair(rng, SHAPE, dtype)
    results = [(x.sum(), t.sum()), (x.sum(1), t.sum(1)), (x.sum((0, 2), keepdim=True), t.sum((0, 2), keepdim=True))]
    for got, want in results:
        assert_close(got, want)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_mean_dtypes(rng, dtype):
    x, t = integral_pair(rng, SHAPE, dtype)
    results = [(x.mean(), reference(torch.mean, t)), (x.mean(-1), reference(lambda a: a.mean(-1), t)),
               (x.mean((0, 1)), reference(lambda a: a.mean((0, 1)), t))]
    for got, want in results:
        assert_close(got, want)


def test_sum_of_many_elements(rng):
    x, t = pair(rng, (300, 200), "float32")
    assert_close(x.sum(), t.double().sum().float(), rtol=1e-5, atol=1e-3)
    assert_close(x.sum(0), t.double().sum(0).float(), rtol=1e-5, atol=1e-4)
    assert_close(x.mean(1), t.double().mean(1).float(), rtol=1e-5, atol=1e-6)
    y, u = pair(rng, (100000,), "float64")
    assert_close(y.sum(), u.sum(), rtol=1e-10, atol=1e-9)


@pytest.mark.parametrize("name", ["max", "min"])
@pytest.mark.parametrize("dim", [0, 1, 2, -1, -2])
@pytest.mark.parametrize("keepdim", [False, True])
def test_max_min_with_dim_return_values_and_indices(rng, name, dim, keepdim):
    x, t = pair(rng, SHAPE, "float32")
    got = getattr(x, name)(dim, keepdim=keepdim)
    want = getattr(t, name)(dim, keepdim=keepdim)
    assert_close(got.values, want.values)
    assert_close(got.indices, want.indices)
    values, indices = got
    assert_close(values, want.values)
    assert_close(indices, want.indices)
    assert_close(got[0], want[0])
    assert_close(got[1], want[1])
    by_function = getattr(ember, name)(x, dim=dim, keepdim=keepdim)
    assert_close(by_function.values, want.values)
    assert_close(by_function.indices, want.indices)


@pytest.mark.parametrize("dtype", NUMERIC_DTYPES)
def test_max_min_arg_dtypes(rng, dtype):
    x, t = distinct_pair(rng, SHAPE, dtype)
    results = [(x.max(), t.max()), (x.min(), t.min()),
               (x.max(1).values, t.max(1).values), (x.min(-1).indices, t.min(-1).indices),
               (x.argmax(), t.argmax()), (x.argmin(), t.argmin()),
               (x.argmax(0), t.argmax(0)), (x.argmin(dim=2, keepdim=True), t.argmin(dim=2, keepdim=True)),
               (ember.argmax(x, -1), torch.argmax(t, -1)), (ember.argmin(x, 1), torch.argmin(t, 1))]
    for got, want in results:
        assert_close(got, want)


def test_opposite_arg_reductions_in_one_graph(rng):
    # argmax and argmin of the same input are computed together (one sync).
    x, t = pair(rng, (4, 6))
    pending = [(x.argmax(1), t.argmax(1)), (x.argmin(1), t.argmin(1)),
               (x.argmax(), t.argmax()), (x.argmin(), t.argmin()),
               (x.max(0).indices, t.max(0).indices), (x.min(0).indices, t.min(0).indices)]
    for got, want in pending:
        assert_close(got, want)


def test_max_min_of_bools(rng):
    x, t = pair(rng, (4, 6), "bool")
    assert_close(x.max(), t.max())
    assert_close(x.min(), t.min())
    assert_close(x.max(1).values, t.max(1).values)
    assert_close(x.min(0).values, t.min(0).values)


@pytest.mark.parametrize("dim", [None, 0, 1, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_argmax_argmin_dims(rng, dim, keepdim):
    x, t = pair(rng, (6, 7))
    kwargs = reduce_kwargs(dim, keepdim)
    assert_close(x.argmax(**kwargs), t.argmax(**kwargs))
    assert_close(x.argmin(**kwargs), t.argmin(**kwargs))


def test_arg_reductions_pick_the_first_of_ties():
    x = ember.tensor([[1, 3, 3, 0], [2, 2, 0, 0]])
    t = torch.tensor([[1, 3, 3, 0], [2, 2, 0, 0]])
    assert_close(x.argmax(1), t.argmax(1))
    assert_close(x.argmin(1), torch.tensor([3, 2]))
    assert_close(x.max(1).indices, torch.tensor([1, 0]))


@pytest.mark.parametrize("view", ["transpose", "step", "expand"])
def test_reductions_of_views(rng, view):
    x, t = pair(rng, (6, 8))
    make = {"transpose": lambda a: a.T, "step": lambda a: a[1::2, ::3],
            "expand": lambda a: a[2].expand(5, 8)}[view]
    v, u = make(x), make(t)
    results = [(v.sum(0), u.sum(0)), (v.mean(1), u.mean(1)), (v.max(0).values, u.max(0).values),
               (v.argmin(1), u.argmin(1)), (v.sum(), u.sum())]
    for got, want in results:
        assert_close(got, want, atol=1e-5)


def test_reductions_of_empty_tensors():
    x = ember.zeros(0, 3)
    t = torch.zeros(0, 3)
    assert_close(x.sum(), t.sum())
    assert_close(x.sum(0), t.sum(0))
    assert_close(x.sum(1), t.sum(1))
    assert_close(x.mean(0), t.mean(0))
    assert_close(x.max(1).values, t.max(1).values)
    assert_close(x.argmax(1), t.argmax(1))
    assert_close(ember.zeros(0, dtype=ember.int32).sum(), torch.zeros(0, dtype=torch.int32).sum())


def test_reductions_of_0d_tensors():
    x = ember.tensor(2.5)
    t = torch.tensor(2.5)
    results = [(x.sum(), t.sum()), (x.sum(0), t.sum(0)), (x.mean(-1), t.mean(-1)),
               (x.max(), t.max()), (x.argmax(), t.argmax()), (x.max(0).indices, t.max(0).indices)]
    for got, want in results:
        assert_close(got, want)


def test_reduction_results_feed_more_ops(rng):
    x, t = pair(rng, (5, 6))
    got = (x - x.mean(1, keepdim=True)) / (x.max(1, keepdim=True).values - x.min(1, keepdim=True).values)
    want = (t - t.mean(1, keepdim=True)) / (t.max(1, keepdim=True).values - t.min(1, keepdim=True).values)
    assert_close(got, want)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dim", [0, 1, -1, 2, -3])
def test_softmax_dims(rng, name, dim):
    x, t = pair(rng, SHAPE, low=-5, high=5)
    want = getattr(torch, name)(t, dim)
    assert_close(getattr(x, name)(dim), want)
    assert_close(getattr(ember, name)(x, dim), want)
    assert_close(getattr(x, name)(dim=dim), want)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_softmax_dtypes(rng, name, dtype):
    x, t = pair(rng, (4, 9), dtype, low=-4, high=4)
    assert_close(getattr(x, name)(-1), reference(lambda a: getattr(a, name)(-1), t))
    assert_close(getattr(x, name)(0), reference(lambda a: getattr(a, name)(0), t))


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_is_stable_for_large_inputs(rng, name):
    x, t = pair(rng, (3, 8), "float32", low=-1000, high=1000)
    got = getattr(x, name)(1)
    want = getattr(t, name)(1)
    assert np.isfinite(to_numpy(got)).all()
    assert_close(got, want, atol=1e-4)


def test_softmax_of_views_and_rows_sum_to_one(rng):
    x, t = pair(rng, (7, 5))
    assert_close(x.T.softmax(1), t.T.softmax(1))
    assert_close(x[:, 1:4].log_softmax(0), t[:, 1:4].log_softmax(0))
    assert_close(x.softmax(-1).sum(-1), torch.ones(7))


def test_softmax_of_0d_and_empty():
    assert_close(ember.tensor(3.0).softmax(0), torch.tensor(3.0).softmax(0))
    assert_close(ember.zeros(0, 4).softmax(1), torch.zeros(0, 4).softmax(1))
    assert_close(ember.zeros(0, 4).log_softmax(0), torch.zeros(0, 4).log_softmax(0))


def test_mean_of_int_data_after_conversion(rng):
    x, t = pair(rng, (4, 5), "int32")
    assert_close(x.float().mean(1), t.float().mean(1))
    assert x.float().mean().dtype == ember.float32
