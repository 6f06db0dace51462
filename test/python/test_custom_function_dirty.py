"""autograd.Function's ctx.mark_dirty against PyTorch 1.13: a forward that
modifies an input in place returns that very tensor, which then carries the
Function's history; a leaf that requires grad, or a dirty input that is
not returned, is an error."""

import numpy as np
import pytest
import torch

import ember


def define(lib):
    Function = lib.autograd.Function

    class ScaleInPlace(Function):
        # x *= 2 in place; a backward that is not the derivative (3 * g), so
        # the gradient is provably the custom one.
        @staticmethod
        def forward(ctx, x):
            x.mul_(2.0)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, grad):
            return grad * 3.0

    class AddInPlace(Function):
        # acc += w * w in place; a second, fresh output.
        @staticmethod
        def forward(ctx, acc, w):
            ctx.save_for_backward(w)
            acc.add_(w * w)
            ctx.mark_dirty(acc)
            return acc, w.sin()

        @staticmethod
        def backward(ctx, grad_acc, grad_sin):
            w, = ctx.saved_tensors
            return grad_acc, grad_acc * 2.0 * w + grad_sin * w.cos()

    class ForgetsToReturn(Function):
        @staticmethod
        def forward(ctx, x):
            x.add_(1.0)
            ctx.mark_dirty(x)
            return x * 2.0

        @staticmethod
        def backward(ctx, grad):
            return grad

    return ScaleInPlace, AddInPlace, ForgetsToReturn


FNS = {"ember": define(ember), "torch": define(torch)}


def close(a, b):
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_the_dirty_input_is_the_output_and_carries_the_history(rng):
    values = rng.standard_normal((3, 4)).astype(np.float32)
    results = {}
    for name, lib in (("ember", ember), ("torch", torch)):
        scale = FNS[name][0]
        a = lib.tensor(values, requires_grad=True)
        b = a * 1.5
        y = scale.apply(b)
        assert y is b
        assert b.requires_grad and b.grad_fn is not None
        (b.exp() * lib.tensor(values)).sum().backward()
        results[name] = (b, a.grad)
    close(results["ember"][0], results["torch"][0])
    close(results["ember"][1], results["torch"][1])


def test_a_dirty_buffer_without_grad_gains_the_functions_history(rng):
    acc_values = rng.standard_normal(5).astype(np.float32)
    w_values = rng.standard_normal(5).astype(np.float32)
    results = {}
    for name, lib in (("ember", ember), ("torch", torch)):
        add = FNS[name][1]
        acc = lib.tensor(acc_values)
        w = lib.tensor(w_values, requires_grad=True)
        out, s = add.apply(acc, w)
        assert out is acc and acc.requires_grad
        (acc * acc + s).sum().backward()
        results[name] = (acc, s, w.grad)
    for got, ref in zip(results["ember"], results["torch"]):
        close(got, ref)


def test_without_grad_the_input_is_just_modified(rng):
    values = rng.standard_normal(4).astype(np.float32)
    x = ember.tensor(values)
    y = FNS["ember"][0].apply(x)
    assert y is x and not x.requires_grad
    np.testing.assert_allclose(x.numpy(), values * 2.0, rtol=1e-6)


@pytest.mark.parametrize("name", ["ember", "torch"])
def test_a_leaf_that_requires_grad_cannot_be_dirty(name):
    lib = ember if name == "ember" else torch
    x = lib.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad has been "
                       "used in an in-place operation"):
        FNS[name][0].apply(x)


@pytest.mark.parametrize("name", ["ember", "torch"])
def test_a_dirty_input_must_be_returned(name):
    lib = ember if name == "ember" else torch
    x = lib.ones(3, requires_grad=True) * 1.0
    with pytest.raises(RuntimeError, match="Some elements marked as dirty during the "
                       "forward method were not returned as output"):
        FNS[name][2].apply(x)
