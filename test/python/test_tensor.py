"""Tensor properties, dtypes, NumPy interop, item/tolist/repr, iteration, sync."""

import numpy as np
import pytest
import torch

import ember
from ember_testing import (ALL_DTYPES, assert_close, edtype, from_array, pair,
                           random_array, tdtype)


def test_dtype_names_and_aliases():
    for name in ALL_DTYPES:
        assert str(edtype(name)) == "ember." + name
    assert ember.float == ember.float32
    assert ember.double == ember.float64
    assert ember.half == ember.float16
    assert ember.int == ember.int32
    assert ember.long == ember.int64
    assert ember.float32 != ember.float64
    assert ember.int32 != ember.int64


@pytest.mark.parametrize("shape", [(), (0,), (5,), (2, 3), (2, 0, 4), (1, 3, 1, 2)])
def test_shape_size_dim_numel(rng, shape):
    x, t = pair(rng, shape)
    assert x.shape == t.shape
    assert tuple(x.shape) == shape
    assert tuple(x.size()) == shape
    for d in range(-len(shape), len(shape)):
        assert x.size(d) == t.size(d)
        assert x.shape[d] == shape[d]
    assert x.dim() == len(shape)
    assert x.ndim == len(shape)
    assert x.numel() == t.numel()
    assert isinstance(x, ember.Tensor)


def test_device():
    x = ember.zeros(2)
    assert str(x.device) == "cpu"
    assert x.device.type == "cpu"


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_dtype_property(rng, dtype):
    x, t = pair(rng, (3,), dtype)
    assert x.dtype == edtype(dtype)
    assert str(x.dtype) == str(t.dtype).replace("torch.", "ember.")


def test_len_and_iteration(rng):
    x, t = pair(rng, (3, 4))
    assert len(x) == 3
    rows = list(x)
    assert len(rows) == 3
    for row, trow in zip(rows, t):
        assert_close(row, trow)
    y, u = pair(rng, (4,), "int64")
    items = list(y)
    assert all(item.dim() == 0 for item in items)
    assert [item.item() for item in items] == u.tolist()


def test_len_of_0d_is_type_error():
    with pytest.raises(TypeError):
        len(ember.tensor(1.0))


@pytest.mark.parametrize("view", ["contiguous", "transpose", "row_step", "col_step",
                                  "offset", "expand", "permute"])
def test_stride_and_is_contiguous_match_torch(view):
    x = ember.arange(24.0).reshape(4, 6)
    t = torch.arange(24.0).reshape(4, 6)
    ops = {
        "contiguous": lambda a: a,
        "transpose": lambda a: a.transpose(0, 1),
        "row_step": lambda a: a[::2],
        "col_step": lambda a: a[:, ::2],
        "offset": lambda a: a[1:],
        "expand": lambda a: a[0].expand(3, 6),
        "permute": lambda a: a.reshape(2, 3, 4).permute(2, 0, 1),
    }
    v, u = ops[view](x), ops[view](t)
    assert tuple(v.stride()) == u.stride()
    assert v.is_contiguous() == u.is_contiguous()
    assert_close(v, u)
    c = v.contiguous()
    assert c.is_contiguous()
    assert_close(c, u.contiguous())


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "int32", "int64", "bool"])
def test_numpy_dtype_and_values(rng, dtype):
    x, t = pair(rng, (3, 2), dtype)
    n = x.numpy()
    assert isinstance(n, np.ndarray)
    assert n.dtype == t.numpy().dtype
    np.testing.assert_array_equal(n, t.numpy())


def test_numpy_shares_memory_with_the_tensor(rng):
    x = from_array(random_array(rng, (4, 5), "float32"))
    a = x.numpy()
    b = x.numpy()
    assert np.shares_memory(a, b)
    a[1, 2] = 42.0
    assert x[1, 2].item() == 42.0
    assert b[1, 2] == 42.0


def test_numpy_sees_in_place_updates_of_the_tensor(rng):
    values = random_array(rng, (6,), "float32")
    x = from_array(values)
    a = x.numpy()
    x.add_(1.0)
    ember.sync()
    np.testing.assert_allclose(a, values + 1.0, rtol=1e-6)
    x[2] = -7.0
    ember.sync()
    assert a[2] == -7.0


def test_numpy_of_a_computed_tensor(rng):
    x, t = pair(rng, (3, 4))
    y = (x * 2.0 + 1.0).numpy()
    np.testing.assert_allclose(y, (t * 2.0 + 1.0).numpy(), rtol=1e-6)


def test_numpy_of_non_contiguous_views(rng):
    x, t = pair(rng, (4, 6))
    np.testing.assert_array_equal(x.T.numpy(), t.T.numpy())
    np.testing.assert_array_equal(x[:, 1::2].numpy(), t[:, 1::2].numpy())
    np.testing.assert_array_equal(x[2].expand(3, 6).numpy(), t[2].expand(3, 6).numpy())


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16",
                                   "int32", "int64", "bool"])
def test_item_returns_python_scalars(rng, dtype):
    x, t = pair(rng, (), dtype)
    got = x.item()
    assert type(got) is type(t.item())
    assert got == t.item()
    y, u = pair(rng, (1, 1), dtype)
    assert y.item() == u.item()


@pytest.mark.parametrize("dtype", ALL_DTYPES)
@pytest.mark.parametrize("shape", [(), (2, 0), (2, 3), (2, 1, 2)])
def test_tolist_matches_torch_exactly(rng, dtype, shape):
    x, t = pair(rng, shape, dtype)
    got = x.tolist()
    assert got == t.tolist()
    if shape == ():
        assert type(got) is type(t.tolist())


def test_tolist_of_views(rng):
    x, t = pair(rng, (3, 4), "int64")
    assert x.T.tolist() == t.T.tolist()
    assert x[::2, 1:].tolist() == t[::2, 1:].tolist()


REPR_CASES = [
    ([1, 2, 3], None),
    ([1, 2, 3], "int32"),
    ([[1, -20], [300, 4]], None),
    ([True, False], None),
    ([1.0, 2.0, 3.0], None),
    ([1.5, -2.25, 3.0], None),
    ([[1.0, 2.5], [3.0, 4.0]], None),
    ([1.5, 2.0], "float64"),
    ([1e-5, 1.0], None),
    (3.5, None),
    (7, None),
    (True, None),
    (-2, "int32"),
    ([], None),
    ([], "int32"),
    ([], "int64"),
]


@pytest.mark.parametrize("data,dtype", REPR_CASES)
def test_repr_matches_torch(data, dtype):
    x = ember.tensor(data, dtype=edtype(dtype) if dtype else None)
    t = torch.tensor(data, dtype=tdtype(dtype) if dtype else None)
    expected = repr(t).replace("torch.", "ember.")
    assert repr(x) == expected
    assert str(x) == expected


def test_repr_of_a_computed_view():
    x = ember.arange(6).reshape(2, 3).T * 2
    t = torch.arange(6).reshape(2, 3).T * 2
    assert repr(x) == repr(t)


def test_sync_materializes_pending_values(rng):
    x, t = pair(rng, (5, 3))
    ys = [x * float(k) + 1.0 for k in range(3)]
    assert ember.sync() is None
    for k, y in enumerate(ys):
        assert_close(y, t * float(k) + 1.0)
    ember.sync()  # nothing pending: a no-op
    assert_close(ys[0], t * 0.0 + 1.0)


def test_values_survive_dropping_their_inputs(rng):
    x, t = pair(rng, (4,))
    y = (x + 1.0).exp()
    del x
    assert_close(y, (t + 1.0).exp())
