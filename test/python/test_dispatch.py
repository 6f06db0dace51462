"""The per-op fast path (`y = x + 1; y.item()`): Python's binary operators as
direct number slots of ember.Tensor, item() reading the one element in place,
and the sync's per-thread last lookup of a compiled graph. Each must give
torch's results, dtypes and errors, and the compile counters must stay exact."""

import operator

import numpy as np
import pytest
import torch

import ember
import ember.nn as nn
from ember_testing import (ALL_DTYPES, assert_close, assert_raised_here, edtype,
                           from_array, is_float, pair, random_array, tdtype)

OPERATORS = {
    "add": operator.add, "sub": operator.sub, "mul": operator.mul,
    "truediv": operator.truediv, "mod": operator.mod, "and": operator.and_,
    "or": operator.or_, "xor": operator.xor, "lshift": operator.lshift,
    "rshift": operator.rshift,
}
INTEGER_ONLY = {"and", "or", "xor", "lshift", "rshift"}


def stats_delta(before):
    after = ember.compile_stats()
    return {key: after[key] - before[key] for key in ("compiles", "cache_hits", "graphs_run")}


def outcome(fn):
    """('ok', result) or ('error', exception type)."""
    try:
        return "ok", fn()
    except (RuntimeError, TypeError, ValueError, ZeroDivisionError) as error:
        return "error", type(error)


def check_like_torch(fn, ember_args, torch_args):
    kind, got = outcome(lambda: fn(*ember_args))
    want_kind, want = outcome(lambda: fn(*torch_args))
    assert kind == want_kind, f"ember: {kind} {got}, torch: {want_kind} {want}"
    if kind == "ok":
        assert_close(got, want)
    else:
        # ember raises torch's RuntimeError where torch 1.13 raises one.
        assert got == want or (got is RuntimeError and want is ZeroDivisionError), (got, want)


def test_the_operators_and_item_are_direct_calls():
    # Binding __add__ (or setting Tensor.__add__ or Tensor.item from Python)
    # would give the type CPython's generic slot or a pybind11 method back:
    # the package must not do that after the fast calls are installed.
    assert ember._ember._fast_calls_installed()


@pytest.mark.parametrize("name", sorted(OPERATORS))
@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int64", "bool"])
def test_tensor_op_tensor_and_numbers_match_torch(rng, name, dtype):
    fn = OPERATORS[name]
    nonzero = name in ("truediv", "mod")
    low, high = (0, 3) if name in ("lshift", "rshift") else (-3, 3)
    x, tx = pair(rng, (2, 3), dtype, low=low, high=high, nonzero=nonzero)
    y, ty = pair(rng, (3,), "int64" if dtype == "bool" else dtype, low=low, high=high,
                 nonzero=nonzero)
    check_like_torch(fn, (x, y), (tx, ty))
    check_like_torch(fn, (y, x), (ty, tx))
    numbers = [2, 3.5, True, np.float32(1.5), np.int64(2)]
    for number in numbers:
        if name in INTEGER_ONLY and isinstance(number, (float, np.floating)):
            continue
        check_like_torch(fn, (x, number), (tx, number))
        # A NumPy scalar on the left defers to the tensor, as in torch
        # (`__array_priority__`).
        check_like_torch(fn, (number, x), (number, tx))


def test_a_0d_tensor_and_a_number_promote_like_torch(rng):
    x, tx = pair(rng, (), "int32")
    for number in (2, 2.5, True):
        for fn in (operator.add, operator.mul, operator.sub):
            check_like_torch(fn, (x, number), (tx, number))
            check_like_torch(fn, (number, x), (number, tx))


@pytest.mark.parametrize("other", ["a", object(), None])
def test_an_operand_that_is_not_a_tensor_or_number_is_a_type_error(other):
    x = ember.ones(2)
    with pytest.raises(TypeError, match="unsupported operand"):
        x + other
    with pytest.raises(TypeError, match="unsupported operand"):
        other - x


def test_the_reflected_form_of_a_foreign_type_still_runs():
    class Foreign:
        def __radd__(self, other):
            return "foreign radd"

        def __add__(self, other):
            return "foreign add"
    x = ember.ones(2)
    assert x + Foreign() == "foreign radd"
    assert Foreign() + x == "foreign add"


def test_an_error_surfaces_at_the_operator_line():
    x, y = ember.ones(2), ember.ones(3)
    with pytest.raises(RuntimeError, match="must match the size") as excinfo:
        x + y  # raises
    assert_raised_here(excinfo)
    with pytest.raises(RuntimeError, match="Subtraction") as excinfo:
        ember.tensor([True]) - 1  # raises
    assert_raised_here(excinfo)


def test_parameters_subclasses_and_autograd_through_the_operators(rng):
    data = random_array(rng, (4,), "float32")
    w = nn.Parameter(from_array(data))
    tw = torch.nn.Parameter(torch.from_numpy(data.copy()))
    x, tx = pair(rng, (4,))
    for fn in (lambda a, b: (a * 2.0 + b) / 3 - a * b,
               lambda a, b: (b + a) * (1 - a)):
        w.grad, tw.grad = None, None
        loss = fn(w, x).sum()
        tloss = fn(tw, tx).sum()
        assert loss.grad_fn is not None
        loss.backward()
        tloss.backward()
        assert_close(w.grad, tw.grad)
    with ember.no_grad():
        assert (w * 2).grad_fn is None


def test_in_place_operators_still_update_every_alias(rng):
    x, tx = pair(rng, (3,))
    alias, talias = x, tx
    x += 1.5
    x *= 2
    x -= alias / 4
    tx += 1.5
    tx *= 2
    tx -= talias / 4
    assert x is alias
    assert_close(alias, talias)
    i, ti = pair(rng, (3,), "int64")
    i <<= 1
    ti <<= 1
    i |= 1
    ti |= 1
    assert_close(i, ti)


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_item_reads_the_value_torch_reads(rng, dtype):
    x, tx = pair(rng, (5, 3), dtype)
    for index in [(0, 0), (4, 2), (2, 1)]:
        got, want = x[index].item(), tx[index].item()
        assert type(got) is type(want) and got == want, (index, got, want)
    # Views with an offset and strides, a pending value, a 0-d result.
    for fn in (lambda t: t.t()[1, 3], lambda t: t[3:4, 2:3], lambda t: t[1:, 1:][0, 0]):
        got, want = fn(x).item(), fn(tx).item()
        assert type(got) is type(want) and got == want
    if dtype != "bool":
        got, want = (x[1, 2] * 3).item(), (tx[1, 2] * 3).item()
        assert type(got) is type(want)
        assert got == pytest.approx(want, rel=1e-2 if dtype in ("float16", "bfloat16") else 1e-6)
    for convert in (float, int, bool):
        got, want = convert(x[2, 0]), convert(tx[2, 0])
        assert type(got) is type(want) and got == want


def test_item_of_special_and_16_bit_values():
    for dtype in ("float16", "bfloat16", "float32", "float64"):
        values = [1.1, -0.0, float("inf"), -float("inf"), 65504.0, 6e-8, 1e-40]
        for value in values:
            want = torch.tensor([value], dtype=tdtype(dtype)).item()
            got = ember.tensor([value], dtype=edtype(dtype)).item()
            assert got == want and str(got) == str(want), (dtype, value, got, want)
        assert np.isnan(ember.tensor([float("nan")], dtype=edtype(dtype)).item())


def test_item_of_more_than_one_element_raises():
    with pytest.raises(RuntimeError, match="cannot be converted to Scalar"):
        ember.ones(2).item()


def test_a_per_op_loop_compiles_once_and_hits_the_cache_every_step():
    x = ember.ones(1)
    acc = ember.ones(1) + x
    acc.item()  # compiled here (or found from an earlier test)
    before = ember.compile_stats()
    steps = 50
    for step in range(steps):
        acc = acc + x
        assert acc.item() == 2.0 + step + 1
    delta = stats_delta(before)
    assert delta == {"compiles": 0, "cache_hits": steps, "graphs_run": steps}


def test_shape_and_dtype_changes_between_syncs_give_fresh_results(rng):
    ember.clear_compile_cache()
    before = ember.compile_stats()
    shapes = [(1,), (3,), (1,), (2, 3), (3,), (2, 3)]
    for dtype in ("float32", "float64", "int64", "float32"):
        for shape in shapes:
            x, tx = pair(rng, shape, dtype)
            y = x * 2 + x
            ty = tx * 2 + tx
            assert_close(y, ty)
            if y.numel() == 1:
                assert y.item() == ty.item()
    delta = stats_delta(before)
    # One program per dtype and size-1 pattern ((1,), (3,), (2, 3)): 3 x 3;
    # everything else is a cache hit.
    assert delta["compiles"] == 9
    assert delta["cache_hits"] == delta["graphs_run"] - 9


def test_scalars_of_different_types_and_values_in_one_loop(rng):
    x, tx = pair(rng, (1,))
    for number in (1, 1.5, True, 3, -0.25, 2.5, 7, 0.125):
        for fn in (lambda a, n: a + n, lambda a, n: n * a, lambda a, n: a / n):
            got, want = fn(x, number), fn(tx, number)
            assert_close(got, want)
            assert got.item() == pytest.approx(want.item(), rel=1e-6)


def test_clear_compile_cache_forgets_the_last_lookup_too():
    x = ember.ones(1)
    (x + 1.0).item()
    ember.clear_compile_cache()
    before = ember.compile_stats()
    assert (x + 1.0).item() == 2.0
    assert (x + 1.0).item() == 2.0
    assert stats_delta(before) == {"compiles": 1, "cache_hits": 1, "graphs_run": 2}


def test_alternating_graphs_each_hit_the_cache():
    x = ember.ones(1)
    (x + 1.0).item(), (x * 3.0).item()
    before = ember.compile_stats()
    for _ in range(5):
        assert (x + 1.0).item() == 2.0
        assert (x * 3.0).item() == 3.0
    assert stats_delta(before) == {"compiles": 0, "cache_hits": 10, "graphs_run": 10}


def test_repeated_sync_of_one_value_runs_nothing_more():
    x = ember.ones(1)
    y = x + 1.0
    y.item()
    before = ember.compile_stats()
    for _ in range(3):
        assert y.item() == 2.0
        ember.sync()
    assert stats_delta(before) == {"compiles": 0, "cache_hits": 0, "graphs_run": 0}
