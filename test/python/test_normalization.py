"""Layer norm, RMS norm, softmax/log_softmax backward and cross-entropy,
forward and gradients, against PyTorch 1.13 (RMS norm, which torch 1.13
lacks, against the same formula composed in torch float64). On the CPU each
is one row pass forward and one backward (ember-norm-rows,
ember-softmax-rows); elsewhere primitives (ember-decompose). Row lengths 1,
7, 1000 and 1025 cover the vector loops' remainders."""

import numpy as np
import pytest
import torch

import ember
from ember import nn
from ember.nn import functional as F
from ember_testing import DEVICE, assert_close, from_array, random_array, to_numpy

# (rtol, atol relative to the largest expected magnitude) per dtype, for the
# forward and for gradients (sums over rows and columns round more).
FORWARD_TOL = {"float32": (1e-5, 1e-5), "float64": (1e-10, 1e-12),
               "float16": (1e-2, 4e-3), "bfloat16": (1.6e-2, 3e-2)}
GRAD_TOL = {"float32": (1e-4, 1e-5), "float64": (1e-9, 1e-11),
            "float16": (2e-2, 1e-2), "bfloat16": (5e-2, 4e-2)}
FLOATS = ["float32", "float64", "float16", "bfloat16"]
TORCH_DTYPES = {"float32": torch.float32, "float64": torch.float64,
                "float16": torch.float16, "bfloat16": torch.bfloat16}


def leaf(array, dtype):
    """An ember leaf on the suite's device holding `array` in `dtype`."""
    return from_array(array, dtype).requires_grad_()


def rounded(array, dtype):
    """`array`'s values as `dtype` holds them, in float64 (the reference's
    inputs are what ember sees)."""
    return torch.from_numpy(np.asarray(array, np.float64)).to(
        TORCH_DTYPES[dtype]).double().numpy()


def torch_leaf(array, dtype):
    return torch.from_numpy(rounded(array, dtype)).requires_grad_()


def check(actual, expected, dtype, tol):
    """ember `actual` against float64 torch `expected` within `tol[dtype]`."""
    rtol, atol = tol[dtype]
    want = expected.detach().double().numpy()
    scale = max(1.0, float(np.abs(want).max(initial=0.0)))
    got = to_numpy(actual).astype(np.float64)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol * scale)


def run_both(rng, dtype, ember_fn, torch_fn, arrays, out_shape):
    """Runs `ember_fn` on ember leaves and `torch_fn` on float64 torch leaves
    of the same (rounded) values, backpropagates one random cotangent
    through both; returns (ember out, torch out, ember leaves, torch leaves)."""
    xs = [leaf(a, dtype) if a is not None else None for a in arrays]
    ts = [torch_leaf(a, dtype) if a is not None else None for a in arrays]
    out = ember_fn(*xs)
    expected = torch_fn(*ts)
    cotangent = random_array(rng, out_shape, dtype)
    out.backward(from_array(cotangent, dtype))
    expected.backward(torch.from_numpy(rounded(cotangent, dtype)))
    return out, expected, xs, ts


def check_grads(xs, ts, dtype):
    for i, (x, t) in enumerate(zip(xs, ts)):
        if x is None:
            continue
        assert x.grad is not None, f"input {i} got no gradient"
        assert x.grad.dtype == x.dtype
        check(x.grad, t.grad, dtype, GRAD_TOL)


LAYER_NORM_SHAPES = [
    ((5, 1), (1,)),
    ((3, 7), (7,)),
    ((7,), (7,)),
    ((4, 1000), (1000,)),
    ((3, 1025), (1025,)),
    ((2, 3, 4, 5), (4, 5)),
    ((2, 3, 7), (3, 7)),
]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape,normalized_shape", LAYER_NORM_SHAPES,
                         ids=[f"{s}-{n}" for s, n in LAYER_NORM_SHAPES])
@pytest.mark.parametrize("affine", ["weight_bias", "weight", "none"])
def test_layer_norm_forward_and_gradients(rng, dtype, shape, normalized_shape, affine):
    x = random_array(rng, shape, "float64") * 2 + 0.5
    w = random_array(rng, normalized_shape, "float64", 0.5, 1.5) if affine != "none" else None
    b = random_array(rng, normalized_shape, "float64") if affine == "weight_bias" else None
    out, expected, xs, ts = run_both(
        rng, dtype,
        lambda x, w, b: F.layer_norm(x, normalized_shape, w, b, eps=1e-5),
        lambda x, w, b: torch.nn.functional.layer_norm(x, normalized_shape, w, b, eps=1e-5),
        [x, w, b], shape)
    assert out.dtype == getattr(ember, dtype) and tuple(out.shape) == shape
    check(out, expected, dtype, FORWARD_TOL)
    check_grads(xs, ts, dtype)


def test_layer_norm_eps_is_part_of_the_program(rng):
    """Two eps values on the same shapes give their own results (eps is
    compiled into the program, so it must be in the cache key)."""
    x = random_array(rng, (3, 4), "float32", -1e-3, 1e-3)
    tx = torch.from_numpy(x.astype(np.float64))
    for eps in (1e-5, 1.0):
        got = F.layer_norm(from_array(x), (4,), eps=eps)
        check(got, torch.nn.functional.layer_norm(tx, (4,), eps=eps), "float32", FORWARD_TOL)


def test_layer_norm_module_keeps_factory_kwargs_and_matches_torch(rng):
    m = nn.LayerNorm((3, 4), eps=1e-3, dtype=ember.float64)
    assert m.weight.dtype == ember.float64 and m.bias.dtype == ember.float64
    assert [name for name, _ in m.named_parameters()] == ["weight", "bias"]
    t = torch.nn.LayerNorm((3, 4), eps=1e-3, dtype=torch.float64)
    x = random_array(rng, (2, 3, 4), "float64")
    m = m.to(DEVICE) if DEVICE != "cpu" else m
    check(m(from_array(x)), t(torch.from_numpy(x)), "float64", FORWARD_TOL)


def test_layer_norm_rejects_mismatched_weight():
    with pytest.raises(RuntimeError, match="Expected weight to be of same shape"):
        F.layer_norm(ember.ones(2, 3), (3,), ember.ones(4))


def rms_norm_reference(x, normalized_shape, weight, eps):
    """torch 2.4's rms_norm, composed (torch 1.13 lacks it)."""
    dims = tuple(range(x.dim() - len(normalized_shape), x.dim()))
    if eps is None:
        eps = torch.finfo(x.dtype).eps
    y = x * torch.rsqrt((x * x).mean(dims, keepdim=True) + eps)
    return y if weight is None else y * weight


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape,normalized_shape", LAYER_NORM_SHAPES,
                         ids=[f"{s}-{n}" for s, n in LAYER_NORM_SHAPES])
@pytest.mark.parametrize("with_weight", [True, False])
def test_rms_norm_forward_and_gradients(rng, dtype, shape, normalized_shape, with_weight):
    x = random_array(rng, shape, "float64") + 0.25
    w = random_array(rng, normalized_shape, "float64", 0.5, 1.5) if with_weight else None
    eps = 1e-6
    out, expected, xs, ts = run_both(
        rng, dtype,
        lambda x, w: F.rms_norm(x, normalized_shape, w, eps=eps),
        lambda x, w: rms_norm_reference(x, normalized_shape, w, eps),
        [x, w], shape)
    check(out, expected, dtype, FORWARD_TOL)
    check_grads(xs, ts, dtype)


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_rms_norm_default_eps_is_the_dtypes_epsilon(rng, dtype):
    """eps=None is finfo(dtype).eps, which matters for rows near zero."""
    x = random_array(rng, (3, 8), dtype, -0.03, 0.03)
    expected = rms_norm_reference(torch.from_numpy(x.astype(np.float64)), (8,), None,
                                  torch.finfo(TORCH_DTYPES[dtype]).eps)
    check(F.rms_norm(from_array(x, dtype), (8,)), expected, dtype, FORWARD_TOL)


def test_rms_norm_module(rng):
    m = nn.RMSNorm(6, dtype=ember.float64)
    assert [name for name, _ in m.named_parameters()] == ["weight"]
    np.testing.assert_array_equal(to_numpy(m.weight), 1)
    assert nn.RMSNorm(6, elementwise_affine=False).weight is None
    x = random_array(rng, (4, 6), "float64")
    m = m.to(DEVICE) if DEVICE != "cpu" else m
    check(m(from_array(x)), rms_norm_reference(torch.from_numpy(x), (6,), None, None),
          "float64", FORWARD_TOL)


SOFTMAX_CASES = [
    ((3, 1), -1), ((4, 7), -1), ((2, 1000), -1), ((2, 1025), -1), ((9,), 0),
    ((2, 3, 5), -1), ((2, 3, 5), 1), ((2, 3, 5), 0), ((4, 7), 0),
]


@pytest.mark.parametrize("log", [False, True], ids=["softmax", "log_softmax"])
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape,dim", SOFTMAX_CASES,
                         ids=[f"{s}-dim{d}" for s, d in SOFTMAX_CASES])
def test_softmax_backward(rng, log, dtype, shape, dim):
    x = random_array(rng, shape, "float64")
    name = "log_softmax" if log else "softmax"
    out, expected, xs, ts = run_both(
        rng, dtype,
        lambda x: getattr(F, name)(x, dim),
        lambda x: getattr(torch.nn.functional, name)(x, dim),
        [x], shape)
    check(out, expected, dtype, FORWARD_TOL)
    check_grads(xs, ts, dtype)


CROSS_ENTROPY_CASES = [
    ((8, 10), {}),
    ((6, 1025), {}),
    ((5, 7), {"label_smoothing": 0.1}),
    ((5, 7), {"reduction": "sum"}),
    ((4, 5, 3), {}),
    ((4, 5, 3), {"reduction": "none", "ignore_index": 2}),
    ((7,), {}),
    ((7,), {"reduction": "none"}),
]


@pytest.mark.parametrize("shape,kwargs", CROSS_ENTROPY_CASES,
                         ids=[f"{s}-{k}" for s, k in CROSS_ENTROPY_CASES])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cross_entropy_forward_and_backward(rng, shape, kwargs, dtype):
    logits = random_array(rng, shape, "float64") * 2
    classes = shape[0] if len(shape) == 1 else shape[1]
    target_shape = () if len(shape) == 1 else (shape[0],) + tuple(shape[2:])
    target = np.asarray(rng.integers(0, classes, size=target_shape), np.int64)
    if kwargs.get("ignore_index") == 2:
        target.reshape(-1)[::3] = 2
    out, expected, xs, ts = run_both(
        rng, dtype,
        lambda x: F.cross_entropy(x, from_array(target), **kwargs),
        lambda x: torch.nn.functional.cross_entropy(x, torch.from_numpy(target), **kwargs),
        [logits], target.shape if kwargs.get("reduction") == "none" else ())
    check(out, expected, dtype, FORWARD_TOL)
    check_grads(xs, ts, dtype)


# (N, C) logits (every float dtype) with int64 targets: on the CPU one cross_entropy_rows op
# (a row pass forward, one backward); rows of 1, 7, 1000, 1025 classes,
# some targets ignore_index, every reduction, with and without weights.
ROW_CLASSES = [1, 7, 1000, 1025]


@pytest.mark.parametrize("classes", ROW_CLASSES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("ignore_index", [-100, 0, 3])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", FLOATS)
def test_cross_entropy_rows(rng, classes, reduction, ignore_index, weighted, dtype):
    rows = 9
    logits = random_array(rng, (rows, classes), "float64") * 2
    target = rng.integers(0, classes, size=rows).astype(np.int64)
    if ignore_index < classes:
        target[[1, 4]] = ignore_index
    weight = random_array(rng, (classes,), dtype, 0.5, 1.5) if weighted else None
    kwargs = {"reduction": reduction, "ignore_index": ignore_index}
    out, expected, xs, ts = run_both(
        rng, dtype,
        lambda x: F.cross_entropy(
            x, from_array(target),
            weight=None if weight is None else from_array(weight, dtype), **kwargs),
        lambda x: torch.nn.functional.cross_entropy(
            x, torch.from_numpy(target),
            weight=None if weight is None else torch_leaf(weight, dtype).detach(),
            **kwargs),
        [logits], (rows,) if reduction == "none" else ())
    check(out, expected, dtype, FORWARD_TOL)
    check_grads(xs, ts, dtype)


def test_cross_entropy_module_takes_the_rows_op(rng):
    logits = random_array(rng, (6, 11), "float32")
    target = rng.integers(0, 11, size=6).astype(np.int64)
    out, expected, xs, ts = run_both(
        rng, "float32",
        lambda x: nn.CrossEntropyLoss(reduction="sum")(x, from_array(target)),
        lambda x: torch.nn.CrossEntropyLoss(reduction="sum")(x, torch.from_numpy(target)),
        [logits], ())
    check(out, expected, "float32", FORWARD_TOL)
    check_grads(xs, ts, "float32")


CROSS_ENTROPY_STEP = """
import numpy as np, ember
from ember.nn import functional as F
x = ember.tensor(np.random.rand(64, 1000).astype(np.float32)).requires_grad_()
t = ember.tensor(np.random.randint(0, 1000, 64))
F.cross_entropy(x, t).backward()
print(x.grad.numpy().shape)
"""


@pytest.mark.skipif(DEVICE != "cpu", reason="the CPU's row lowering")
def test_cross_entropy_reads_the_logits_in_row_ops_only(tmp_path):
    """The traced graph (EMBER_DEBUG=4) of a loss's gradient: the ops on
    the (N, C) logits are cross_entropy_rows and cross_entropy_rows_backward
    (each one row kernel; the forward is dead when only the gradient is
    read), not log_softmax plus a one-hot select and sum."""
    import os
    import subprocess
    import sys
    env = dict(os.environ, EMBER_DEBUG="4", EMBER_CACHE_DIR=str(tmp_path))
    done = subprocess.run([sys.executable, "-c", CROSS_ENTROPY_STEP], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    graphs = done.stderr.split("func.func @graph")[1:]
    assert len(graphs) == 1, done.stderr
    body = graphs[0].split("\n  }")[0]
    on_logits = sorted({line.split("=", 1)[1].split()[0] for line in body.splitlines()
                        if line.strip().startswith("%") and "x?xf32>" in line
                        and "ember." in line})
    assert on_logits == ["ember.cross_entropy_rows", "ember.cross_entropy_rows_backward",
                         "ember.reshape"], body


@pytest.mark.skipif(DEVICE != "cpu", reason="the CPU's thread pool")
@pytest.mark.parametrize("rows", [3, 257])
def test_rows_split_over_threads_give_the_same_bits(rng, rows):
    """The row loops are parallel: on 1, 2 and 3 threads every row is still
    computed by one thread, so forward and gradients are bitwise equal, and
    match torch."""
    x = random_array(rng, (rows, 1025), "float32")
    w = random_array(rng, (1025,), "float32", 0.5, 1.5)
    b = random_array(rng, (1025,), "float32")
    g = random_array(rng, (rows, 1025), "float32")
    target = rng.integers(0, 1025, size=rows).astype(np.int64)
    target[::5] = -100
    before = ember.get_num_threads()
    results = []
    try:
        for threads in (1, 2, 3):
            ember.set_num_threads(threads)
            xs = [leaf(a, "float32") for a in (x, w, b)]
            outs = [F.layer_norm(xs[0], (1025,), xs[1], xs[2]),
                    F.rms_norm(xs[0], (1025,), xs[1]),
                    F.softmax(xs[0], -1), F.log_softmax(xs[0], -1),
                    F.cross_entropy(xs[0], from_array(target), reduction="none")]
            total = sum((o * from_array(g if o.dim() == 2 else g[:, 0])).sum()
                        for o in outs)
            total.backward()
            results.append([to_numpy(t) for t in outs + [v.grad for v in xs]])
    finally:
        ember.set_num_threads(before)
    for threads, result in zip((2, 3), results[1:]):
        for got, want in zip(result, results[0]):
            np.testing.assert_array_equal(got, want, err_msg=f"{threads} threads")
    ts = [torch_leaf(a, "float32") for a in (x, w, b)]
    touts = [torch.nn.functional.layer_norm(ts[0], (1025,), ts[1], ts[2]),
             rms_norm_reference(ts[0], (1025,), ts[1], None),
             torch.softmax(ts[0], -1), torch.log_softmax(ts[0], -1),
             torch.nn.functional.cross_entropy(ts[0], torch.from_numpy(target),
                                               reduction="none")]
    g64 = g.astype(np.float64)
    sum((o * torch.from_numpy(g64 if o.dim() == 2 else g64[:, 0])).sum()
        for o in touts).backward()
    for got, want in zip(results[0], touts + [t.grad for t in ts]):
        scale = max(1.0, float(want.detach().abs().max()))
        np.testing.assert_allclose(got, want.detach().numpy(), rtol=1e-4, atol=1e-5 * scale)
