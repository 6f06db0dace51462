"""pytest fixtures shared by the ember suites."""

import zlib

import numpy as np
import pytest
import torch

# The suites run two at a time on two cores; torch's own threads only add noise.
torch.set_num_threads(1)


@pytest.fixture
def rng(request):
    """A NumPy generator seeded from the test's id: fresh data for every test,
    the same data on every run of that test."""
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))
