"""Matmuls whose result feeds a bias add, an activation or a residual add
run as one GEMM call that finishes each block of the result in cache
(ember-fuse-matmul-epilogue, runtime/lib/GemmEpilogue.cpp). Each case is
compared with PyTorch 1.13 on random inputs of odd sizes (tiles cut at the
edges, one-row products on the matrix-vector path), forward and gradients,
and ember.compile_stats()["fused_gemm_calls"] shows whether the fused call
ran: where it must and, for what must not fuse, that it did not. The same
for convolutions (ember-fuse-conv-epilogue, "fused_conv_calls") at the end."""

import numpy as np
import pytest
import torch

import ember
import ember.nn.functional as F

SHAPES = [(1, 5, 3), (7, 13, 29), (33, 65, 17), (130, 70, 96)]

ACTIVATIONS = {
    "relu": (F.relu, torch.nn.functional.relu),
    "gelu": (F.gelu, torch.nn.functional.gelu),
    "silu": (F.silu, torch.nn.functional.silu),
    "sigmoid": (ember.sigmoid, torch.sigmoid),
    "tanh": (ember.tanh, torch.tanh),
    # The tanh form of gelu composes scalars the graph passes at run time:
    # not recognized, so it runs unfused (and must still be right).
    "gelu_tanh": (
        lambda x: F.gelu(x, approximate="tanh"),
        lambda x: torch.nn.functional.gelu(x, approximate="tanh"),
    ),
}
FUSED_ACTIVATIONS = ["relu", "gelu", "silu", "sigmoid", "tanh"]


def fused_calls():
    return ember.compile_stats()["fused_gemm_calls"]


def arrays(seed, *shapes, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1.5, 1.5, size=shape).astype(dtype) for shape in shapes]


def close(got, want, atol=2e-5, rtol=2e-5):
    np.testing.assert_allclose(got.detach().numpy() if hasattr(got, "detach") else got.numpy(),
                               want.detach().numpy(), atol=atol, rtol=rtol)


@pytest.mark.parametrize("m,k,n", SHAPES)
@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_linear_bias_activation_forward(m, k, n, name):
    act, torch_act = ACTIVATIONS[name]
    x, w, b = arrays(m * 1000 + n, (m, k), (n, k), (n,))
    before = fused_calls()
    got = act(F.linear(ember.tensor(x), ember.tensor(w), ember.tensor(b))).numpy()
    want = torch_act(torch.nn.functional.linear(torch.tensor(x), torch.tensor(w), torch.tensor(b)))
    np.testing.assert_allclose(got, want.numpy(), atol=2e-5, rtol=2e-5)
    if name in FUSED_ACTIVATIONS:
        assert fused_calls() == before + 1
    else:
        assert fused_calls() == before


@pytest.mark.parametrize("m,k,n", SHAPES)
def test_residual_after_activation(m, k, n):
    x, w, b, r = arrays(n, (m, k), (n, k), (n,), (m, n))
    before = fused_calls()
    got = (ember.tensor(r) + F.gelu(F.linear(ember.tensor(x), ember.tensor(w), ember.tensor(b)))).numpy()
    want = torch.tensor(r) + torch.nn.functional.gelu(
        torch.nn.functional.linear(torch.tensor(x), torch.tensor(w), torch.tensor(b)))
    np.testing.assert_allclose(got, want.numpy(), atol=2e-5, rtol=2e-5)
    assert fused_calls() == before + 1


def test_plain_matmul_plus_broadcast_residual_and_row_bias():
    """x @ w + r with r broadcast over rows (a (1, n) tensor) and a bias per
    row ((m, 1)): both addends are views with a zero stride."""
    x, w, r, rows = arrays(3, (37, 19), (19, 41), (1, 41), (37, 1))
    before = fused_calls()
    got = ember.relu(ember.tensor(x) @ ember.tensor(w) + ember.tensor(rows)) + ember.tensor(r)
    want = torch.relu(torch.tensor(x) @ torch.tensor(w) + torch.tensor(rows)) + torch.tensor(r)
    close(got, want)
    assert fused_calls() == before + 1


@pytest.mark.parametrize("name", ["relu", "gelu", "silu", "tanh"])
def test_linear_activation_gradients(name):
    """Forward and backward of a Linear + activation + residual against
    torch's autograd; the forward's product is fused (the backward's are
    plain products, whose results feed other ops than the epilogues)."""
    act, torch_act = ACTIVATIONS[name]
    x, w, b, r = arrays(11, (45, 23), (31, 23), (31,), (45, 31))
    ex, ew, eb = (ember.tensor(a, requires_grad=True) for a in (x, w, b))
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    before = fused_calls()
    ey = act(F.linear(ex, ew, eb)) + ember.tensor(r)
    (ey * ey).sum().backward()
    ty = torch_act(torch.nn.functional.linear(tx, tw, tb)) + torch.tensor(r)
    (ty * ty).sum().backward()
    close(ey, ty)
    for got, want in [(ex, tx), (ew, tw), (eb, tb)]:
        np.testing.assert_allclose(got.grad.numpy(), want.grad.numpy(), atol=1e-4, rtol=1e-4)
    assert fused_calls() > before


def test_mlp_training_step_matches_torch():
    """A 2-layer MLP trained for a few SGD steps: the forward's products
    take their bias adds (the pre-activation is kept for relu's backward,
    so relu itself stays a separate op); losses and weights as torch's."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((64, 49)).astype(np.float32)
    target = rng.integers(0, 10, size=64)
    torch.manual_seed(0)
    reference = torch.nn.Sequential(torch.nn.Linear(49, 33), torch.nn.ReLU(), torch.nn.Linear(33, 10))
    model = ember.nn.Sequential(ember.nn.Linear(49, 33), ember.nn.ReLU(), ember.nn.Linear(33, 10))
    with torch.no_grad():
        for mine, theirs in zip(model.parameters(), reference.parameters()):
            mine.data = ember.tensor(theirs.detach().numpy().copy())
    opt = ember.optim.SGD(model.parameters(), lr=0.1)
    ref_opt = torch.optim.SGD(reference.parameters(), lr=0.1)
    before = fused_calls()
    for _ in range(3):
        opt.zero_grad()
        loss = F.cross_entropy(model(ember.tensor(x)), ember.tensor(target))
        loss.backward()
        opt.step()
        ref_opt.zero_grad()
        ref_loss = torch.nn.functional.cross_entropy(reference(torch.tensor(x)), torch.tensor(target))
        ref_loss.backward()
        ref_opt.step()
        assert abs(loss.item() - ref_loss.item()) < 1e-5
    for mine, theirs in zip(model.parameters(), reference.parameters()):
        np.testing.assert_allclose(mine.detach().numpy(), theirs.detach().numpy(), atol=1e-5, rtol=1e-5)
    assert fused_calls() >= before + 2 * 3  # both layers' bias adds, each step


def test_batched_scores_with_mask():
    """Attention's scores q @ k^T plus a mask broadcast over batch and
    heads, then tanh: a batched product with a fused epilogue."""
    q, k, mask = arrays(9, (2, 3, 17, 8), (2, 3, 17, 8), (17, 17))
    before = fused_calls()
    got = ember.tanh(ember.tensor(q) @ ember.tensor(k).transpose(-2, -1) + ember.tensor(mask))
    want = torch.tanh(torch.tensor(q) @ torch.tensor(k).transpose(-2, -1) + torch.tensor(mask))
    close(got, want)
    assert fused_calls() == before + 1


def test_not_fused_when_the_product_is_read_twice():
    x, w = arrays(4, (21, 14), (14, 9))
    before = fused_calls()
    y = ember.tensor(x) @ ember.tensor(w)
    got = ember.relu(y) * y
    want = torch.relu(torch.tensor(x) @ torch.tensor(w)) * (torch.tensor(x) @ torch.tensor(w))
    close(got, want)
    assert fused_calls() == before


def test_not_fused_in_float64():
    x, w, b = arrays(6, (21, 14), (9, 14), (9,), dtype=np.float64)
    before = fused_calls()
    got = F.relu(F.linear(ember.tensor(x), ember.tensor(w), ember.tensor(b)))
    want = torch.relu(torch.nn.functional.linear(torch.tensor(x), torch.tensor(w), torch.tensor(b)))
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12, atol=1e-12)
    assert fused_calls() == before


def test_nan_and_inf_flow_through_the_epilogue():
    x, w, b = arrays(8, (10, 6), (5, 6), (5,))
    x[3, 2] = np.nan
    b[1] = np.inf
    got = F.relu(F.linear(ember.tensor(x), ember.tensor(w), ember.tensor(b))).numpy()
    want = torch.relu(torch.nn.functional.linear(torch.tensor(x), torch.tensor(w), torch.tensor(b))).numpy()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got, want, atol=2e-5, rtol=2e-5)


# --- convolutions (ember-fuse-conv-epilogue) -------------------------------------

CONV_ACTIVATIONS = {
    "relu": (F.relu, torch.nn.functional.relu),
    "hardswish": (F.hardswish, torch.nn.functional.hardswish),
    "hardsigmoid": (F.hardsigmoid, torch.nn.functional.hardsigmoid),
    "silu": (F.silu, torch.nn.functional.silu),
}


def fused_conv_calls():
    return ember.compile_stats()["fused_conv_calls"]


class _ConvAct(ember.nn.Module):
    def __init__(self, w, b, act):
        super().__init__()
        self.w, self.b, self.act = ember.nn.Parameter(ember.tensor(w)), ember.nn.Parameter(
            ember.tensor(b)), act

    def forward(self, x):
        return self.act(F.conv2d(x, self.w, self.b, padding=1))


@pytest.mark.parametrize("name", list(CONV_ACTIVATIONS))
def test_conv_bias_activation_is_one_call(name):
    """conv2d + bias + activation runs as one runtime call (the bias and
    the activation applied to each block of the output in cache), in an
    exported program (hardswish's constants are in its code there; an
    eager graph passes them at run time, unrecognized); a NaN in the input
    comes out as NaN, as torch's."""
    act, torch_act = CONV_ACTIVATIONS[name]
    x, w, b = arrays(21, (2, 5, 9, 11), (7, 5, 3, 3), (7,))
    x[1, 2, 4, 4] = np.nan
    program = ember.export(_ConvAct(w, b, act), ember.tensor(x))
    before = fused_conv_calls()
    got = program(x)
    want = torch_act(torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w),
                                                torch.tensor(b), padding=1))
    close(got, want, atol=1e-4, rtol=1e-4)
    assert fused_conv_calls() == before + 1


def test_resnet_block_relu_of_conv_bias_and_shortcut():
    """relu(conv(x) + bias + x), a ResNet block's end: the shortcut is added
    before the activation, in the same call."""
    x, w, b = arrays(22, (2, 6, 10, 10), (6, 6, 3, 3), (6,))
    before = fused_conv_calls()
    ex = ember.tensor(x)
    got = F.relu(F.conv2d(ex, ember.tensor(w), ember.tensor(b), padding=1) + ex)
    tx = torch.tensor(x)
    want = torch.relu(torch.nn.functional.conv2d(tx, torch.tensor(w), torch.tensor(b),
                                                 padding=1) + tx)
    close(got, want, atol=1e-4, rtol=1e-4)
    assert fused_conv_calls() == before + 1


def test_conv_epilogue_gradients():
    """A training step through conv + bias + relu + shortcut: the values the
    backward reads stay available (the fusion only fires where nothing else
    reads the convolution's output); gradients as torch's."""
    x, w, b = arrays(23, (2, 4, 7, 7), (4, 4, 3, 3), (4,))
    ex, ew, eb = (ember.tensor(a, requires_grad=True) for a in (x, w, b))
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ey = F.hardswish(F.conv2d(ex, ew, eb, padding=1) + ex)
    (ey * ey).sum().backward()
    ty = torch.nn.functional.hardswish(torch.nn.functional.conv2d(tx, tw, tb, padding=1) + tx)
    (ty * ty).sum().backward()
    close(ey, ty, atol=1e-4, rtol=1e-4)
    for got, want in [(ex, tx), (ew, tw), (eb, tb)]:
        np.testing.assert_allclose(got.grad.numpy(), want.grad.numpy(), atol=1e-3, rtol=1e-3)


class _MobileNetBlock(ember.nn.Module):
    """MobileNetV3's depthwise conv + bias + hardswish, then squeeze-and-
    excitation: x * hardsigmoid(fc2(relu(fc1(mean(x))))), then the 1x1
    projection with its bias."""

    def __init__(self, *arrays_):
        super().__init__()
        self.wd, self.bd, self.w1, self.b1, self.w2, self.b2, self.wp, self.bp = (
            ember.nn.Parameter(ember.tensor(a)) for a in arrays_)

    def forward(self, x):
        x = F.hardswish(F.conv2d(x, self.wd, self.bd, padding=2, groups=x.shape[1]))
        s = F.relu(F.conv2d(x.mean((2, 3), keepdim=True), self.w1, self.b1))
        return F.conv2d(x * F.hardsigmoid(F.conv2d(s, self.w2, self.b2)), self.wp, self.bp)


def test_depthwise_and_squeeze_excitation_are_fused():
    """The block's four convs are four fused calls: the depthwise one
    with its bias and hardswish (applied in the kernel's registers) and the
    pool's mean (summed there too), fc1
    with relu, fc2 with the scale's hardsigmoid, and the projection with
    its bias, reading x and the scale (x * s multiplied while x is packed,
    never written); values and NaN as torch's."""
    x, wd, bd, w1, b1, w2, b2, wp, bp = arrays(24, (2, 6, 7, 7), (6, 1, 5, 5), (6,),
                                               (3, 6, 1, 1), (3,), (6, 3, 1, 1), (6,),
                                               (4, 6, 1, 1), (4,))
    x[1, 2, 3, 3] = np.nan
    program = ember.export(_MobileNetBlock(wd, bd, w1, b1, w2, b2, wp, bp), ember.tensor(x))
    before = fused_conv_calls()
    means = ember.compile_stats()["fused_conv_means"]
    scales = ember.compile_stats()["fused_conv_scales"]
    got = program(x)
    assert fused_conv_calls() == before + 4
    # The pool's mean written by the depthwise call (summed in registers).
    assert ember.compile_stats()["fused_conv_means"] == means + 1
    assert ember.compile_stats()["fused_conv_scales"] == scales + 1
    T = torch.nn.functional
    tx = T.hardswish(T.conv2d(torch.tensor(x), torch.tensor(wd), torch.tensor(bd), padding=2,
                              groups=6))
    s = T.relu(T.conv2d(tx.mean((2, 3), keepdim=True), torch.tensor(w1), torch.tensor(b1)))
    close(got, T.conv2d(tx * T.hardsigmoid(T.conv2d(s, torch.tensor(w2), torch.tensor(b2))),
                        torch.tensor(wp), torch.tensor(bp)),
          atol=1e-4, rtol=1e-4)
class _StemThenDepthwise(ember.nn.Module):
    """MobileNetV3's stem (RGB 3x3 stride 2 + bias + hardswish) and the
    depthwise conv + bias + relu that reads it, then an expanding 1x1 conv
    + bias + hardswish and another depthwise conv + bias + relu."""

    def __init__(self, *arrays_):
        super().__init__()
        self.w, self.b, self.wd, self.bd, self.we, self.be, self.wd2, self.bd2 = (
            ember.nn.Parameter(ember.tensor(a)) for a in arrays_)

    def forward(self, x):
        x = F.hardswish(F.conv2d(x, self.w, self.b, stride=2, padding=1))
        x = F.relu(F.conv2d(x, self.wd, self.bd, stride=2, padding=1, groups=16))
        x = F.hardswish(F.conv2d(x, self.we, self.be))
        return F.relu(F.conv2d(x, self.wd2, self.bd2, padding=1, groups=32))


def test_conv_runs_with_the_next_depthwise_conv_image_by_image():
    """The stem's output is read only by a depthwise conv, and so is the
    expanding 1x1 conv's: both call ember_cpu_conv_fused_then_f32 and, with
    4 images per thread, run with their depthwise conv image by image (the
    output in a per-thread buffer). Four fused calls; values as torch's
    there and at 1 image (each pair one call after the other)."""
    params = arrays(25, (16, 3, 3, 3), (16,), (16, 1, 3, 3), (16,), (32, 16, 1, 1), (32,),
                    (32, 1, 3, 3), (32,))
    module = _StemThenDepthwise(*params)
    w, b, wd, bd, we, be, wd2, bd2 = (torch.tensor(p) for p in params)
    T = torch.nn.functional
    for batch in (4 * ember.get_num_threads(), 1):
        (x,) = arrays(26 + batch, (batch, 3, 20, 18))
        program = ember.export(module, ember.tensor(x))
        before = fused_conv_calls()
        got = program(x)
        assert fused_conv_calls() == before + 4
        t = T.hardswish(T.conv2d(torch.tensor(x), w, b, stride=2, padding=1))
        t = T.relu(T.conv2d(t, wd, bd, stride=2, padding=1, groups=16))
        t = T.hardswish(T.conv2d(t, we, be))
        close(got, T.relu(T.conv2d(t, wd2, bd2, padding=1, groups=32)), atol=1e-4, rtol=1e-4)


class _Downsample(ember.nn.Module):
    def __init__(self, w, b, wd, bd):
        super().__init__()
        self.w, self.b = ember.nn.Parameter(ember.tensor(w)), ember.nn.Parameter(ember.tensor(b))
        self.wd, self.bd = (ember.nn.Parameter(ember.tensor(wd)),
                            ember.nn.Parameter(ember.tensor(bd)))

    def forward(self, a, x):
        return F.relu(F.conv2d(a, self.w, self.b, padding=1) + F.conv2d(x, self.wd, self.bd,
                                                                          stride=2))


def test_downsample_block_is_two_fused_calls():
    """A downsampling ResNet block's end, relu(conv(a) + b + conv(x, 1x1,
    stride 2) + bd): the downsample takes its own bias in place, the other
    convolution the ReLU with it as the shortcut: two fused calls and no
    element-wise kernel of their own."""
    a, w, b, x, wd, bd = arrays(24, (2, 6, 5, 5), (6, 6, 3, 3), (6,), (2, 4, 10, 10),
                                (6, 4, 1, 1), (6,))
    program = ember.export(_Downsample(w, b, wd, bd), (ember.tensor(a), ember.tensor(x)))
    before = fused_conv_calls()
    got = program(a, x)
    tconv = torch.nn.functional.conv2d
    want = torch.relu(tconv(torch.tensor(a), torch.tensor(w), torch.tensor(b), padding=1) +
                      tconv(torch.tensor(x), torch.tensor(wd), torch.tensor(bd), stride=2))
    close(got, want, atol=1e-4, rtol=1e-4)
    assert fused_conv_calls() == before + 2


class _Stem(ember.nn.Module):
    def __init__(self, w, b, stride):
        super().__init__()
        self.w, self.b = ember.nn.Parameter(ember.tensor(w)), ember.nn.Parameter(ember.tensor(b))
        self.stride = stride

    def forward(self, x):
        y = F.relu(F.conv2d(x, self.w, self.b, stride=self.stride, padding=3))
        return F.max_pool2d(y, 3, 2, padding=1)


@pytest.mark.parametrize("stride", [2, (9, 8)])
def test_conv_writes_the_max_pools_padded_input(stride):
    """An imported CNN's stem, relu(conv + bias) then a padded max pool: the
    fused call writes the interior of the pool's padded buffer (ember-
    concat-in-place; rows 2 floats apart more than the output is wide) -
    through the shifted-input path's row copies at stride 2, through a
    dense temporary where that path does not apply (stride 9 x 8)."""
    x, w, b = arrays(25, (2, 3, 30, 28), (5, 3, 7, 7), (5,))
    program = ember.export(_Stem(w, b, stride), ember.tensor(x))
    before = fused_conv_calls()
    got = program(x)
    y = torch.relu(torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), torch.tensor(b),
                                              stride=stride, padding=3))
    close(got, torch.nn.functional.max_pool2d(y, 3, 2, padding=1), atol=1e-4, rtol=1e-4)
    assert fused_conv_calls() == before + 1


def test_returned_convolution_writes_the_output():
    """A program that returns a convolution's result (no epilogue): the call
    writes the caller's output buffer (no temporary copied into it); the
    values and a second call with another batch as torch's."""
    x, w = arrays(26, (2, 3, 9, 8), (4, 3, 3, 3))

    class Conv(ember.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = ember.nn.Parameter(ember.tensor(w))

        def forward(self, x):
            return F.conv2d(x, self.w, padding=1)

    program = ember.export(Conv(), ember.tensor(x), dynamic_dims=[{0: "batch"}])
    for batch in (2, 3):
        xb = np.concatenate([x, x])[:batch]
        close(program(xb), torch.nn.functional.conv2d(torch.tensor(xb), torch.tensor(w), padding=1),
              atol=1e-4, rtol=1e-4)
