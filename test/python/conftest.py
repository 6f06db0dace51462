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
    skipped, with the reason, where that device does not exist."""
    device = os.environ.get("EMBER_TEST_DEVICE", "cpu")
    if device == "cpu":
        return
    import ember
    kind = getattr(ember, device)
    if kind.is_available():
        return
    skip = pytest.mark.skip(reason=f"no {device} device: {kind.unavailable_reason()}")
    for item in items:
        item.add_marker(skip)
