"""Indexing (ints, negative ints, slices with steps, None, ..., boolean masks,
integer index tensors) and __setitem__ (scalars, broadcast tensors, views,
masks)."""

import numpy as np
import pytest
import torch

import ember
from ember_testing import ALL_DTYPES, assert_close, from_array, pair, random_array, to_numpy

BASIC_INDICES = [
    1, -1, -4, (2, 3), (-1, -2), (1, -1, 0),
    slice(None), slice(1, 3), slice(None, None, 2), slice(1, None, 3), slice(-3, None),
    slice(None, -1), slice(5, 10), slice(3, 1), slice(-100, 100, 4),
    (slice(None), 1), (Ellipsis, 0), (0, Ellipsis), (Ellipsis,), (1, Ellipsis, slice(None, None, 2)),
    None, (None, 0), (slice(None), None, 2), (Ellipsis, None), (None, Ellipsis, None),
    (slice(0, 4, 2), slice(1, None, 2), -1), (1, slice(None), slice(2, 3)), (),
]


@pytest.mark.parametrize("index", BASIC_INDICES, ids=repr)
def test_basic_indexing(rng, index):
    x, t = pair(rng, (4, 5, 6))
    assert_close(x[index], t[index])


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_indexing_every_dtype(rng, dtype):
    x, t = pair(rng, (4, 5), dtype)
    assert_close(x[1], t[1])
    assert_close(x[:, ::2], t[:, ::2])
    assert_close(x[-1, 2], t[-1, 2])


def test_indexing_0d_and_views_of_views(rng):
    x, t = pair(rng, ())
    assert_close(x[None], t[None])
    assert_close(x[...], t[...])
    assert_close(x[()], t[()])
    y, u = pair(rng, (6, 8))
    assert_close(y[1:][::2][:, 3], u[1:][::2][:, 3])
    assert_close(y.T[2][1::2], u.T[2][1::2])
    assert_close(y[::2].T[::3], u[::2].T[::3])


def test_indexing_results_are_views_with_torch_strides(rng):
    x, t = pair(rng, (4, 5, 6))
    for index in [1, (slice(None), 2), (slice(1, None, 2), slice(None), slice(None, None, 3)),
                  (None, Ellipsis, 1)]:
        assert tuple(x[index].stride()) == t[index].stride(), index
        assert x[index].is_contiguous() == t[index].is_contiguous(), index


@pytest.mark.parametrize("shape,mask_shape", [
    ((6,), (6,)), ((3, 4), (3, 4)), ((3, 4), (3,)), ((2, 3, 4), (2, 3)), ((3, 4), (3, 4)),
])
def test_boolean_mask(rng, shape, mask_shape):
    x, t = pair(rng, shape)
    m, tm = pair(rng, mask_shape, "bool")
    assert_close(x[m], t[tm])


def test_boolean_mask_from_comparison_and_all_false(rng):
    x, t = pair(rng, (5, 4))
    assert_close(x[x > 0], t[t > 0])
    assert_close(x[x > 100], t[t > 100])
    assert_close(x[x.sum(1) > 0], t[t.sum(1) > 0])
    assert_close(x.T[x.T < 0], t.T[t.T < 0])


@pytest.mark.parametrize("idx", [[0], [3, 1, 1, 0], [-1, 0, -4], [[0, 1], [-1, 2]], []])
def test_integer_index_tensors(rng, idx):
    x, t = pair(rng, (4, 3))
    i = ember.tensor(idx, dtype=ember.int64)
    ti = torch.tensor(idx, dtype=torch.int64)
    assert_close(x[i], t[ti])


def test_integer_index_tensor_dtypes_and_views(rng):
    x, t = pair(rng, (6, 5))
    i, ti = pair(rng, (7,), "int64", low=-6, high=5)
    assert_close(x[i], t[ti])
    assert_close(x.T[i.clamp(-5, 4)], t.T[ti.clamp(-5, 4)])
    y, u = pair(rng, (9,), "int32")
    j, tj = pair(rng, (2, 3), "int64", low=-9, high=8)
    assert_close(y[j], u[tj])


def test_index_tensor_result_is_a_copy(rng):
    x, t = pair(rng, (4, 3))
    i = ember.tensor([1, 2])
    picked = x[i]
    x.zero_()
    assert_close(picked, t[torch.tensor([1, 2])])


# __setitem__

@pytest.mark.parametrize("index", [1, -1, (2, 3), slice(1, 3), slice(None, None, 2), (slice(None), 1),
                                   (Ellipsis, -1), (slice(1, None, 2), slice(0, 5, 3)), ()],
                         ids=repr)
@pytest.mark.parametrize("value", [2.5, -1])
def test_setitem_scalar(rng, index, value):
    x, t = pair(rng, (4, 6))
    x[index] = value
    t[index] = value
    assert_close(x, t)


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_setitem_scalar_every_dtype(rng, dtype):
    x, t = pair(rng, (3, 4), dtype)
    x[1] = 1
    t[1] = 1
    x[:, 2] = True
    t[:, 2] = True
    assert_close(x, t)


def test_setitem_converts_values_like_torch():
    x = ember.zeros(4, dtype=ember.int64)
    t = torch.zeros(4, dtype=torch.int64)
    x[1] = 2.7
    t[1] = 2.7
    x[2] = -2.7
    t[2] = -2.7
    x[3] = ember.tensor(5.9)
    t[3] = torch.tensor(5.9)
    assert_close(x, t)


@pytest.mark.parametrize("index,value_shape", [
    (slice(1, 3), (2, 6)),
    (slice(1, 3), (6,)),
    (slice(None, None, 2), (1, 6)),
    ((slice(None), 2), (4,)),
    ((slice(None), slice(1, None, 2)), (4, 1)),
    (0, (6,)),
    (0, ()),
    ((Ellipsis, slice(0, 2)), (2,)),
])
def test_setitem_tensor_broadcasts(rng, index, value_shape):
    x, t = pair(rng, (4, 6))
    v, u = pair(rng, value_shape)
    x[index] = v
    t[index] = u
    assert_close(x, t)


def test_setitem_with_a_tensor_of_another_dtype_and_a_view_value(rng):
    x, t = pair(rng, (3, 4))
    v, u = pair(rng, (4, 3), "int32")
    x[:, 1:] = v[1:].T
    t[:, 1:] = u[1:].T
    assert_close(x, t)


def test_setitem_from_itself(rng):
    x, t = pair(rng, (4, 5))
    x[0] = x[3]
    t[0] = t[3]
    x[:, 1] = x[:, 2] * 2.0
    t[:, 1] = t[:, 2] * 2.0
    assert_close(x, t)


def test_setitem_through_a_view_updates_the_base(rng):
    x, t = pair(rng, (4, 6))
    v, u = x[1:], t[1:]
    v[0, ::2] = 9.0
    u[0, ::2] = 9.0
    w, s = x.T, t.T
    w[5] = -3.0
    s[5] = -3.0
    assert_close(x, t)
    assert_close(v, u)
    assert_close(w, s)


@pytest.mark.parametrize("value", [0.0, -7])
def test_setitem_mask_scalar(rng, value):
    x, t = pair(rng, (5, 4))
    x[x < 0] = value
    t[t < 0] = value
    assert_close(x, t)


def test_setitem_mask_with_tensor_values(rng):
    x, t = pair(rng, (5, 4))
    m, tm = pair(rng, (5, 4), "bool")
    x[m] = ember.tensor(1.5)
    t[tm] = torch.tensor(1.5)
    assert_close(x, t)
    count = int(tm.sum())
    values = random_array(rng, (count,), "float32")
    x[m] = from_array(values)
    t[tm] = torch.from_numpy(values)
    assert_close(x, t)


def test_setitem_row_mask(rng):
    x, t = pair(rng, (5, 4))
    m, tm = pair(rng, (5,), "bool")
    x[m] = 3.0
    t[tm] = 3.0
    assert_close(x, t)


def test_setitem_mask_on_a_view_updates_the_base(rng):
    x, t = pair(rng, (4, 6))
    v, u = x[:, ::2], t[:, ::2]
    v[v > 0] = 0.0
    u[u > 0] = 0.0
    assert_close(x, t)


def test_value_read_before_setitem_keeps_the_old_value(rng):
    x, t = pair(rng, (3, 3))
    before = x * 1.0
    row = x[0] + 0.0
    x[0] = 100.0
    assert_close(before, t)
    assert_close(row, t[0])
    t[0] = 100.0
    assert_close(x, t)
    assert np.all(to_numpy(x)[0] == 100.0)
