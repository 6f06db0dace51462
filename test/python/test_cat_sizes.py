"""ember.cat of operands whose sizes along the concatenated dim change from
call to call: the extents are run-time sizes, not part of the program, so
new sizes run the same compiled program; values and gradients (each
operand's window of the cotangent, at run-time offsets) against PyTorch
1.13."""

import numpy as np
import pytest
import torch

import ember
from ember_testing import to_numpy, from_array


def run(lib, arrays, dim, weights):
    make = (lambda a: from_array(a).requires_grad_()) if lib is ember else (
        lambda a: torch.tensor(a, requires_grad=True))
    inputs = [make(a) for a in arrays]
    out = lib.cat([t * 2.0 for t in inputs], dim)
    w = from_array(weights) if lib is ember else torch.tensor(weights)
    (out.tanh() * w).sum().backward()
    return to_numpy(out), [to_numpy(t.grad) for t in inputs]


def shape(extent, dim):
    return (extent, 5) if dim == 0 else (3, extent)


@pytest.mark.parametrize("dim", [0, 1])
def test_new_extents_run_the_same_program(rng, dim):
    compiles = []
    for extents in [(2, 3, 4), (5, 2, 6), (3, 7, 2), (4, 4, 4)]:
        arrays = [rng.standard_normal(shape(n, dim)).astype(np.float32) for n in extents]
        total = sum(extents)
        weights = rng.standard_normal(shape(total, dim)).astype(np.float32)
        before = ember.compile_stats()["compiles"]
        out_e, grads_e = run(ember, arrays, dim, weights)
        compiles.append(ember.compile_stats()["compiles"] - before)
        out_t, grads_t = run(torch, arrays, dim, weights)
        np.testing.assert_allclose(out_e, out_t, rtol=1e-6, atol=1e-6)
        for g_e, g_t in zip(grads_e, grads_t):
            np.testing.assert_allclose(g_e, g_t, rtol=1e-4, atol=1e-5)
    assert compiles[1:] == [0, 0, 0], compiles


@pytest.mark.parametrize("extents", [(0, 1), (1, 0, 0), (1, 3), (3, 1, 2), (0, 4, 0)])
def test_empty_and_unit_extents(rng, extents):
    arrays = [rng.standard_normal(shape(n, 0)).astype(np.float32) for n in extents]
    weights = rng.standard_normal(shape(sum(extents), 0)).astype(np.float32)
    out_e, grads_e = run(ember, arrays, 0, weights)
    out_t, grads_t = run(torch, arrays, 0, weights)
    np.testing.assert_allclose(out_e, out_t, rtol=1e-6, atol=1e-6)
    # Empty operands are dropped before the op (their .grad stays None,
    # torch's is an empty tensor); a result of extent 1 is static 1.
    for n, g_e, g_t in zip(extents, grads_e, grads_t):
        if n:
            np.testing.assert_allclose(g_e, g_t, rtol=1e-4, atol=1e-5)
