"""Max pooling's gradient against PyTorch 1.13 where the winner is
ambiguous: ties (the first maximum in row-major kernel order gets the
gradient) and NaN (the last NaN of the window gets it, as torch's scan
replaces the best by every NaN). On the CPU the gradient is one scatter-add
through the winners' indices; without a gradient the forward is the
running maximum alone (same values)."""

import numpy as np
import pytest
import torch

import ember

CASES = [
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=2),
    dict(kernel_size=3, stride=1, padding=1),
    dict(kernel_size=(2, 3), stride=(1, 2), dilation=(2, 1), ceil_mode=True),
]


def pooled(lib, x, g, kwargs, nd):
    pool = lib.nn.functional.max_pool2d if nd == 2 else lib.nn.functional.max_pool1d
    xt = lib.tensor(x, requires_grad=True)
    y = pool(xt, **kwargs)
    (y * lib.tensor(g)).sum().backward()
    return y.detach().numpy(), xt.grad.numpy()


def compare(rng, x, kwargs, nd=2):
    with torch.no_grad():
        pool = torch.nn.functional.max_pool2d if nd == 2 else torch.nn.functional.max_pool1d
        shape = pool(torch.tensor(x), **kwargs).shape
    g = rng.standard_normal(tuple(shape)).astype(x.dtype)
    (ye, ge), (yt, gt) = pooled(ember, x, g, kwargs, nd), pooled(torch, x, g, kwargs, nd)
    np.testing.assert_array_equal(np.isnan(ye), np.isnan(yt))
    np.testing.assert_allclose(ye, yt, rtol=0, atol=0)
    np.testing.assert_allclose(ge, gt, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kwargs", CASES)
def test_ties_route_the_gradient_as_torch(rng, kwargs, dtype):
    x = rng.integers(0, 3, (2, 3, 9, 8)).astype(dtype)
    compare(rng, x, kwargs)


@pytest.mark.parametrize("kwargs", CASES[:2])
def test_nan_routes_the_gradient_as_torch(rng, kwargs):
    x = rng.integers(0, 3, (2, 2, 8, 8)).astype(np.float32)
    x[rng.random(x.shape) < 0.2] = np.nan
    compare(rng, x, kwargs)


def test_one_dim_and_unbatched(rng):
    compare(rng, rng.integers(0, 2, (3, 4, 11)).astype(np.float32),
            dict(kernel_size=3, stride=2, padding=1), nd=1)
    compare(rng, rng.integers(0, 2, (3, 7, 6)).astype(np.float32),
            dict(kernel_size=3, stride=2, padding=1))


def test_without_grad_the_values_are_the_same(rng):
    x = rng.standard_normal((2, 3, 9, 9)).astype(np.float32)
    with_grad = ember.nn.functional.max_pool2d(ember.tensor(x, requires_grad=True), 3, 2, 1)
    with ember.no_grad():
        without = ember.nn.functional.max_pool2d(ember.tensor(x, requires_grad=True), 3, 2, 1)
    assert with_grad.requires_grad and not without.requires_grad
    np.testing.assert_array_equal(with_grad.detach().numpy(), without.numpy())
