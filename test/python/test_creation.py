"""Creation functions, their _like forms, dtype arguments and shapes."""

import numpy as np
import pytest
import torch

import ember
from ember_testing import (ALL_DTYPES, FLOAT_DTYPES, assert_close, dtype_name,
                           edtype, random_array, tdtype)


@pytest.mark.parametrize("data", [
    [[1, 2, 3], [4, 5, 6]],
    [1.5, -2.0, 3.25],
    [[True, False], [False, True]],
    [1, 2.5],
    [1, True],
    3,
    2.5,
    False,
    [],
    [[]],
    [[[1.0], [2.0]]],
])
def test_tensor_infers_dtype_and_shape_like_torch(data):
    assert_close(ember.tensor(data), torch.tensor(data))


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_tensor_with_dtype(dtype):
    data = [[0.0, 1.5], [-2.7, 3.0]]
    assert_close(ember.tensor(data, dtype=edtype(dtype)),
                 torch.tensor(data, dtype=tdtype(dtype)))
    ints = [0, 3, -4]
    assert_close(ember.tensor(ints, dtype=edtype(dtype)),
                 torch.tensor(ints, dtype=tdtype(dtype)))


@pytest.mark.parametrize("dtype", [None, "float64", "bfloat16"])
def test_tensor_of_a_0d_array_is_0d(dtype):
    value = np.array(1.5)
    x = ember.tensor(value, dtype=None if dtype is None else getattr(ember, dtype))
    assert x.shape == ()
    assert x.item() == 1.5


def test_tensor_copies_its_data():
    data = [1.0, 2.0]
    x = ember.tensor(data)
    data[0] = 5.0
    assert x.tolist() == [1.0, 2.0]


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "int32", "int64", "bool"])
def test_from_numpy(rng, dtype):
    a = random_array(rng, (3, 4), dtype)
    assert_close(ember.from_numpy(a), torch.from_numpy(a))


def test_from_numpy_shares_memory_like_torch(rng):
    a = random_array(rng, (5,), "float32")
    x = ember.from_numpy(a)
    a[1] = 123.0
    assert x[1].item() == 123.0
    assert np.shares_memory(x.numpy(), a)


def test_from_numpy_of_a_strided_array(rng):
    a = random_array(rng, (4, 6), "float64")
    assert_close(ember.from_numpy(a[::2, 1::2]), torch.from_numpy(a[::2, 1::2]))
    assert_close(ember.from_numpy(a.T), torch.from_numpy(a.T))


@pytest.mark.parametrize("name", ["zeros", "ones", "empty"])
@pytest.mark.parametrize("shape", [(), (0,), (4,), (2, 3), (3, 0, 2), (1, 2, 1, 3)])
def test_constant_fills_shapes(name, shape):
    forms = [getattr(ember, name)(shape)] + ([getattr(ember, name)(*shape)] if shape else [])
    for x in forms:
        assert tuple(x.shape) == shape
        assert x.dtype == ember.float32
        if name != "empty":
            assert_close(x, getattr(torch, name)(shape))


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_constant_fills_dtypes(dtype):
    assert_close(ember.zeros(2, 3, dtype=edtype(dtype)), torch.zeros(2, 3, dtype=tdtype(dtype)))
    assert_close(ember.ones((3,), dtype=edtype(dtype)), torch.ones((3,), dtype=tdtype(dtype)))
    e = ember.empty(2, 2, dtype=edtype(dtype))
    assert e.dtype == edtype(dtype) and tuple(e.shape) == (2, 2)
    assert_close(ember.full((2, 2), 1, dtype=edtype(dtype)),
                 torch.full((2, 2), 1, dtype=tdtype(dtype)))


@pytest.mark.parametrize("fill", [7, -1.5, True, 0.25])
def test_full_infers_dtype_from_the_fill_value(fill):
    assert_close(ember.full((2, 3), fill), torch.full((2, 3), fill))


@pytest.mark.parametrize("args,kwargs", [
    ((5,), {}),
    ((0,), {}),
    ((2, 9), {}),
    ((2, 9, 3), {}),
    ((10, 0, -3), {}),
    ((-3, 3), {}),
    ((5.0,), {}),
    ((0.5, 3), {}),
    ((0, 1, 0.1), {}),
    ((-1.0, 1.0, 0.25), {}),
    ((5,), {"dtype": "float32"}),
    ((1, 7, 2), {"dtype": "int32"}),
    ((4,), {"dtype": "float64"}),
    ((0, 2, 0.5), {"dtype": "float64"}),
])
def test_arange(args, kwargs):
    e_kwargs = {k: edtype(v) for k, v in kwargs.items()}
    t_kwargs = {k: tdtype(v) for k, v in kwargs.items()}
    assert_close(ember.arange(*args, **e_kwargs), torch.arange(*args, **t_kwargs))


@pytest.mark.parametrize("args", [(0, 1, 5), (-2, 3, 7), (1, 1, 1), (3, -3, 4), (0, 10, 0), (2.5, 7.5, 11)])
def test_linspace(args):
    assert_close(ember.linspace(*args), torch.linspace(*args))


@pytest.mark.parametrize("name", ["rand", "randn"])
def test_random_shapes_dtypes_and_seeding(name):
    fn = getattr(ember, name)
    assert tuple(fn(3, 4).shape) == (3, 4)
    assert tuple(fn((2, 0)).shape) == (2, 0)
    assert fn(3).dtype == ember.float32
    assert fn(3, dtype=ember.float64).dtype == ember.float64
    ember.manual_seed(1234)
    a = fn(100).tolist()
    ember.manual_seed(1234)
    b = fn(100).tolist()
    assert a == b
    c = fn(100).tolist()
    assert a != c
    ember.manual_seed(99)
    assert fn(100).tolist() != a


def test_rand_is_uniform_in_0_1():
    ember.manual_seed(7)
    values = ember.rand(20000).numpy()
    assert values.min() >= 0.0 and values.max() < 1.0
    assert abs(values.mean() - 0.5) < 0.02
    assert abs(values.std() - np.sqrt(1 / 12)) < 0.02


def test_randn_is_standard_normal():
    ember.manual_seed(8)
    values = ember.randn(20000, dtype=ember.float64).numpy()
    assert abs(values.mean()) < 0.03
    assert abs(values.std() - 1.0) < 0.03
    assert (np.abs(values) < 2.0).mean() == pytest.approx(0.9545, abs=0.02)


def test_randint():
    ember.manual_seed(9)
    x = ember.randint(10, (50, 40))
    assert x.dtype == ember.int64 and tuple(x.shape) == (50, 40)
    values = x.numpy()
    assert values.min() == 0 and values.max() == 9
    y = ember.randint(-3, 4, (1000,))
    assert y.numpy().min() == -3 and y.numpy().max() == 3
    assert set(np.unique(y.numpy())) == set(range(-3, 4))
    z = ember.randint(0, 5, (3,), dtype=ember.int32)
    assert z.dtype == ember.int32


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int64", "bool"])
def test_like_forms_keep_shape_and_dtype(rng, dtype):
    base = ember.from_numpy(random_array(rng, (3, 5), dtype))
    tbase = torch.zeros(3, 5, dtype=tdtype(dtype))
    assert_close(ember.zeros_like(base), torch.zeros_like(tbase))
    assert_close(ember.ones_like(base), torch.ones_like(tbase))
    assert_close(ember.full_like(base, 2), torch.full_like(tbase, 2))
    e = ember.empty_like(base)
    assert e.dtype == base.dtype and tuple(e.shape) == (3, 5)


def test_full_like_converts_the_fill_value():
    assert_close(ember.full_like(ember.arange(3), 2.7), torch.full_like(torch.arange(3), 2.7))
    assert_close(ember.full_like(ember.zeros(2), 3), torch.full_like(torch.zeros(2), 3))


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_like_forms_with_dtype(dtype):
    base = ember.zeros(2, 3, dtype=ember.int64)
    tbase = torch.zeros(2, 3, dtype=torch.int64)
    e, t = edtype(dtype), tdtype(dtype)
    assert_close(ember.zeros_like(base, dtype=e), torch.zeros_like(tbase, dtype=t))
    assert_close(ember.ones_like(base, dtype=e), torch.ones_like(tbase, dtype=t))
    assert_close(ember.full_like(base, 1, dtype=e), torch.full_like(tbase, 1, dtype=t))
    assert ember.empty_like(base, dtype=e).dtype == e


@pytest.mark.parametrize("dtype", FLOAT_DTYPES[:2])
def test_random_like_forms(dtype):
    base = ember.zeros(40, 50, dtype=edtype(dtype))
    for fn in (ember.rand_like, ember.randn_like):
        x = fn(base)
        assert x.dtype == base.dtype and tuple(x.shape) == (40, 50)
    values = ember.rand_like(base).numpy()
    assert values.min() >= 0 and values.max() < 1 and values.std() > 0.2
    assert abs(ember.randn_like(base).numpy().std() - 1.0) < 0.1
    assert ember.rand_like(base, dtype=ember.float64).dtype == ember.float64


@pytest.mark.parametrize("dtype", ["float32", "int32", "int64"])
def test_randint_like(dtype):
    base = ember.zeros(30, 30, dtype=edtype(dtype))
    x = ember.randint_like(base, 10)
    assert x.dtype == base.dtype and tuple(x.shape) == (30, 30)
    values = x.numpy()
    assert values.min() == 0 and values.max() == 9
    np.testing.assert_array_equal(values, np.round(values))
    y = ember.randint_like(base, 3, 6).numpy()
    assert y.min() == 3 and y.max() == 5


def test_created_tensors_are_independent():
    a = ember.zeros(3)
    b = ember.zeros(3)
    a.add_(1)
    assert b.tolist() == [0.0, 0.0, 0.0]
    assert dtype_name(a.dtype) == "float32"
