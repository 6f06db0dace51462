"""The ember.conv dialect op on the CPU (f32): F.conv*d and
F.conv_transpose*d trace one op each (no im2col composite), the op's
gradients match PyTorch 1.13 to first and second order, strided input
views are read in place, and a training loop compiles a fixed number of
programs. (test_conv.py covers the argument sweep in f32 through the op
and in f64 through the composite.)"""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import ember
from ember import nn
from ember.nn import functional as F
from ember_testing import DEVICE, from_array, to_numpy

pytestmark = pytest.mark.skipif(DEVICE != "cpu", reason="the op is traced on the CPU only")

RTOL, ATOL = 1e-4, 1e-4


def check(actual, expected):
    want = expected.detach().double().numpy()
    got = to_numpy(actual).astype(np.float64)
    assert got.shape == want.shape
    scale = max(1.0, float(np.abs(want).max(initial=0.0)))
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL * scale)


def test_traced_graph_is_one_conv_op():
    """The forward and backward of a strided conv2d and a conv_transpose2d
    reach the compiler as the three conv ops: no gather, matmul or stack
    of windows."""
    script = (
        "import numpy as np, ember\n"
        "from ember.nn import functional as F\n"
        "r = np.random.default_rng(0)\n"
        "x = ember.from_numpy(r.standard_normal((2, 3, 9, 8)).astype(np.float32)).requires_grad_()\n"
        "w = ember.from_numpy(r.standard_normal((4, 3, 3, 3)).astype(np.float32)).requires_grad_()\n"
        "y = F.conv_transpose2d(F.conv2d(x, w, stride=2, padding=1), w, stride=2)\n"
        "y.sum().backward()\n"
        "print(float(x.grad.sum()) + float(w.grad.sum()))\n")
    env = dict(os.environ, EMBER_DUMP_GRAPHS="1")
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                            text=True, timeout=120, check=True)
    ir = result.stderr
    assert "ember.conv " in ir and "ember.conv_backward_data" in ir
    assert "ember.conv_backward_weight" in ir
    for composite in ("ember.matmul", "ember.gather", "ember.concat"):
        assert composite not in ir, composite


def test_double_backward():
    """The input gradient's gradient: the VJPs of conv_backward_data and
    conv_backward_weight (the weight a constant, as in test_conv.py)."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 7, 6)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 2)).astype(np.float32)
    ex, ew = from_array(x).requires_grad_(), from_array(w)
    tx, tw = torch.from_numpy(x).requires_grad_(), torch.from_numpy(w)
    kwargs = dict(stride=(2, 1), padding=1, dilation=(1, 2))
    (gx,) = ember.autograd.grad(F.conv2d(ex, ew, **kwargs).square().sum(), [ex],
                                create_graph=True)
    (tgx,) = torch.autograd.grad(torch.nn.functional.conv2d(tx, tw, **kwargs).square().sum(),
                                 [tx], create_graph=True)
    check(gx, tgx)
    (gx * gx).sum().backward()
    (tgx * tgx).sum().backward()
    check(ex.grad, tx.grad)


def test_double_backward_of_transposed():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 4, 5)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3)).astype(np.float32)
    ex, ew = from_array(x).requires_grad_(), from_array(w)
    tx, tw = torch.from_numpy(x).requires_grad_(), torch.from_numpy(w)
    kwargs = dict(stride=2, padding=1, output_padding=1, groups=1)
    (gx,) = ember.autograd.grad(F.conv_transpose1d(ex, ew, **kwargs).square().sum(), [ex],
                                create_graph=True)
    (tgx,) = torch.autograd.grad(
        torch.nn.functional.conv_transpose1d(tx, tw, **kwargs).square().sum(), [tx],
        create_graph=True)
    check(gx, tgx)
    gx.square().sum().backward()
    tgx.square().sum().backward()
    check(ex.grad, tx.grad)


def test_strided_input_view():
    """A transposed (non-contiguous) input and a sliced weight: the kernels
    read the views through their strides."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 6, 10)).astype(np.float32)
    w = rng.standard_normal((5, 3, 3, 3)).astype(np.float32)
    ex = from_array(x).requires_grad_()
    ew = from_array(w).requires_grad_()
    tx = torch.from_numpy(x).requires_grad_()
    tw = torch.from_numpy(w).requires_grad_()
    out = F.conv2d(ex.transpose(2, 3), ew[1:], padding=(0, 1), groups=1)
    expected = torch.nn.functional.conv2d(tx.transpose(2, 3), tw[1:], padding=(0, 1))
    check(out, expected)
    cot = rng.standard_normal(tuple(expected.shape)).astype(np.float32)
    out.backward(from_array(cot))
    expected.backward(torch.from_numpy(cot))
    check(ex.grad, tx.grad)
    check(ew.grad, tw.grad)


def test_wide_channels_and_large_images():
    """Channel counts past one micro-kernel tile and more pixels than one
    tile of the kernels (the blocking's remainders)."""
    rng = np.random.default_rng(6)
    x = rng.standard_normal((3, 20, 23, 19)).astype(np.float32)
    w = (rng.standard_normal((70, 10, 3, 3)) * 0.1).astype(np.float32)
    ex, ew = from_array(x).requires_grad_(), from_array(w).requires_grad_()
    tx, tw = torch.from_numpy(x).requires_grad_(), torch.from_numpy(w).requires_grad_()
    out = F.conv2d(ex, ew, padding=1, groups=2)
    expected = torch.nn.functional.conv2d(tx, tw, padding=1, groups=2)
    check(out, expected)
    cot = rng.standard_normal(tuple(expected.shape)).astype(np.float32)
    out.backward(from_array(cot))
    expected.backward(torch.from_numpy(cot))
    check(ex.grad, tx.grad)
    check(ew.grad, tw.grad)


def test_training_loop_compiles_a_fixed_number_of_programs():
    rng = np.random.default_rng(7)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
                          nn.Conv2d(8, 4, 3, stride=2), nn.Flatten(), nn.Linear(4 * 3 * 3, 2))
    opt = ember.optim.SGD(model.parameters(), lr=0.01)
    x = from_array(rng.standard_normal((4, 3, 8, 8)).astype(np.float32))
    y = from_array(rng.integers(0, 2, 4))
    compiles = []
    losses = []
    for _ in range(6):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        compiles.append(ember.compile_stats()["compiles"])
    assert compiles[2:] == [compiles[2]] * 4, compiles
    assert losses[-1] < losses[0]
