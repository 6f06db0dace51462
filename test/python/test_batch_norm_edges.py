"""F.batch_norm on inputs without elements or without a channel dim,
against PyTorch 1.13: an empty input comes back as a copy (scaled by
weight[0], shifted by bias[0]) that keeps the gradient chain; a non-empty
1-D input raises torch's error."""

import numpy as np
import pytest
import torch

import ember


def libs():
    return (("ember", ember), ("torch", torch))


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape,stats", [((0,), 0), ((0,), 5), ((0, 3), 3), ((4, 0, 2), 0)])
def test_an_empty_input_is_copied(rng, shape, stats, training):
    results = {}
    for name, lib in libs():
        x = lib.zeros(shape, requires_grad=True)
        y = lib.nn.functional.batch_norm(x, lib.zeros(stats), lib.ones(stats),
                                         training=training)
        assert y is not x and y.requires_grad
        y.sum().backward()
        results[name] = (tuple(y.shape), tuple(x.grad.shape))
    assert results["ember"] == results["torch"]


def test_an_empty_input_with_weight_and_bias(rng):
    w = rng.standard_normal(3).astype(np.float32)
    shapes = {}
    for name, lib in libs():
        x = lib.zeros((0, 3), requires_grad=True)
        weight = lib.tensor(w, requires_grad=True)
        bias = lib.tensor(w + 1.0, requires_grad=True)
        y = lib.nn.functional.batch_norm(x, None, None, weight, bias, training=True)
        y.sum().backward()
        shapes[name] = (tuple(y.shape), weight.grad.numpy().tolist(), bias.grad.numpy().tolist())
    assert shapes["ember"] == shapes["torch"]


@pytest.mark.parametrize("training,stats", [(True, None), (True, 0), (True, 5), (False, None),
                                            (False, 5)])
def test_a_one_dim_input_raises_as_torch(training, stats):
    errors = {}
    for name, lib in libs():
        mean = None if stats is None else lib.zeros(stats)
        var = None if stats is None else lib.ones(stats)
        with pytest.raises((RuntimeError, IndexError)) as info:
            lib.nn.functional.batch_norm(lib.ones(5), mean, var, training=training)
        errors[name] = (info.type, str(info.value))
    assert errors["ember"] == errors["torch"]
