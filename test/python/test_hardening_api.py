"""Regressions from hardening the Python API (issue 17, part D): results
that differed from PyTorch 1.13, inputs torch refuses that Ember took, and
the one torch takes that Ember refused. Each case runs both libraries on the
same fresh random data."""

import numpy as np
import pytest
import torch

import ember
from ember_testing import assert_close, from_array, pair


def raised(fn):
    """(exception type, message) of fn(), or None when it returns."""
    try:
        fn()
    except Exception as error:  # noqa: BLE001 (any error is the answer)
        return type(error), str(error)
    return None


def assert_both_raise(e_fn, t_fn, match=None):
    """torch raises; ember raises the same exception type, with torch's
    message where `match` names the part that must agree."""
    expected = raised(t_fn)
    assert expected is not None, "torch no longer raises: fix the test"
    with pytest.raises(expected[0]) as excinfo:
        e_fn()
    if match is not None:
        assert match in expected[1]
        assert match in str(excinfo.value)


@pytest.mark.parametrize("shape", [(2, 2), (3,), ()])
def test_masked_select_with_0d_mask_is_flat(rng, shape):
    x, t = pair(rng, shape)
    for flag in (True, False):
        assert_close(ember.masked_select(x, ember.tensor(flag)),
                     torch.masked_select(t, torch.tensor(flag)))


@pytest.mark.parametrize("dtype", ["bool", "int32", "int64", "float32", "float64"])
@pytest.mark.parametrize("name", ["logical_and", "logical_or", "logical_xor"])
def test_logical_ops_return_bool(rng, name, dtype):
    x, t = pair(rng, (4, 3), dtype)
    values = rng.integers(-2, 3, size=(3,))
    y, u = from_array(values), torch.tensor(values)
    assert_close(getattr(ember, name)(x, y), getattr(torch, name)(t, u))
    assert_close(getattr(x, name)(y[0]), getattr(t, name)(u[0]))


@pytest.mark.parametrize("dtype", ["bool", "int64", "float32", "float64"])
def test_logical_not_returns_bool(rng, dtype):
    x, t = pair(rng, (5,), dtype)
    assert_close(ember.logical_not(x), torch.logical_not(t))


def test_write_through_an_expanded_view_reaches_the_base(rng):
    data = rng.standard_normal((2, 2)).astype(np.float32)
    x, t = from_array(data), torch.tensor(data)
    v, w = x.expand(3, 2, 2), t.expand(3, 2, 2)
    v[-1, 1] = 1
    w[-1, 1] = 1
    assert_close(x, t)
    assert_close(v, w)
    # A broadcast dim in the middle, written through a slice of one copy.
    y, u = from_array(data[:, :1]), torch.tensor(data[:, :1])
    ve, we = y.expand(2, 4), u.expand(2, 4)
    ve[:, 2:3].mul_(5)
    we[:, 2:3].mul_(5)
    assert_close(y, u)


def test_write_through_an_empty_expanded_view_changes_nothing(rng):
    data = rng.integers(1, 9, size=(4, 2))
    x, t = from_array(data), torch.tensor(data)
    x[:, :1].expand(4, 0).mul_(0)
    t[:, :1].expand(4, 0).mul_(0)
    assert_close(x, t)


def test_empty_slice_assignment_and_pending_neighbours(rng):
    x = ember.tensor([0.73], dtype=ember.float64)
    t = torch.tensor([0.73], dtype=torch.float64)
    values = rng.standard_normal(2).astype(np.float32)
    b = from_array(values) * 3
    x[2::1] = True
    t[2::1] = True
    assert_close(b, torch.tensor(values) * 3)
    assert_close(x, t)


def test_a_failed_graph_leaves_unrelated_pending_values_alone(rng):
    values = rng.standard_normal(2).astype(np.float32)
    b = from_array(values) * 3
    # Its buffer (16 TiB) cannot be allocated: the graph holding both fails.
    huge = ember.ones(1).expand(2**42) + 1
    with pytest.raises(RuntimeError, match="out of memory"):
        huge.numpy()
    assert_close(b, torch.tensor(values) * 3)
    with pytest.raises(RuntimeError, match="out of memory"):
        huge.numpy()  # the failed value keeps its error
    # An explicit sync reports the failure; the other values are computed.
    huge2 = ember.ones(1).expand(2**42) + 1
    c = from_array(values) + 2
    with pytest.raises(RuntimeError, match="out of memory"):
        ember.sync()
    assert_close(c, torch.tensor(values) + 2)
    del huge2


@pytest.mark.parametrize("dtype", ["int32", "int64"])
def test_integer_pow_with_tensor_exponents_is_exact(rng, dtype):
    base = rng.integers(-9, 10, size=(40,))
    base[:3] = [0, 1, -1]
    exponent = rng.integers(-3, 70, size=(40,))
    x, t = from_array(base, dtype), torch.tensor(base, dtype=getattr(torch, dtype))
    e, u = from_array(exponent, dtype), torch.tensor(exponent, dtype=getattr(torch, dtype))
    assert_close(x ** e, t ** u)
    assert_close(3 ** e, 3 ** u)
    assert_close(x.pow(e[0]), t.pow(u[0]))


def test_integer_pow_with_large_scalar_exponents_wraps_like_torch():
    assert_close(ember.tensor(-2**40) ** 5, torch.tensor(-2**40) ** 5)
    x = [3, -3, 7, 2]
    assert_close(ember.tensor(x) ** 100, torch.tensor(x) ** 100)
    assert_close(ember.tensor(x, dtype=ember.int32) ** 77,
                 torch.tensor(x, dtype=torch.int32) ** 77)
    assert_both_raise(lambda: ember.tensor(0) ** -1, lambda: torch.tensor(0) ** -1,
                      "negative integer powers")


def test_bool_subtraction_and_negation_raise_like_torch(rng):
    x, t = pair(rng, (4,), "bool")
    y, u = pair(rng, (4,), "bool")
    assert_both_raise(lambda: x - y, lambda: t - u, "two bool tensors")
    assert_both_raise(lambda: x.sub(y), lambda: t.sub(u), "two bool tensors")
    assert_both_raise(lambda: ember.sub(x, True), lambda: torch.sub(t, True),
                      "two bool tensors")
    assert_both_raise(lambda: x - 1, lambda: t - 1, "with a bool tensor")
    assert_both_raise(lambda: 1 - x, lambda: 1 - t, "with a bool tensor")
    n, m = pair(rng, (4,), "float32")
    assert_both_raise(lambda: n - x, lambda: m - t, "with a bool tensor")
    assert_both_raise(lambda: -x, lambda: -t, "logical_not")
    assert_both_raise(lambda: x.neg(), lambda: t.neg(), "logical_not")
    assert_both_raise(lambda: ember.neg(x), lambda: torch.neg(t), "logical_not")


def test_bool_pow_argmax_and_clamp_raise_like_torch(rng):
    x, t = pair(rng, (4,), "bool")
    y, u = pair(rng, (4,), "bool")
    assert_both_raise(lambda: x.pow(y), lambda: t.pow(u), "\"pow\" not implemented for 'Bool'")
    assert_both_raise(lambda: x ** True, lambda: t ** True, "\"pow\" not implemented")
    for name in ("argmax", "argmin"):
        assert_both_raise(lambda: getattr(x, name)(), lambda: getattr(t, name)(),
                          f"\"{name}_cpu\" not implemented for 'Bool'")
        assert_both_raise(lambda: getattr(x, name)(0), lambda: getattr(t, name)(0),
                          f"\"{name}_cpu\" not implemented")
    assert_both_raise(lambda: x.clamp(False, True), lambda: t.clamp(False, True),
                      "\"clamp_scalar_cpu\" not implemented for 'Bool'")
    assert_both_raise(lambda: x.clamp_(0, 1), lambda: t.clamp_(0, 1),
                      "result type Long can't be cast")
    # What torch does compute stays computed.
    assert_close(x ** 2, t ** 2)
    assert_close(x.clamp(0, 1), t.clamp(0, 1))
    assert_close(x.max(), t.max())


@pytest.mark.parametrize("shape", [(3, 4), (3, 4, 5)])
def test_index_select_refuses_negative_and_out_of_range_indices(rng, shape):
    x, t = pair(rng, shape)
    for index in ([-1], [0, -3], [5], [4, 0]):
        for dim in range(-1, len(shape)):
            if 0 <= index[0] < shape[dim] and all(0 <= i < shape[dim] for i in index):
                continue
            # torch's dim-1 kernel has a message of its own.
            message = ("out of DATA bounds" if dim % len(shape) == 1
                       else "index out of range in self")
            assert_both_raise(
                lambda: x.index_select(dim, ember.tensor(index)),
                lambda: t.index_select(dim, torch.tensor(index)), message)
    assert_close(x.index_select(1, ember.tensor([3, 0, 0])),
                 t.index_select(1, torch.tensor([3, 0, 0])))


@pytest.mark.parametrize("value_shape", [(1, 1), (1, 4), (1, 1, 4), (4,), ()])
def test_setitem_value_with_leading_unit_dims(rng, value_shape):
    x, t = pair(rng, (3, 4))
    v, w = pair(rng, value_shape)
    x[1] = v
    t[1] = w
    assert_close(x, t)
    x[:, 1:3] = v[..., :2] if value_shape and value_shape[-1] == 4 else v
    t[:, 1:3] = w[..., :2] if value_shape and value_shape[-1] == 4 else w
    assert_close(x, t)


def test_setitem_value_that_does_not_broadcast_still_raises(rng):
    x, t = pair(rng, (3, 2))
    v, w = pair(rng, (2, 1))
    assert_both_raise(lambda: x.__setitem__(1, v), lambda: t.__setitem__(1, w))


def test_index_select_of_a_0d_tensor(rng):
    x, t = pair(rng, ())
    assert_close(x.index_select(0, ember.tensor([0])), t.index_select(0, torch.tensor([0])))
    for index in ([-1], [1]):
        assert_both_raise(lambda: x.index_select(0, ember.tensor(index)),
                          lambda: t.index_select(0, torch.tensor(index)),
                          "index out of range in self")
