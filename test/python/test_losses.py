"""Every loss of ember.nn against torch 1.13: the functional and the module,
each reduction, the options torch has (weights, pos_weight, ignore_index,
label_smoothing, probability targets, log_target, full, swap, blank,
zero_infinity), the gradients of every floating input, the legacy
size_average/reduce pair, reprs, buffers and errors. Runs on the suite's
device (test_losses_on_vulkan)."""

import numpy as np
import pytest
import torch

import ember
from ember import nn
from ember_testing import DEVICE, assert_close, from_array, to_numpy

RTOL, ATOL = 1e-4, 1e-5
# On a device (the lavapipe sweep takes ~4 s a graph) the element-wise
# reduction only: "mean" and "sum" add one reduction, covered on the CPU.
REDUCTIONS = ["none", "mean", "sum"] if DEVICE == "cpu" else ["none"]


def _f(lib):
    return lib.nn.functional


def run(rng, fn, diff, const=(), rtol=RTOL, atol=ATOL):
    """``fn(lib, *diff, *const)`` for ember and torch on the same values;
    compares the outputs, backpropagates one random cotangent and compares
    the gradients of the ``diff`` (float32) inputs."""
    xs = [from_array(np.asarray(a, np.float32)).requires_grad_() for a in diff]
    ts = [torch.tensor(np.asarray(a, np.float32), requires_grad=True) for a in diff]
    ec = [from_array(c) if isinstance(c, np.ndarray) else c for c in const]
    tc = [torch.from_numpy(c.copy()) if isinstance(c, np.ndarray) else c for c in const]
    out = fn(ember, *xs, *ec)
    expected = fn(torch, *ts, *tc)
    assert_close(out, expected, rtol=rtol, atol=atol)
    cotangent = rng.standard_normal(tuple(expected.shape)).astype(np.float32)
    (out * from_array(cotangent)).sum().backward()
    (expected * torch.from_numpy(cotangent)).sum().backward()
    for i, (x, t) in enumerate(zip(xs, ts)):
        if t.grad is None:
            continue
        assert x.grad is not None, f"input {i} got no gradient"
        np.testing.assert_allclose(to_numpy(x.grad), t.grad.numpy(), rtol=rtol,
                                   atol=atol * 10, err_msg=f"gradient of input {i}")
    return out


def signs(rng, shape):
    return np.where(rng.random(shape) < 0.5, -1.0, 1.0).astype(np.float32)


def probs(rng, shape, low=0.05, high=0.95):
    return rng.uniform(low, high, shape).astype(np.float32)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_regression_losses(rng, reduction):
    x, y = rng.standard_normal((2, 4, 5)) * 2
    run(rng, lambda m, a, b: _f(m).l1_loss(a, b, reduction=reduction), [x, y])
    run(rng, lambda m, a, b: _f(m).mse_loss(a, b, reduction=reduction), [x, y])
    for beta in (1.0, 0.5, 0.0):
        run(rng, lambda m, a, b: _f(m).smooth_l1_loss(a, b, reduction=reduction, beta=beta),
            [x, y])
    for delta in (1.0, 1.5):
        run(rng, lambda m, a, b: _f(m).huber_loss(a, b, reduction=reduction, delta=delta),
            [x, y])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy(rng, reduction):
    p, t = probs(rng, (6, 3)), probs(rng, (6, 3), 0.0, 1.0)
    w = rng.uniform(0.5, 2.0, (3,)).astype(np.float32)
    run(rng, lambda m, a, b: _f(m).binary_cross_entropy(a, b, reduction=reduction), [p, t])
    run(rng, lambda m, a, b, c: _f(m).binary_cross_entropy(a, b, c, reduction=reduction),
        [p, t], [w])
    logits = rng.standard_normal((6, 3)) * 4
    run(rng, lambda m, a, b: _f(m).binary_cross_entropy_with_logits(a, b, reduction=reduction),
        [logits, t])
    run(rng, lambda m, a, b, c, d: _f(m).binary_cross_entropy_with_logits(
        a, b, c, reduction=reduction, pos_weight=d), [logits, t], [w, w[::-1].copy()])


@pytest.mark.parametrize("reduction", REDUCTIONS + ["batchmean"] * (DEVICE == "cpu"))
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(rng, reduction, log_target):
    x = np.log(probs(rng, (4, 5)))
    t = probs(rng, (4, 5))
    t[0, 1] = 0.0  # 0 * log 0 counts as 0
    if log_target:
        t = np.log(probs(rng, (4, 5)))
    # torch's gradient for a zero target is NaN (xlogy's derivative), so
    # only a log-space target is differentiated.
    diff, const = ([x, t], []) if log_target else ([x], [t])
    run(rng, lambda m, a, b: _f(m).kl_div(a, b, reduction=reduction, log_target=log_target),
        diff, const)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_poisson_and_gaussian_nll(rng, reduction):
    target = rng.integers(0, 6, (4, 3)).astype(np.float32)
    x = rng.standard_normal((4, 3))
    for full in (False, True):
        run(rng, lambda m, a, b: _f(m).poisson_nll_loss(a, b, full=full, reduction=reduction),
            [x], [target])
        run(rng, lambda m, a, b: _f(m).poisson_nll_loss(a, b, log_input=False, full=full,
                                                         reduction=reduction),
            [np.exp(x)], [target])
    mean, y = rng.standard_normal((2, 4, 3))
    for var_shape in [(4, 3), (4, 1), (4,)]:
        var = rng.uniform(0.2, 2.0, var_shape)
        for full in (False, True):
            run(rng, lambda m, a, b, v: _f(m).gaussian_nll_loss(a, b, v, full=full,
                                                                 reduction=reduction),
                [mean, y, var])
    # A variance under eps is clamped, but the gradient passes as if it were not.
    run(rng, lambda m, a, b, v: _f(m).gaussian_nll_loss(a, b, v, eps=1e-2, reduction=reduction),
        [mean, y, np.full((4, 3), 1e-3)], rtol=1e-3)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_margin_losses(rng, reduction):
    a, b = rng.standard_normal((2, 5, 4))
    target = signs(rng, (5,))
    run(rng, lambda m, x, y, t: _f(m).cosine_embedding_loss(x, y, t, margin=0.2,
                                                            reduction=reduction),
        [a, b], [target])
    run(rng, lambda m, x, y, t: _f(m).margin_ranking_loss(x, y, t, margin=0.1,
                                                          reduction=reduction),
        [a[:, 0], b[:, 0]], [target])
    run(rng, lambda m, x, t: _f(m).soft_margin_loss(x, t, reduction=reduction),
        [a], [signs(rng, (5, 4))])
    run(rng, lambda m, x, t: _f(m).hinge_embedding_loss(x, t, margin=1.5, reduction=reduction),
        [a], [signs(rng, (5, 4))])
    labels = (rng.random((5, 4)) < 0.5).astype(np.float32)
    weight = rng.uniform(0.5, 2, (4,)).astype(np.float32)
    run(rng, lambda m, x, t: _f(m).multilabel_soft_margin_loss(x, t, reduction=reduction),
        [a], [labels])
    run(rng, lambda m, x, t, w: _f(m).multilabel_soft_margin_loss(x, t, w,
                                                                  reduction=reduction),
        [a], [labels, weight])
    classes = rng.integers(0, 4, (5,))
    for p in (1, 2):
        run(rng, lambda m, x, t: _f(m).multi_margin_loss(x, t, p=p, margin=0.7,
                                                         reduction=reduction),
            [a], [classes])
        run(rng, lambda m, x, t, w: _f(m).multi_margin_loss(x, t, p=p, weight=w,
                                                            reduction=reduction),
            [a], [classes, weight])
    multilabel = np.array([[3, 0, -1, 1], [0, 1, 2, 3], [-1, 1, 2, 0], [2, -1, 3, 3],
                           [1, 3, -1, -1]], dtype=np.int64)
    run(rng, lambda m, x, t: _f(m).multilabel_margin_loss(x, t, reduction=reduction),
        [a], [multilabel])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_triplet_losses(rng, reduction):
    anchor, positive, negative = rng.standard_normal((3, 6, 4))
    for p, swap in [(2, False), (1, True), (3, False)]:
        run(rng, lambda m, a, b, c: _f(m).triplet_margin_loss(a, b, c, margin=0.5, p=p,
                                                              swap=swap, reduction=reduction),
            [anchor, positive, negative])
    run(rng, lambda m, a, b, c: _f(m).triplet_margin_with_distance_loss(
        a, b, c, swap=True, reduction=reduction), [anchor, positive, negative])
    run(rng, lambda m, a, b, c: _f(m).triplet_margin_with_distance_loss(
        a, b, c, distance_function=lambda u, v: ((u - v) ** 2).sum(-1), margin=2.0,
        reduction=reduction), [anchor, positive, negative])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_and_cross_entropy_options(rng, reduction):
    logits = rng.standard_normal((6, 4)) * 2
    target = np.array([0, 3, 1, 1, 2, 3], dtype=np.int64)
    weight = rng.uniform(0.5, 2.0, (4,)).astype(np.float32)
    logp = np.log(np.exp(logits) / np.exp(logits).sum(1, keepdims=True))
    run(rng, lambda m, x, t, w: _f(m).nll_loss(x, t, w, ignore_index=1, reduction=reduction),
        [logp], [target, weight])
    for smoothing in (0.0, 0.2):
        run(rng, lambda m, x, t, w: _f(m).cross_entropy(
            x, t, w, ignore_index=3, reduction=reduction, label_smoothing=smoothing),
            [logits], [target, weight])
        run(rng, lambda m, x, t: _f(m).cross_entropy(x, t, reduction=reduction,
                                                     label_smoothing=smoothing),
            [logits], [target])
    # Class probabilities as targets, with weights and smoothing.
    soft = probs(rng, (6, 4))
    soft /= soft.sum(1, keepdims=True)
    run(rng, lambda m, x, t, w: _f(m).cross_entropy(x, t, w, reduction=reduction,
                                                    label_smoothing=0.1),
        [logits], [soft, weight])
    # Spatial (N, C, d1, d2) inputs.
    image = rng.standard_normal((2, 3, 4, 5))
    pixels = rng.integers(0, 3, (2, 4, 5))
    run(rng, lambda m, x, t, w: _f(m).cross_entropy(x, t, w, ignore_index=2,
                                                    reduction=reduction),
        [image], [pixels, weight[:3].copy()])
    run(rng, lambda m, x, t: _f(m).cross_entropy(x, t, reduction=reduction,
                                                 label_smoothing=0.3),
        [image], [pixels])


def _ctc_inputs(rng, T=10, N=3, C=5, S=4):
    logits = rng.standard_normal((T, N, C))
    targets = rng.integers(1, C, (N, S))
    targets[0, 1] = targets[0, 0]  # a repeated label needs a blank between
    return logits, targets, np.array([T, T - 2, 6]), np.array([S, 2, 3])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_ctc_loss(rng, reduction):
    logits, targets, input_lengths, target_lengths = _ctc_inputs(rng)

    def ctc(m, x, t, il, tl, **kwargs):
        f = _f(m)
        return f.ctc_loss(f.log_softmax(x, 2), t, il, tl, reduction=reduction, **kwargs)

    run(rng, ctc, [logits], [targets, input_lengths, target_lengths])
    # 1-D concatenated targets, lengths as tuples, another blank.
    flat = np.concatenate([targets[b, :n] for b, n in enumerate(target_lengths)])
    flat = np.where(flat == 4, 0, flat)
    run(rng, lambda m, x, t: ctc(m, x, t, tuple(input_lengths), tuple(target_lengths),
                                 blank=4), [logits], [flat])


def test_ctc_loss_impossible_alignment_and_unbatched(rng):
    logits = rng.standard_normal((3, 2, 4))
    targets = np.array([[1, 2, 3, 1], [1, 1, 1, 1]])
    lengths = np.array([3, 3])
    lp = torch.log_softmax(torch.from_numpy(logits).float(), 2)
    out = nn.functional.ctc_loss(from_array(lp.numpy()), from_array(targets),
                                 from_array(lengths), from_array(np.array([4, 1])),
                                 reduction="none")
    expected = torch.nn.functional.ctc_loss(lp, torch.from_numpy(targets),
                                            torch.from_numpy(lengths),
                                            torch.tensor([4, 1]), reduction="none")
    assert_close(out, expected)
    assert np.isinf(to_numpy(out)[0])

    def ctc(m, x, t, il, tl):
        f = _f(m)
        return f.ctc_loss(f.log_softmax(x, -1), t, il, tl, zero_infinity=True)

    run(rng, ctc, [logits], [targets, lengths, np.array([4, 1])])
    run(rng, lambda m, x, t, il, tl: _f(m).ctc_loss(_f(m).log_softmax(x, -1), t, il, tl,
                                                    reduction="none"),
        [logits[:, 0]], [targets[1, :2].copy(), np.array([3]), np.array([2])])


LOSS_MODULES = [
    ("L1Loss", {}, "float2"),
    ("MSELoss", {"reduction": "sum"}, "float2"),
    ("SmoothL1Loss", {"beta": 0.5}, "float2"),
    ("HuberLoss", {"delta": 0.7, "reduction": "none"}, "float2"),
    ("BCELoss", {}, "prob"),
    ("BCEWithLogitsLoss", {}, "logit"),
    ("KLDivLoss", {"reduction": "batchmean", "log_target": True}, "float2"),
    ("PoissonNLLLoss", {"full": True}, "count"),
    ("GaussianNLLLoss", {"full": True}, "var"),
    ("SoftMarginLoss", {}, "sign"),
    ("HingeEmbeddingLoss", {"margin": 0.5}, "sign"),
    ("MultiLabelSoftMarginLoss", {}, "logit"),
    ("CosineEmbeddingLoss", {"margin": 0.1}, "sign_rows"),
    ("MarginRankingLoss", {"margin": 0.2}, "sign_pairs"),
    ("TripletMarginLoss", {"margin": 0.4, "swap": True}, "float3"),
    ("MultiMarginLoss", {"p": 2}, "class"),
    ("NLLLoss", {"ignore_index": 0}, "class"),
    ("CrossEntropyLoss", {"label_smoothing": 0.1}, "class"),
    ("CTCLoss", {"blank": 0, "zero_infinity": True}, "ctc"),
]


def _module_inputs(rng, kind):
    """(floating inputs, other inputs) for a loss module of input ``kind``."""
    def normal(*shape):
        return rng.standard_normal(shape).astype(np.float32)

    if kind == "ctc":
        logits, targets, il, tl = _ctc_inputs(rng)
        logp = np.log(np.exp(logits) / np.exp(logits).sum(-1, keepdims=True))
        return [logp], [targets, il, tl]
    return {
        "float2": lambda: ([normal(4, 5), normal(4, 5)], []),
        "float3": lambda: ([normal(4, 5), normal(4, 5), normal(4, 5)], []),
        "prob": lambda: ([probs(rng, (4, 5))], [probs(rng, (4, 5), 0, 1)]),
        "logit": lambda: ([normal(4, 5)], [probs(rng, (4, 5), 0, 1)]),
        "count": lambda: ([normal(4, 5)], [rng.integers(0, 5, (4, 5)).astype(np.float32)]),
        "var": lambda: ([normal(4, 5), normal(4, 5), rng.uniform(0.5, 2, (4, 5))], []),
        "sign": lambda: ([normal(4, 5)], [signs(rng, (4, 5))]),
        "sign_rows": lambda: ([normal(4, 5), normal(4, 5)], [signs(rng, (4,))]),
        "sign_pairs": lambda: ([normal(4), normal(4)], [signs(rng, (4,))]),
        "class": lambda: ([normal(4, 5)], [rng.integers(0, 5, (4,))]),
    }[kind]()


@pytest.mark.parametrize("name,kwargs,kind", LOSS_MODULES,
                         ids=[case[0] for case in LOSS_MODULES])
def test_loss_modules(rng, name, kwargs, kind):
    diff, const = _module_inputs(rng, kind)
    ember_loss = getattr(nn, name)(**kwargs)
    torch_loss = getattr(torch.nn, name)(**kwargs)
    assert repr(ember_loss) == repr(torch_loss)
    assert ember_loss.reduction == torch_loss.reduction

    def call(m, first, *rest):
        # torch's CTC gradient assumes log_probs come from log_softmax (it
        # differs from the exact one by exp(log_probs)): compare through it.
        if kind == "ctc":
            first = _f(m).log_softmax(first, -1)
        return (ember_loss if m is ember else torch_loss)(first, *rest)

    run(rng, call, diff, const)


def test_weighted_loss_modules_register_weight_buffers(rng):
    weight = rng.uniform(0.5, 2, (5,)).astype(np.float32)
    for name in ("NLLLoss", "CrossEntropyLoss", "BCELoss", "MultiLabelSoftMarginLoss",
                 "MultiMarginLoss"):
        ember_loss = getattr(nn, name)(weight=from_array(weight))
        torch_loss = getattr(torch.nn, name)(weight=torch.from_numpy(weight))
        assert list(ember_loss.state_dict()) == list(torch_loss.state_dict()) == ["weight"]
    ember_loss = nn.BCEWithLogitsLoss(pos_weight=from_array(weight))
    torch_loss = torch.nn.BCEWithLogitsLoss(pos_weight=torch.from_numpy(weight))
    assert list(ember_loss.state_dict()) == list(torch_loss.state_dict()) == ["pos_weight"]
    assert list(nn.BCEWithLogitsLoss()._buffers) == ["weight", "pos_weight"]


@pytest.mark.parametrize("size_average,reduce", [(None, False), (False, None), (True, True),
                                                 (False, True), (True, False)])
def test_legacy_size_average_and_reduce(rng, size_average, reduce):
    with pytest.warns(UserWarning):
        expected = torch.nn.L1Loss(size_average, reduce).reduction
    assert nn.L1Loss(size_average, reduce).reduction == expected
    assert nn.NLLLoss(None, size_average, -100, reduce).reduction == expected
    x, y = rng.standard_normal((2, 3, 4))
    run(rng, lambda m, a, b: _f(m).mse_loss(a, b, size_average, reduce), [x, y])


def test_loss_errors(rng):
    x = from_array(probs(rng, (3, 4)))
    with pytest.raises(ValueError, match="target size"):
        nn.functional.binary_cross_entropy(x, from_array(probs(rng, (3, 1))))
    with pytest.raises(ValueError, match="Target size"):
        nn.functional.binary_cross_entropy_with_logits(x, from_array(probs(rng, (4,))))
    with pytest.raises(ValueError, match="var is of incorrect size"):
        nn.GaussianNLLLoss()(x, x, from_array(probs(rng, (2, 4))))
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        nn.functional.l1_loss(x, x, reduction="avg")
    with pytest.raises(ValueError, match="margin to be greater than 0"):
        nn.TripletMarginLoss(margin=0.0)
    with pytest.raises(ValueError, match="only p == 1 and p == 2"):
        nn.MultiMarginLoss(p=3)


@pytest.mark.skipif(DEVICE != "cpu", reason="counts the CPU's compiled programs")
def test_ctc_program_is_reused_across_lengths_and_batches(rng):
    def run(batch, width, input_lengths, target_lengths):
        x = from_array(rng.standard_normal((12, batch, 6)).astype(np.float32))
        x.requires_grad_()
        targets = from_array(rng.integers(1, 6, (batch, width)))
        loss = nn.functional.ctc_loss(nn.functional.log_softmax(x, 2), targets,
                                      input_lengths, target_lengths)
        loss.backward()
        return to_numpy(x.grad)

    run(3, 4, [12, 10, 7], [4, 2, 3])
    before = ember.compile_stats()["compiles"]
    run(3, 5, [12, 10, 7], [4, 2, 3])
    run(4, 5, [12, 10, 7, 6], [4, 2, 3, 3])
    run(4, 5, [12, 12, 12, 12], [4, 1, 3, 3])
    assert ember.compile_stats()["compiles"] == before
