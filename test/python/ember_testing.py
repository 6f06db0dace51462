"""Helpers for the ember pytest suites: dtype names, random inputs made as an
ember/torch pair holding the same values, and dtype-aware comparisons."""

import inspect
import os

import numpy as np
import pytest
import torch

import ember

FLOAT_DTYPES = ["float32", "float64", "float16", "bfloat16"]
INT_DTYPES = ["int32", "int64"]
NUMERIC_DTYPES = FLOAT_DTYPES + INT_DTYPES
ALL_DTYPES = NUMERIC_DTYPES + ["bool"]

# (rtol, atol) per result dtype, for one rounding step or a few.
TOLERANCES = {
    "float32": (1e-5, 1e-5),
    "float64": (1e-10, 1e-12),
    "float16": (1e-2, 1e-3),
    "bfloat16": (1.6e-2, 1e-2),
}


def dtype_name(dtype):
    """'float32' for ember.float32, torch.float32 and np.float32 alike."""
    if isinstance(dtype, np.dtype) or (isinstance(dtype, type)
                                       and issubclass(dtype, np.generic)):
        return np.dtype(dtype).name
    return str(dtype).split(".")[-1]


def edtype(name):
    return getattr(ember, name)


def tdtype(name):
    return getattr(torch, name)


def is_float(name):
    return name in FLOAT_DTYPES


def random_array(rng, shape, dtype, low=-3.0, high=3.0, nonzero=False):
    """Random values for `dtype` (a name) as a NumPy array (float32 for bf16)."""
    shape = tuple(shape)
    if dtype == "bool":
        return np.asarray(np.ones(shape, bool) if nonzero else rng.random(shape) < 0.5)
    if dtype in INT_DTYPES:
        values = np.asarray(rng.integers(int(low), int(high) + 1, size=shape))
        if nonzero:
            values[values == 0] = 1
        return values.astype(dtype)
    values = np.asarray(rng.uniform(low, high, size=shape))
    if nonzero:
        values = np.where(np.abs(values) < 0.25, 0.25, values)
    if dtype == "bfloat16":
        # Round through torch so that both sides hold the same bf16 values.
        return torch.from_numpy(values.astype(np.float32)).bfloat16().float().numpy()
    return values.astype(dtype)


# EMBER_TEST_DEVICE=vulkan (the *_on_vulkan suites) runs an op suite on that
# device: inputs move there, results come back with .cpu() to be compared.
DEVICE = os.environ.get("EMBER_TEST_DEVICE", "cpu")


def from_array(array, dtype=None):
    """An ember tensor with a copy of `array`'s values (`dtype` a name), on
    the suite's device."""
    tensor = ember.from_numpy(np.array(array, copy=True))
    if dtype is not None and dtype_name(tensor.dtype) != dtype:
        tensor = tensor.to(edtype(dtype))
    return tensor.to(DEVICE) if DEVICE != "cpu" else tensor


def pair(rng, shape, dtype="float32", **kwargs):
    """(ember tensor, torch tensor) with the same random values."""
    array = random_array(rng, shape, dtype, **kwargs)
    return from_array(array, dtype), torch.from_numpy(array.copy()).to(tdtype(dtype))


def to_numpy(value):
    """NumPy copy of an ember tensor, a torch tensor or array-like data;
    bf16 comes back as float32 (NumPy has no bf16)."""
    if isinstance(value, ember.Tensor):
        if dtype_name(value.dtype) == "bfloat16":
            value = value.float()
        return np.array(value.cpu().numpy(), copy=True)
    if isinstance(value, torch.Tensor):
        if value.dtype == torch.bfloat16:
            value = value.float()
        return value.detach().numpy().copy()
    return np.asarray(value)


def reference(fn, *args, dtype=None):
    """fn applied to torch tensors; where torch 1.13 lacks the CPU float16
    kernel, computed in float32 and rounded to `dtype` (default float16).
    With `dtype` the result is cast to it."""
    try:
        out = fn(*args)
    except RuntimeError as error:
        if "Half" not in str(error):
            raise
        widened = [a.float() if isinstance(a, torch.Tensor) and a.dtype == torch.float16
                   else a for a in args]
        return fn(*widened).to(tdtype(dtype) if dtype else torch.float16)
    return out if dtype is None else out.to(tdtype(dtype))


def assert_close(actual, expected, rtol=None, atol=None, check_dtype=True):
    """Checks an ember tensor against a torch tensor or NumPy array: the
    dtype, the shape, and the values within the tolerance of the dtype
    (exact for integers and bools)."""
    assert isinstance(actual, ember.Tensor), f"expected an ember.Tensor, got {type(actual)}"
    got_dtype = dtype_name(actual.dtype)
    if isinstance(expected, (torch.Tensor, np.ndarray)):
        want_dtype = dtype_name(expected.dtype)
        if check_dtype:
            assert got_dtype == want_dtype, f"dtype: got {got_dtype}, expected {want_dtype}"
    got = to_numpy(actual)
    want = to_numpy(expected)
    assert tuple(actual.shape) == tuple(want.shape), \
        f"shape: got {tuple(actual.shape)}, expected {tuple(want.shape)}"
    assert got.shape == want.shape, f"numpy() shape {got.shape} vs tensor shape {want.shape}"
    if got_dtype in TOLERANCES:
        default_rtol, default_atol = TOLERANCES[got_dtype]
        np.testing.assert_allclose(
            got.astype(np.float64), want.astype(np.float64),
            rtol=default_rtol if rtol is None else rtol,
            atol=default_atol if atol is None else atol, equal_nan=True)
    else:
        np.testing.assert_array_equal(got, want)


def assert_raised_here(excinfo, marker="# raises"):
    """The traceback of `excinfo` ends at the caller's own line that carries
    `marker`: the error surfaced at the op call, not in ember's code or at a
    later materialization."""
    caller = inspect.stack()[1]
    last = excinfo.traceback[-1]
    where = f"{last.path}:{last.lineno + 1} in {last.name}"
    same_file = os.path.realpath(str(last.path)) == os.path.realpath(caller.filename)
    assert same_file and last.name == caller.function, \
        f"the traceback ends in {where}, not in {caller.function}"
    with open(caller.filename) as f:
        line = f.read().splitlines()[last.lineno]
    assert marker in line, f"the traceback ends at line {last.lineno + 1}: {line.strip()!r}"


# The repository root (tools built by scripts/build live in build/bin there).
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def tool(label_path):
    """The binary for a Bazel target path like 'tools/ember-run/ember-run'."""
    runfiles = os.environ.get("TEST_SRCDIR")
    if runfiles:
        candidate = os.path.join(runfiles, "ember", label_path)
        if os.path.exists(candidate):
            return candidate
    candidate = os.path.join(ROOT, "build", "bin", os.path.basename(label_path))
    if not os.path.exists(candidate):
        pytest.fail(f"{label_path} is not built (run scripts/build)")
    return candidate
