"""pytest fixtures shared by the ember suites."""

import os
import zlib

import numpy as np
import pytest
import torch

# The suites run two at a time on two cores; torch's own threads only add noise.
torch.set_num_threads(1)

# Compile counts must not depend on what an earlier run left on disk: the
# suites run with the disk cache off; test_disk_cache.py turns it on in
# subprocesses with folders of its own.
os.environ["EMBER_CACHE_DIR"] = ""


@pytest.fixture
def rng(request):
    """A NumPy generator seeded from the test's id: fresh data for every test,
    the same data on every run of that test."""
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))


def pytest_collection_modifyitems(config, items):
    """Under EMBER_TEST_DEVICE (the *_on_vulkan suites), every case is
    skipped, with the reason, where that device does not exist; where it
    exists, CI runs the representative subset of the parametrized cases
    (device_sweep_subset) unless EMBER_FULL_DEVICE_SWEEP=1."""
    device = os.environ.get("EMBER_TEST_DEVICE", "cpu")
    if device == "cpu":
        return
    import ember
    kind = getattr(ember, device)
    if not kind.is_available():
        skip = pytest.mark.skip(reason=f"no {device} device: {kind.unavailable_reason()}")
        for item in items:
            item.add_marker(skip)
        return
    if os.environ.get("EMBER_FULL_DEVICE_SWEEP", "") == "1":
        return
    kept, dropped = device_sweep_subset(items)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


# The device sweeps repeat the CPU suites' cases on a GPU kind, where every
# case compiles its programs for the device (on lavapipe in CI: ~1-15 s a
# case). What a device run adds over the CPU suite is the device lowering of
# each op, option and dtype class, not every combination again: of each test
# function's parametrized cases, CI keeps the first ones (in collection
# order, so the choice is the same on every run) that together cover
#   - every value of every parameter once (each shape, option, case, dtype),
#   - every value of every other parameter with each dtype class (float,
#     integer, bool) that its dtype parameters take, and every pair of dtype
#     classes of two dtype parameters (promotion).
# The others are deselected (reported as such, never counted as passed).
# EMBER_FULL_DEVICE_SWEEP=1 runs every case (scripts/device-sweep).
_DTYPE_CLASSES = {
    "float16": "float", "bfloat16": "float", "float32": "float", "float64": "float",
    "int8": "int", "uint8": "int", "int16": "int", "int32": "int", "int64": "int",
    "bool": "bool",
}


def _dtype_class(value):
    """'float', 'int' or 'bool' for a dtype (a name, or torch's/ember's
    dtype object); None for anything else."""
    if isinstance(value, str):
        return _DTYPE_CLASSES.get(value)
    if type(value).__name__ == "dtype":  # torch.float32, ember.float32
        return _DTYPE_CLASSES.get(str(value).split(".")[-1])
    return None


def _value_key(value):
    """A parameter value as a hashable key: plain data by its repr (the
    same on every run), anything else (functions, classes, OpInfo entries)
    by identity, as parametrize lists them."""
    if isinstance(value, (str, int, float, bool, type(None), tuple, list, dict)):
        return repr(value)
    return ("object", id(value))


def _requirements(item):
    """The (parameter, value) facts case `item` covers, as hashable keys."""
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return None
    values = {}
    classes = {}
    for name, value in callspec.params.items():
        dtype_class = _dtype_class(value)
        if dtype_class is not None:
            classes[name] = dtype_class
        values[name] = _value_key(value)
    facts = {("each", name, index) for name, index in values.items()}
    for name, index in values.items():
        for dtype_name, dtype_class in classes.items():
            if name == dtype_name:
                continue
            if name in classes:
                facts.add(("classes", name, classes[name], dtype_name, dtype_class))
            else:
                facts.add(("with", name, index, dtype_name, dtype_class))
    return facts


def device_sweep_subset(items):
    """(kept, deselected): the cases of each test function that add a fact
    not covered by an earlier kept case of the same function; unparametrized
    tests are always kept."""
    covered = {}
    kept, dropped = [], []
    for item in items:
        facts = _requirements(item)
        if facts is None:
            kept.append(item)
            continue
        seen = covered.setdefault((item.module.__name__, item.originalname), set())
        if facts - seen:
            seen |= facts
            kept.append(item)
        else:
            dropped.append(item)
    return kept, dropped
