"""autograd.Function against PyTorch 1.13: each Function class is written
once and defined under both libraries. The user's backward is traced into
the same compiled program as the forward and the update (compile and run
counts), and the gradients are the ones it computes, not the derivative of
the forward (a straight-through estimator, a deliberately scaled backward)."""

import math
import types

import numpy as np
import pytest
import torch

import ember


def define(lib):
    """The Function classes of the tests, for `lib` (torch or ember)."""
    Function = lib.autograd.Function

    class LegendrePolynomial3(Function):
        # The custom-autograd tutorial's function, unchanged.
        @staticmethod
        def forward(ctx, input):
            ctx.save_for_backward(input)
            return 0.5 * (5 * input ** 3 - 3 * input)

        @staticmethod
        def backward(ctx, grad_output):
            input, = ctx.saved_tensors
            return grad_output * 1.5 * (5 * input ** 2 - 1)

    class MyReLU(Function):
        # The two-layer-net tutorial's ReLU: clone and masked assignment.
        @staticmethod
        def forward(ctx, input):
            ctx.save_for_backward(input)
            return input.clamp(min=0)

        @staticmethod
        def backward(ctx, grad_output):
            input, = ctx.saved_tensors
            grad_input = grad_output.clone()
            grad_input[input < 0] = 0
            return grad_input

    class Exp(Function):
        # torch.autograd.Function's docstring example: saves its output.
        @staticmethod
        def forward(ctx, i):
            result = i.exp()
            ctx.save_for_backward(result)
            return result

        @staticmethod
        def backward(ctx, grad_output):
            result, = ctx.saved_tensors
            return grad_output * result

    class StraightThroughRound(Function):
        # The forward's derivative is 0 almost everywhere; the backward
        # passes the gradient through.
        @staticmethod
        def forward(ctx, x):
            return x.round()

        @staticmethod
        def backward(ctx, grad_output):
            return grad_output

    class ScaledWrongSquare(Function):
        # A deliberately "wrong" backward: 3 * g instead of 2 * x * g.
        @staticmethod
        def forward(ctx, x):
            return x * x

        @staticmethod
        def backward(ctx, grad_output):
            return 3 * grad_output

    class MulAdd(Function):
        # Two tensor inputs, non-tensor arguments, attributes on ctx,
        # needs_input_grad, two outputs.
        @staticmethod
        def forward(ctx, x, w, scale, use_shift):
            ctx.scale = scale
            ctx.use_shift = use_shift
            ctx.save_for_backward(x, w)
            return x * w * scale, x + w if use_shift else x - w

        @staticmethod
        def backward(ctx, g_prod, g_sum):
            x, w = ctx.saved_tensors
            sign = 1.0 if ctx.use_shift else -1.0
            gx = gw = None
            if ctx.needs_input_grad[0]:
                gx = g_prod * w * ctx.scale + g_sum
            if ctx.needs_input_grad[1]:
                gw = g_prod * x * ctx.scale + sign * g_sum
            return gx, gw, None, None

    class MaxWithIndex(Function):
        # A non-differentiable integer output.
        @staticmethod
        def forward(ctx, x):
            values, indices = x.max(dim=1)
            ctx.mark_non_differentiable(indices)
            ctx.save_for_backward(x, indices)
            return values, indices

        @staticmethod
        def backward(ctx, g_values, g_indices):
            x, indices = ctx.saved_tensors
            one_hot = (lib.arange(x.shape[1]).unsqueeze(0) ==
                       indices.unsqueeze(1)).to(x.dtype)
            return g_values.unsqueeze(1) * one_hot

    class SplitUnmaterialized(Function):
        # set_materialize_grads(False): the unused output's grad may be None.
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(False)
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, g_a, g_b):
            grad = lib.zeros_like(g_a if g_a is not None else g_b)
            if g_a is not None:
                grad = grad + 2 * g_a
            if g_b is not None:
                grad = grad + 3 * g_b
            return grad

    class Identity(Function):
        # Returns its input as it is.
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, g):
            return 5 * g

    class TooFewGradients(Function):
        @staticmethod
        def forward(ctx, x, y):
            return x * y

        @staticmethod
        def backward(ctx, g):
            return g

    class WrongShape(Function):
        @staticmethod
        def forward(ctx, x):
            return x.sum(dim=0)

        @staticmethod
        def backward(ctx, g):
            return lib.ones(7)

    class BroadcastGradient(Function):
        # A gradient with an extra leading dim is summed down (sum_to).
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g.unsqueeze(0).expand(3, *g.shape) * 2

    class UsesWeight(Function):
        # The backward reads a tensor that is not an input.
        @staticmethod
        def forward(ctx, x, weight):
            ctx.weight = weight
            return x @ weight

        @staticmethod
        def backward(ctx, g):
            return g @ ctx.weight.t(), None

    return types.SimpleNamespace(**{k: v for k, v in locals().items()
                                    if isinstance(v, type)})


T = define(torch)
E = define(ember)


def lib_and_fns(lib):
    return (torch, T) if lib == "torch" else (ember, E)


def _np(t):
    return t.detach().numpy()


def _legendre_fit(lib, fns, steps):
    """The custom-autograd tutorial (polynomial fit with LegendrePolynomial3)."""
    dtype = lib.float
    x = lib.linspace(-math.pi, math.pi, 2000, dtype=dtype)
    y = lib.sin(x)
    a = lib.full((), 0.0, dtype=dtype, requires_grad=True)
    b = lib.full((), -1.0, dtype=dtype, requires_grad=True)
    c = lib.full((), 0.0, dtype=dtype, requires_grad=True)
    d = lib.full((), 0.3, dtype=dtype, requires_grad=True)
    learning_rate = 5e-6
    losses = []
    for t in range(steps):
        P3 = fns.LegendrePolynomial3.apply
        y_pred = a + b * P3(c + d * x)
        loss = (y_pred - y).pow(2).sum()
        if t % 10 == 9:
            losses.append(loss.item())
        loss.backward()
        with lib.no_grad():
            a -= learning_rate * a.grad
            b -= learning_rate * b.grad
            c -= learning_rate * c.grad
            d -= learning_rate * d.grad
            a.grad = None
            b.grad = None
            c.grad = None
            d.grad = None
    return losses, [p.item() for p in (a, b, c, d)]


def test_the_custom_autograd_tutorial_matches_torch():
    losses, params = _legendre_fit(ember, E, 60)
    ref_losses, ref_params = _legendre_fit(torch, T, 60)
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-4)
    np.testing.assert_allclose(params, ref_params, rtol=1e-4, atol=1e-6)


def test_a_training_loop_with_a_custom_function_compiles_once():
    ember.clear_compile_cache()
    _legendre_fit(ember, E, 10)  # a step that reads the loss, and one that does not
    warm = ember.compile_stats()
    _legendre_fit(ember, E, 30)
    after = ember.compile_stats()
    assert after["compiles"] == warm["compiles"], \
        f"{after['compiles'] - warm['compiles']} programs compiled after warm-up"


def _plain_legendre_fit(steps):
    """The same loop with the polynomial written inline (autodiff)."""
    x = ember.linspace(-math.pi, math.pi, 2000)
    y = ember.sin(x)
    params = [ember.full((), v, requires_grad=True) for v in (0.0, -1.0, 0.0, 0.3)]
    a, b, c, d = params
    for t in range(steps):
        z = c + d * x
        loss = (a + b * (0.5 * (5 * z ** 3 - 3 * z)) - y).pow(2).sum()
        if t % 10 == 9:
            loss.item()
        loss.backward()
        with ember.no_grad():
            for p in params:
                p -= 5e-6 * p.grad
                p.grad = None
    return [p.item() for p in params]


def test_the_backward_runs_inside_the_step_program():
    # No separate run for the user's backward: a step runs as many
    # programs as the same step differentiated by autodiff.
    _legendre_fit(ember, E, 10)
    before = ember.compile_stats()["graphs_run"]
    _legendre_fit(ember, E, 20)
    custom = ember.compile_stats()["graphs_run"] - before
    _plain_legendre_fit(10)
    before = ember.compile_stats()["graphs_run"]
    _plain_legendre_fit(20)
    plain = ember.compile_stats()["graphs_run"] - before
    assert custom == plain


def _two_layer_relu(lib, fns, x_np, y_np, w1_np, w2_np, steps):
    x, y = lib.tensor(x_np), lib.tensor(y_np)
    w1 = lib.tensor(w1_np, requires_grad=True)
    w2 = lib.tensor(w2_np, requires_grad=True)
    for _ in range(steps):
        relu = fns.MyReLU.apply
        y_pred = relu(x.mm(w1)).mm(w2)
        loss = (y_pred - y).pow(2).sum()
        loss.backward()
        with lib.no_grad():
            w1 -= 1e-4 * w1.grad
            w2 -= 1e-4 * w2.grad
            w1.grad.zero_()
            w2.grad.zero_()
    return loss.item(), _np(w1), _np(w2)


def test_the_relu_tutorial_matches_torch(rng):
    x = rng.standard_normal((16, 10)).astype(np.float32)
    y = rng.standard_normal((16, 3)).astype(np.float32)
    w1 = rng.standard_normal((10, 20)).astype(np.float32)
    w2 = rng.standard_normal((20, 3)).astype(np.float32)
    got = _two_layer_relu(ember, E, x, y, w1, w2, 8)
    ref = _two_layer_relu(torch, T, x, y, w1, w2, 8)
    for g, r in zip(got, ref):
        np.testing.assert_allclose(g, r, rtol=1e-4, atol=1e-4)


def _grads(lib, fns, name, inputs, upstream, args=()):
    tensors = [lib.tensor(v, requires_grad=True) for v in inputs]
    out = getattr(fns, name).apply(*tensors, *args)
    outs = out if isinstance(out, tuple) else (out,)
    total = sum((o * lib.tensor(u)).sum() for o, u in zip(outs, upstream)
                if o.requires_grad)
    total.backward()
    return [_np(o) for o in outs], [_np(t.grad) for t in tensors]


@pytest.mark.parametrize("name", ["LegendrePolynomial3", "MyReLU", "Exp",
                                  "StraightThroughRound", "ScaledWrongSquare",
                                  "BroadcastGradient", "Identity"])
def test_gradients_are_the_custom_backward(rng, name):
    x = rng.standard_normal((4, 5)).astype(np.float32) * 2
    g = rng.standard_normal((4, 5)).astype(np.float32)
    outs, grads = _grads(ember, E, name, [x], [g])
    ref_outs, ref_grads = _grads(torch, T, name, [x], [g])
    np.testing.assert_allclose(outs[0], ref_outs[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(grads[0], ref_grads[0], rtol=1e-5, atol=1e-6)


def test_the_gradient_is_not_the_forwards_derivative(rng):
    x = rng.standard_normal(6).astype(np.float32)
    _, (grad,) = _grads(ember, E, "StraightThroughRound", [x], [np.ones(6, np.float32)])
    np.testing.assert_array_equal(grad, np.ones(6))   # autodiff would give 0
    _, (grad,) = _grads(ember, E, "ScaledWrongSquare", [x], [np.ones(6, np.float32)])
    np.testing.assert_allclose(grad, np.full(6, 3.0))  # autodiff would give 2x


@pytest.mark.parametrize("use_shift", [True, False])
@pytest.mark.parametrize("needs", [(True, True), (True, False), (False, True)])
def test_two_inputs_two_outputs_and_ctx_attributes(rng, use_shift, needs):
    x = rng.standard_normal((3, 4)).astype(np.float32)
    w = rng.standard_normal((3, 4)).astype(np.float32)
    g1 = rng.standard_normal((3, 4)).astype(np.float32)
    g2 = rng.standard_normal((3, 4)).astype(np.float32)
    results = []
    for lib, fns in ((ember, E), (torch, T)):
        tx = lib.tensor(x, requires_grad=needs[0])
        tw = lib.tensor(w, requires_grad=needs[1])
        p, s = fns.MulAdd.apply(tx, tw, 0.7, use_shift)
        assert p.requires_grad and s.requires_grad
        ((p * lib.tensor(g1)).sum() + (s * lib.tensor(g2)).sum()).backward()
        results.append((_np(p), _np(s), tx.grad, tw.grad))
    for got, ref in zip(results[0], results[1]):
        if ref is None:
            assert got is None
        else:
            np.testing.assert_allclose(_np(got) if not isinstance(got, np.ndarray)
                                       else got,
                                       _np(ref) if not isinstance(ref, np.ndarray)
                                       else ref, rtol=1e-5, atol=1e-6)


def test_needs_input_grad_matches_torch():
    seen = {}
    for lib in (ember, torch):
        class Probe(lib.autograd.Function):
            @staticmethod
            def forward(ctx, a, b, c, k):
                seen[lib.__name__] = ctx.needs_input_grad
                return a * 2

            @staticmethod
            def backward(ctx, g):
                return g * 2, None, None, None

        a = lib.ones(2, requires_grad=True)
        Probe.apply(a, lib.ones(2), lib.ones(2, requires_grad=True), 3)
    assert seen["ember"] == seen["torch"] == (True, False, True, False)


def test_non_differentiable_outputs(rng):
    x = rng.standard_normal((4, 6)).astype(np.float32)
    g = rng.standard_normal(4).astype(np.float32)
    results = []
    for lib, fns in ((ember, E), (torch, T)):
        tx = lib.tensor(x, requires_grad=True)
        values, indices = fns.MaxWithIndex.apply(tx)
        assert values.requires_grad and not indices.requires_grad
        (values * lib.tensor(g)).sum().backward()
        results.append((_np(values), _np(indices), _np(tx.grad)))
    for got, ref in zip(*results):
        np.testing.assert_allclose(got, ref, rtol=1e-6)


@pytest.mark.parametrize("used", ["a", "b", "both"])
def test_set_materialize_grads(rng, used):
    x = rng.standard_normal(5).astype(np.float32)
    grads = []
    for lib, fns in ((ember, E), (torch, T)):
        tx = lib.tensor(x, requires_grad=True)
        a, b = fns.SplitUnmaterialized.apply(tx)
        loss = {"a": a.sum(), "b": (b * b).sum(), "both": (a * b).sum()}[used]
        loss.backward()
        grads.append(_np(tx.grad))
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-5)


def test_a_backward_reading_a_tensor_that_is_not_an_input(rng):
    x = rng.standard_normal((3, 4)).astype(np.float32)
    w = rng.standard_normal((4, 2)).astype(np.float32)
    grads = []
    for lib, fns in ((ember, E), (torch, T)):
        tx = lib.tensor(x, requires_grad=True)
        out = fns.UsesWeight.apply(tx, lib.tensor(w))
        (out ** 2).sum().backward()
        grads.append(_np(tx.grad))
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-5)


def test_double_backward_through_the_custom_backward(rng):
    x = rng.standard_normal(5).astype(np.float32)
    results = []
    for lib, fns in ((ember, E), (torch, T)):
        tx = lib.tensor(x, requires_grad=True)
        # Exp saves its output: the second derivative goes through Exp's
        # backward again; Legendre's backward reads its saved input.
        y = fns.Exp.apply(tx) + fns.LegendrePolynomial3.apply(tx)
        g, = lib.autograd.grad(y.sum(), tx, create_graph=True)
        g2, = lib.autograd.grad((g * g).sum(), tx)
        results.append((_np(g), _np(g2)))
    for got, ref in zip(*results):
        np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-5)


def test_a_custom_function_in_a_module_trained_with_sgd(rng):
    x = rng.standard_normal((8, 5)).astype(np.float32)
    y = rng.standard_normal((8, 1)).astype(np.float32)
    torch.manual_seed(0)
    ref_model = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Linear(7, 1))
    results = []
    for lib, fns in ((ember, E), (torch, T)):
        l1, l2 = lib.nn.Linear(5, 7), lib.nn.Linear(7, 1)
        with lib.no_grad():
            for mine, ref in zip((l1, l2), ref_model):
                mine.weight.copy_(lib.tensor(_np(ref.weight)))
                mine.bias.copy_(lib.tensor(_np(ref.bias)))
        params = list(l1.parameters()) + list(l2.parameters())
        opt = lib.optim.SGD(params, lr=0.05, momentum=0.9)
        for _ in range(6):
            opt.zero_grad()
            loss = ((l2(fns.MyReLU.apply(l1(lib.tensor(x)))) - lib.tensor(y)) ** 2).mean()
            loss.backward()
            opt.step()
        results.append([_np(p) for p in params])
    for got, ref in zip(*results):
        np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("lib", ["ember", "torch"])
def test_wrong_number_of_gradients(lib):
    lib, fns = lib_and_fns(lib)
    with pytest.raises(RuntimeError, match=r"function TooFewGradientsBackward returned an incorrect "
                       r"number of gradients \(expected 2, got 1\)"):
        x = lib.ones(3, requires_grad=True)
        fns.TooFewGradients.apply(x, lib.ones(3)).sum().backward()


@pytest.mark.parametrize("lib", ["ember", "torch"])
def test_gradient_of_the_wrong_shape(lib):
    lib, fns = lib_and_fns(lib)
    with pytest.raises(RuntimeError, match=r"Function WrongShapeBackward returned an "
                       r"invalid gradient at index 0 - got \[7\] but expected shape "
                       r"compatible with \[2, 3\]"):
        x = lib.ones(2, 3, requires_grad=True)
        fns.WrongShape.apply(x).sum().backward()


def test_a_backward_cannot_read_values():
    class ReadsValue(ember.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            if g.sum().item() > 0:
                return g
            return -g

    with pytest.raises(RuntimeError, match="traced into the compiled program"):
        ReadsValue.apply(ember.ones(3, requires_grad=True))
    # The failed trace leaves nothing behind.
    x = ember.ones(3, requires_grad=True)
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full(3, 3.0))


def test_keyword_arguments_reach_forward():
    class Scale(ember.autograd.Function):
        @staticmethod
        def forward(ctx, x, factor=1.0):
            ctx.factor = factor
            return x * factor

        @staticmethod
        def backward(ctx, g):
            return g * ctx.factor

    x = ember.ones(3, requires_grad=True)
    Scale.apply(x, factor=4.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full(3, 4.0))


def test_grad_fn_is_named_after_the_function():
    y = E.Exp.apply(ember.ones(2, requires_grad=True))
    ref = T.Exp.apply(torch.ones(2, requires_grad=True))
    assert type(ref.grad_fn).__name__ == "ExpBackward"
    assert y.grad_fn.name() == "ExpBackward"


def test_without_grad_the_outputs_have_no_history():
    x = ember.ones(3, requires_grad=True)
    with ember.no_grad():
        y = E.Exp.apply(x)
    assert not y.requires_grad and y.grad_fn is None
    z = E.Exp.apply(ember.ones(3))
    assert not z.requires_grad
    np.testing.assert_allclose(z.numpy(), np.full(3, math.e), rtol=1e-6)


def test_import_paths():
    from ember.autograd import Function, once_differentiable  # noqa: F401
    from ember.autograd.function import FunctionCtx  # noqa: F401
    assert ember.autograd.Function is Function
