"""The convolutional-net layers other than convolutions against PyTorch 1.13:
pooling (max with indices and torch's tie rule, average, adaptive), batch /
instance / group / local-response normalization (train and eval, running
statistics over several steps, momentum=None's cumulative average,
state_dict both ways, one compile for a training loop), channel dropout,
F.pad in every mode, interpolate/Upsample, pixel (un)shuffle, unfold/fold
and Unflatten: outputs, gradients of inputs and parameters, module reprs
and torch's error messages. Every layer is a composition of ember ops, so
the suite also runs in the device sweep."""

import warnings

import numpy as np
import pytest
import torch
import torch.nn as tnn
import torch.nn.functional as TF

import ember
from ember import nn
from ember.nn import functional as F
from ember_testing import DEVICE, from_array, to_numpy

TOL = {"float32": (2e-5, 2e-5), "float64": (1e-10, 1e-11)}


def arrays_for(rng, shapes, dtype, ties):
    """Random inputs; with ``ties`` small integers, so windows hold equal
    maxima (torch routes their gradient to the first)."""
    out = []
    for shape in shapes:
        values = rng.standard_normal(shape)
        if ties:
            values = np.round(values * 1.5)
        out.append(values.astype(dtype))
    return out


def run_both(rng, dtype, ember_fn, torch_fn, shapes, ties=False):
    """Both functions on the same random leaves; one random cotangent
    backpropagated through the first output. Returns (ember outputs, torch
    outputs, ember leaves, torch leaves), outputs as tuples."""
    arrays = arrays_for(rng, shapes, dtype, ties)
    xs = [from_array(a, dtype).requires_grad_() for a in arrays]
    ts = [torch.from_numpy(a.copy()).requires_grad_() for a in arrays]
    out, expected = ember_fn(*xs), torch_fn(*ts)
    out = out if isinstance(out, tuple) else (out,)
    expected = expected if isinstance(expected, tuple) else (expected,)
    cotangent = rng.standard_normal(tuple(expected[0].shape)).astype(dtype)
    out[0].backward(from_array(cotangent, dtype))
    expected[0].backward(torch.from_numpy(cotangent))
    return out, expected, xs, ts


def check(actual, expected, dtype="float64"):
    want = expected.detach().numpy()
    got = to_numpy(actual)
    assert tuple(actual.shape) == want.shape
    if not np.issubdtype(want.dtype, np.floating):
        assert str(actual.dtype) == f"ember.{want.dtype}"
        np.testing.assert_array_equal(got, want)
        return
    rtol, atol = TOL[dtype]
    scale = max(1.0, float(np.abs(want).max(initial=0.0)))
    np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), rtol=rtol,
                               atol=atol * scale)


def check_run(rng, dtype, ember_fn, torch_fn, shapes, ties=False):
    out, expected, xs, ts = run_both(rng, dtype, ember_fn, torch_fn, shapes, ties)
    assert len(out) == len(expected)
    for a, b in zip(out, expected):
        check(a, b, dtype)
    for x, t in zip(xs, ts):
        assert x.grad is not None
        check(x.grad, t.grad, dtype)


def same_message(error, expected):
    """Messages equal up to runs of whitespace (torch 1.13's
    local_response_norm message has a run of spaces inside)."""
    return str(error).split() == str(expected).split()


def torch_error(fn):
    try:
        fn()
    except Exception as error:  # noqa: BLE001 - any of torch's error types
        return error
    raise AssertionError("torch accepted the call")


# --- Pooling ----------------------------------------------------------------

MAX_POOL_2D = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, ceil_mode=True),
    dict(kernel_size=(2, 3), stride=(1, 2), padding=(1, 1), dilation=(2, 1)),
    dict(kernel_size=3, stride=2, padding=1, dilation=2, ceil_mode=True),
    # More than 16 offsets: windows gathered into a trailing dim, or (tiling) reshaped.
    dict(kernel_size=5, stride=1, padding=2),
    dict(kernel_size=(4, 5)),
]


@pytest.mark.parametrize("kwargs", MAX_POOL_2D)
def test_max_pool2d_with_indices_and_ties(rng, kwargs):
    check_run(rng, "float64",
              lambda x: F.max_pool2d(x, return_indices=True, **kwargs),
              lambda t: TF.max_pool2d(t, return_indices=True, **kwargs),
              [(2, 3, 9, 8)], ties=True)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_max_pool_module_and_unbatched(rng, dtype):
    check_run(rng, dtype, nn.MaxPool2d(3, 2, 1), tnn.MaxPool2d(3, 2, 1), [(3, 7, 6)])
    check_run(rng, dtype, lambda x: F.max_pool1d_with_indices(x, 3, 2, 1),
              lambda t: TF.max_pool1d_with_indices(t, 3, 2, 1), [(2, 3, 10)], ties=True)
    check_run(rng, dtype, nn.MaxPool1d(2, return_indices=True, ceil_mode=True),
              tnn.MaxPool1d(2, return_indices=True, ceil_mode=True), [(3, 9)], ties=True)


def test_max_pool_nan_wins():
    values = np.array([[[[1.0, np.nan], [3.0, 2.0]]]])
    out = F.max_pool2d(from_array(values), 2)
    assert np.isnan(to_numpy(out)).all()


# An exported f32 max pool (constant window bounds; an eager trace passes
# them as run-time values and keeps the compiled loop) runs on the CPU as
# the runtime's kernel (ember-conv-to-runtime, runtime/lib/CpuPool.cpp):
# its AVX-512 path (stride 2, 3 wide) and the portable one, odd widths (a
# masked last vector), batches, ceil_mode, dilation, NaN.
MAX_POOL_F32 = [
    ((2, 3, 17, 37), dict(kernel_size=3, stride=2, padding=1)),
    ((1, 5, 9, 70), dict(kernel_size=3, stride=2, ceil_mode=True)),
    ((3, 2, 11, 13), dict(kernel_size=(2, 3), stride=(1, 2), padding=(1, 1), dilation=(2, 1))),
    ((2, 4, 12, 15), dict(kernel_size=2, stride=1)),
    ((1, 2, 13, 16), dict(kernel_size=3, stride=2, padding=1, dilation=2, ceil_mode=True)),
]


@pytest.mark.skipif(DEVICE != "cpu", reason="the CPU's runtime kernel")
@pytest.mark.parametrize("shape,kwargs", MAX_POOL_F32)
def test_exported_max_pool2d_f32_runtime_kernel(rng, shape, kwargs):
    x = rng.standard_normal(shape).astype(np.float32)
    x.flat[rng.integers(0, x.size, 4)] = np.nan
    program = ember.from_torch(tnn.MaxPool2d(**kwargs), (torch.from_numpy(x),))
    before = ember.compile_stats()["max_pool_calls"]
    got = to_numpy(program(from_array(x)))
    expected = TF.max_pool2d(torch.from_numpy(x), **kwargs).numpy()
    assert got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)
    assert ember.compile_stats()["max_pool_calls"] == before + 1


AVG_POOL_2D = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
    dict(kernel_size=(2, 3), stride=(1, 2), padding=(1, 1), divisor_override=5),
    dict(kernel_size=5, stride=2, padding=2, ceil_mode=True, count_include_pad=False),
]


@pytest.mark.parametrize("kwargs", AVG_POOL_2D)
def test_avg_pool2d(rng, kwargs):
    check_run(rng, "float64", lambda x: F.avg_pool2d(x, **kwargs),
              lambda t: TF.avg_pool2d(t, **kwargs), [(2, 3, 9, 8)])


def test_avg_pool_modules_and_1d(rng):
    check_run(rng, "float32", nn.AvgPool2d(3, 2, 1, ceil_mode=True),
              tnn.AvgPool2d(3, 2, 1, ceil_mode=True), [(3, 7, 6)])
    check_run(rng, "float64", nn.AvgPool1d(3, 2, 1, True, False),
              tnn.AvgPool1d(3, 2, 1, True, False), [(2, 3, 10)])


@pytest.mark.parametrize("output_size", [(3, 4), 1, (5, 7), (None, 3)])
def test_adaptive_pool2d(rng, output_size):
    check_run(rng, "float64", lambda x: F.adaptive_avg_pool2d(x, output_size),
              lambda t: TF.adaptive_avg_pool2d(t, output_size), [(2, 3, 9, 8)])
    check_run(rng, "float64", lambda x: F.adaptive_max_pool2d(x, output_size, True),
              lambda t: TF.adaptive_max_pool2d(t, output_size, True), [(2, 3, 9, 8)],
              ties=True)


def test_adaptive_pool_modules_and_1d(rng):
    check_run(rng, "float32", nn.AdaptiveAvgPool2d((2, 3)), tnn.AdaptiveAvgPool2d((2, 3)),
              [(3, 7, 6)])
    check_run(rng, "float32", nn.AdaptiveMaxPool2d(3, return_indices=True),
              tnn.AdaptiveMaxPool2d(3, return_indices=True), [(3, 7, 6)], ties=True)
    check_run(rng, "float64", nn.AdaptiveAvgPool1d(4), tnn.AdaptiveAvgPool1d(4),
              [(2, 3, 10)])
    check_run(rng, "float64", lambda x: F.adaptive_max_pool1d(x, 4, True),
              lambda t: TF.adaptive_max_pool1d(t, 4, True), [(2, 3, 10)], ties=True)


POOL_ERRORS = [
    ("max_pool2d", lambda f, x: f.max_pool2d(x[0, 0, 0], 2)),
    ("max_pool2d", lambda f, x: f.max_pool2d(x, 2, padding=2)),
    ("max_pool2d", lambda f, x: f.max_pool2d(x, 6)),
    ("max_pool2d", lambda f, x: f.max_pool2d(x, 2, stride=0)),
    ("max_pool1d", lambda f, x: f.max_pool1d(x, 2)),
    ("avg_pool2d", lambda f, x: f.avg_pool2d(x, 2, padding=2)),
    ("avg_pool2d", lambda f, x: f.avg_pool2d(x, 2, divisor_override=0)),
    ("avg_pool1d", lambda f, x: f.avg_pool1d(x[0, 0, 0], 2)),
    ("adaptive_avg_pool2d", lambda f, x: f.adaptive_avg_pool2d(x[0, 0, 0], 2)),
    ("adaptive_avg_pool2d", lambda f, x: f.adaptive_avg_pool2d(x, (2, 2, 2))),
    ("adaptive_max_pool2d", lambda f, x: f.adaptive_max_pool2d(x[0, 0, 0], 2)),
]


@pytest.mark.parametrize("name,call", POOL_ERRORS)
def test_pool_errors_match_torch(name, call):
    values = np.zeros((2, 3, 5, 5), np.float32)
    expected = torch_error(lambda: call(TF, torch.from_numpy(values)))
    with pytest.raises(type(expected)) as raised:
        call(F, from_array(values))
    assert same_message(raised.value, expected)


# --- Normalization ----------------------------------------------------------------

def to_ember_state(state):
    return {k: from_array(v.numpy()) for k, v in state.items()}


def to_torch_state(state):
    return {k: torch.from_numpy(to_numpy(v)) for k, v in state.items()}


def train_steps(rng, ember_module, torch_module, shape, steps, dtype="float64"):
    """Runs ``steps`` forward/backward steps on both modules (the same
    inputs and cotangents), checking outputs, input and parameter gradients
    and every buffer after each step."""
    for _ in range(steps):
        check_run(rng, dtype, ember_module, torch_module, [shape])
        for (name, p), (_, q) in zip(ember_module.named_parameters(),
                                     torch_module.named_parameters()):
            check(p.grad, q.grad, dtype)
            p.grad, q.grad = None, None
        buffers = dict(torch_module.named_buffers())
        assert [n for n, _ in ember_module.named_buffers()] == list(buffers)
        for name, b in ember_module.named_buffers():
            check(b, buffers[name], dtype)


def pair(ember_cls, torch_cls, *args, **kwargs):
    """The same module in both, torch's initial state loaded into ember's."""
    t = torch_cls(*args, **kwargs).double()
    e = ember_cls(*args, **kwargs).double()
    e.load_state_dict(to_ember_state(t.state_dict()))
    e = e.to(DEVICE) if DEVICE != "cpu" else e
    return e, t


@pytest.mark.parametrize("momentum", [0.1, None])
def test_batch_norm2d_train_eval_running_stats(rng, momentum):
    e, t = pair(nn.BatchNorm2d, tnn.BatchNorm2d, 3, momentum=momentum)
    with torch.no_grad():
        t.weight.uniform_(0.5, 1.5)
        t.bias.uniform_(-0.5, 0.5)
    e.load_state_dict(to_ember_state(t.state_dict()))
    train_steps(rng, e, t, (4, 3, 5, 5), 3)
    assert int(to_numpy(e.num_batches_tracked)) == 3
    e.eval()
    t.eval()
    train_steps(rng, e, t, (2, 3, 5, 5), 1)


@pytest.mark.parametrize("kwargs,shape", [
    (dict(), (6, 4)),
    (dict(affine=False), (4, 4, 7)),
    (dict(track_running_stats=False), (4, 4, 7)),
])
def test_batch_norm1d_variants(rng, kwargs, shape):
    e, t = pair(nn.BatchNorm1d, tnn.BatchNorm1d, 4, **kwargs)
    train_steps(rng, e, t, shape, 2)
    e.eval()
    t.eval()
    train_steps(rng, e, t, shape, 1)


def test_batch_norm_state_dict_both_ways(rng):
    t = tnn.BatchNorm2d(3).double()
    t(torch.from_numpy(rng.standard_normal((4, 3, 2, 2))))
    e = nn.BatchNorm2d(3).double()
    assert list(e.state_dict()) == list(t.state_dict()) == [
        "weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    e.load_state_dict(to_ember_state(t.state_dict()))
    assert e.num_batches_tracked.dtype == ember.int64 and e.num_batches_tracked.dim() == 0
    e = e.to(DEVICE) if DEVICE != "cpu" else e
    e(from_array(rng.standard_normal((4, 3, 2, 2))))
    t(torch.from_numpy(rng.standard_normal((4, 3, 2, 2))))
    back = tnn.BatchNorm2d(3).double()
    back.load_state_dict(to_torch_state(e.state_dict()))
    assert int(back.num_batches_tracked) == 2
    for name, value in back.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), to_numpy(e.state_dict()[name]))


def test_functional_batch_norm(rng):
    mean = rng.standard_normal(3)
    var = rng.uniform(0.5, 2.0, 3)
    check_run(rng, "float64",
              lambda x, w, b: F.batch_norm(x, from_array(mean), from_array(var), w, b,
                                           False, 0.1, 1e-3),
              lambda x, w, b: TF.batch_norm(x, torch.from_numpy(mean), torch.from_numpy(var),
                                            w, b, False, 0.1, 1e-3),
              [(2, 3, 4), (3,), (3,)])
    ember_mean, torch_mean = from_array(mean), torch.from_numpy(mean.copy())
    ember_var, torch_var = from_array(var), torch.from_numpy(var.copy())
    check_run(rng, "float64",
              lambda x: F.batch_norm(x, ember_mean, ember_var, training=True, momentum=0.3),
              lambda x: TF.batch_norm(x, torch_mean, torch_var, training=True, momentum=0.3),
              [(5, 3)])
    check(ember_mean, torch_mean)
    check(ember_var, torch_var)


def test_batch_norm_training_loop_compiles_once(rng):
    """Running-statistic updates (and momentum=None's 1 / batches) are part
    of the step's program: later steps compile nothing."""
    for momentum in (0.1, None):
        model = nn.Sequential(nn.Linear(8, 6), nn.BatchNorm1d(6, momentum=momentum),
                              nn.ReLU(), nn.Linear(6, 3))
        model = model.to(DEVICE) if DEVICE != "cpu" else model
        opt = ember.optim.SGD(model.parameters(), lr=0.1)
        x = from_array(rng.standard_normal((16, 8)).astype(np.float32))
        y = from_array(rng.integers(0, 3, 16))
        compiles = []
        for step in range(8):
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            loss.item()
            compiles.append(ember.compile_stats()["compiles"])
        assert compiles[3:] == [compiles[3]] * 5, compiles
        assert int(to_numpy(model[1].num_batches_tracked)) == 8


def test_group_norm(rng):
    e, t = pair(nn.GroupNorm, tnn.GroupNorm, 2, 6)
    with torch.no_grad():
        t.weight.uniform_(0.5, 1.5)
        t.bias.uniform_(-0.5, 0.5)
    e.load_state_dict(to_ember_state(t.state_dict()))
    train_steps(rng, e, t, (3, 6, 4, 5), 1)
    check_run(rng, "float32", nn.GroupNorm(3, 3, affine=False),
              tnn.GroupNorm(3, 3, affine=False), [(2, 3, 7)])


def test_instance_norm(rng):
    e, t = pair(nn.InstanceNorm2d, tnn.InstanceNorm2d, 3)
    assert not list(e.state_dict())
    train_steps(rng, e, t, (2, 3, 5, 4), 1)
    train_steps(rng, e, t, (3, 5, 4), 1)
    e, t = pair(nn.InstanceNorm1d, tnn.InstanceNorm1d, 3, affine=True,
                track_running_stats=True)
    train_steps(rng, e, t, (2, 3, 6), 3)
    e.eval()
    t.eval()
    train_steps(rng, e, t, (2, 3, 6), 1)


def test_local_response_norm(rng):
    check_run(rng, "float64", nn.LocalResponseNorm(3), tnn.LocalResponseNorm(3),
              [(2, 5, 4, 4)])
    check_run(rng, "float64", nn.LocalResponseNorm(2, 1e-2, 0.5, 2.0),
              tnn.LocalResponseNorm(2, 1e-2, 0.5, 2.0), [(2, 5, 4)])


NORM_ERRORS = [
    lambda m, x: m.BatchNorm2d(3)(x[0]),
    lambda m, x: m.BatchNorm1d(3)(x),
    lambda m, x: m.BatchNorm2d(4)(x),
    lambda m, x: m.BatchNorm2d(3)(x[:1, :, :1, :1]),
    lambda m, x: m.GroupNorm(4, 6),
    lambda m, x: m.GroupNorm(2, 2)(x),
    lambda m, x: m.InstanceNorm2d(3)(x[0, 0]),
    lambda m, x: m.InstanceNorm1d(3)(x[:, :, :1, 0]),
    lambda m, x: m.LocalResponseNorm(2)(x[0, 0]),
]


@pytest.mark.parametrize("call", NORM_ERRORS)
def test_norm_errors_match_torch(call):
    values = np.zeros((2, 3, 5, 5), np.float32)
    expected = torch_error(lambda: call(tnn, torch.from_numpy(values)))
    with pytest.raises(type(expected)) as raised:
        call(nn, from_array(values))
    assert same_message(raised.value, expected)


def test_norm_reprs():
    for args in [("BatchNorm2d", 3), ("BatchNorm1d", 4, 1e-3, None, False),
                 ("InstanceNorm2d", 3), ("GroupNorm", 2, 4), ("LocalResponseNorm", 2)]:
        assert repr(getattr(nn, args[0])(*args[1:])) == repr(getattr(tnn, args[0])(*args[1:]))


# --- Dropout --------------------------------------------------------------------

@pytest.mark.parametrize("cls,shape", [(nn.Dropout1d, (8, 16, 5)), (nn.Dropout2d, (8, 16, 3, 3)),
                                       (nn.Dropout1d, (16, 5))])
def test_channel_dropout(cls, shape):
    module = cls(0.25)
    x = from_array(np.ones(shape, np.float32)).requires_grad_()
    out = module(x)
    out.sum().backward()
    values = to_numpy(out)
    channels = values.reshape(-1, shape[-1]) if len(shape) == 2 else \
        values.reshape(shape[0] * shape[1], -1)
    # A channel is all zero or all 1 / (1 - p), and the gradient is the same mask.
    assert set(np.unique(channels)) <= {0.0, np.float32(1 / 0.75)}
    assert all(len(np.unique(row)) == 1 for row in channels)
    assert 0.05 < (channels[:, 0] == 0).mean() < 0.5
    np.testing.assert_array_equal(to_numpy(x.grad), values)
    module.eval()
    assert module(x) is x
    if cls is nn.Dropout2d:
        assert (to_numpy(F.dropout2d(x, 1.0)) == 0).all()


# --- Padding ----------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_pad_modes(rng, mode):
    check_run(rng, "float64", lambda x: F.pad(x, (2, 3, 1, 2), mode=mode),
              lambda t: TF.pad(t, (2, 3, 1, 2), mode=mode), [(2, 3, 5, 6)])
    check_run(rng, "float64", lambda x: F.pad(x, (2, -1), mode=mode),
              lambda t: TF.pad(t, (2, -1), mode=mode), [(2, 3, 5)])


def test_pad_constant_and_3d_replicate(rng):
    check_run(rng, "float64", lambda x: F.pad(x, (1, -2, 3, 4, 1, 0), value=2.5),
              lambda t: TF.pad(t, (1, -2, 3, 4, 1, 0), value=2.5), [(2, 3, 5, 6)])
    check_run(rng, "float64", lambda x: F.pad(x, (1, 2, 3, 4, 1, 1), mode="replicate"),
              lambda t: TF.pad(t, (1, 2, 3, 4, 1, 1), mode="replicate"), [(2, 3, 5, 6)])


PAD_ERRORS = [
    ((1, 2, 3, 4), "reflect"), ((5, 2), "reflect"), ((6, 2), "circular"),
    ((1, 2, 3), "replicate"), ((1, 2), "bogus"), ((1, 1) * 5, "constant"),
    ((1, 2, 1, 1), "circular"),
]


@pytest.mark.parametrize("pad,mode", PAD_ERRORS)
def test_pad_errors_match_torch(pad, mode):
    shape = (3, 4, 5) if pad == (1, 2, 1, 1) else (2, 3, 4, 5)
    if pad == (5, 2):
        shape = (2, 3, 5)
    if pad == (6, 2):
        shape = (2, 3, 5)
    values = np.zeros(shape, np.float32)
    expected = torch_error(lambda: TF.pad(torch.from_numpy(values), pad, mode=mode))
    with pytest.raises(type(expected)) as raised:
        F.pad(from_array(values), pad, mode=mode)
    if mode != "reflect":
        assert same_message(raised.value, expected)
    with pytest.raises(RuntimeError, match="doesn't take in value"):
        F.pad(from_array(values), (1, 1), mode="reflect", value=2.0)


# --- Resizing ---------------------------------------------------------------------

RESIZE = [dict(scale_factor=2), dict(size=(7, 9)), dict(scale_factor=1.7),
          dict(size=(3, 4)), dict(scale_factor=(0.6, 2.3)),
          dict(scale_factor=(0.6, 2.3), recompute_scale_factor=True)]


@pytest.mark.parametrize("kwargs", RESIZE)
def test_interpolate(rng, kwargs):
    for mode, align_corners in [("nearest", None), ("nearest-exact", None),
                                ("bilinear", False), ("bilinear", True)]:
        check_run(rng, "float32",
                  lambda x: F.interpolate(x, mode=mode, align_corners=align_corners, **kwargs),
                  lambda t: TF.interpolate(t, mode=mode, align_corners=align_corners,
                                           **kwargs),
                  [(2, 3, 5, 6)])


def test_interpolate_linear_area_and_modules(rng):
    check_run(rng, "float64", lambda x: F.interpolate(x, scale_factor=2.5, mode="linear"),
              lambda t: TF.interpolate(t, scale_factor=2.5, mode="linear"), [(2, 3, 5)])
    check_run(rng, "float64", lambda x: F.interpolate(x, size=(3, 4), mode="area"),
              lambda t: TF.interpolate(t, size=(3, 4), mode="area"), [(2, 3, 5, 6)])
    check_run(rng, "float64", lambda x: F.interpolate(x, size=7),
              lambda t: TF.interpolate(t, size=7), [(2, 3, 5)])
    for args in [dict(scale_factor=2), dict(size=(4, 3), mode="bilinear")]:
        e, t = nn.Upsample(**args), tnn.Upsample(**args)
        assert repr(e) == repr(t)
        check_run(rng, "float64", e, t, [(1, 2, 3, 5)])
    check_run(rng, "float64", nn.UpsamplingBilinear2d(scale_factor=2),
              tnn.UpsamplingBilinear2d(scale_factor=2), [(1, 2, 3, 5)])
    check_run(rng, "float64", nn.UpsamplingNearest2d(size=(4, 7)),
              tnn.UpsamplingNearest2d(size=(4, 7)), [(1, 2, 3, 5)])


INTERPOLATE_ERRORS = [
    dict(scale_factor=2, mode="nearest", align_corners=True),
    dict(size=3, scale_factor=2),
    dict(),
    dict(size=(3,)),
    dict(size=3, recompute_scale_factor=True),
    dict(size=3, mode="bogus"),
    dict(size=3, mode="linear"),
]


@pytest.mark.parametrize("kwargs", INTERPOLATE_ERRORS)
def test_interpolate_errors_match_torch(kwargs):
    values = np.zeros((2, 3, 4, 5), np.float32)
    expected = torch_error(lambda: TF.interpolate(torch.from_numpy(values), **kwargs))
    with pytest.raises(type(expected)) as raised:
        F.interpolate(from_array(values), **kwargs)
    assert same_message(raised.value, expected)


def test_pixel_shuffle_modules(rng):
    for e, t, shape in [(nn.PixelShuffle(2), tnn.PixelShuffle(2), (2, 8, 3, 4)),
                        (nn.PixelUnshuffle(2), tnn.PixelUnshuffle(2), (2, 2, 4, 6))]:
        assert repr(e) == repr(t)
        check_run(rng, "float64", e, t, [shape])
    for e, t, shape in [(nn.PixelShuffle(2), tnn.PixelShuffle(2), (2, 5, 3, 3)),
                        (nn.PixelUnshuffle(2), tnn.PixelUnshuffle(2), (2, 4, 3, 3))]:
        expected = torch_error(lambda: t(torch.zeros(shape)))
        with pytest.raises(type(expected), match="divisible"):
            e(from_array(np.zeros(shape, np.float32)))


# --- Unfold, fold, unflatten ----------------------------------------------------------

@pytest.mark.parametrize("kwargs", [
    dict(kernel_size=2),
    dict(kernel_size=(2, 3), dilation=(1, 2), padding=1, stride=(2, 1)),
])
def test_unfold_fold(rng, kwargs):
    check_run(rng, "float64", lambda x: F.unfold(x, **kwargs),
              lambda t: TF.unfold(t, **kwargs), [(2, 3, 5, 6)])
    check_run(rng, "float64", nn.Unfold(**kwargs), tnn.Unfold(**kwargs), [(3, 5, 6)])
    blocks = TF.unfold(torch.zeros(1, 3, 5, 6), **kwargs).shape[1:]
    check_run(rng, "float64", nn.Fold((5, 6), **kwargs), tnn.Fold((5, 6), **kwargs),
              [(2,) + tuple(blocks)])
    assert repr(nn.Fold((5, 6), **kwargs)) == repr(tnn.Fold((5, 6), **kwargs))


@pytest.mark.parametrize("shape", [(2, 13, 12), (2, 12, 11), (2, 2, 12, 11)])
def test_fold_errors_match_torch(shape):
    expected = torch_error(lambda: TF.fold(torch.zeros(shape), (4, 5), 2))
    with pytest.raises(type(expected)) as raised:
        F.fold(from_array(np.zeros(shape, np.float32)), (4, 5), 2)
    assert same_message(raised.value, expected)


def test_unflatten(rng):
    for dim, sizes, shape in [(1, (2, 3), (4, 6)), (-1, (2, -1), (4, 3, 6))]:
        e, t = nn.Unflatten(dim, sizes), tnn.Unflatten(dim, sizes)
        assert repr(e) == repr(t)
        check_run(rng, "float64", e, t, [shape])
    expected = torch_error(lambda: tnn.Unflatten(1, (2, 4))(torch.zeros(2, 6)))
    with pytest.raises(type(expected)) as raised:
        nn.Unflatten(1, (2, 4))(from_array(np.zeros((2, 6), np.float32)))
    assert same_message(raised.value, expected)


def test_pool_reprs():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, args in [("MaxPool2d", (2,)), ("MaxPool1d", (3, 2, 1)), ("AvgPool2d", (2,)),
                           ("AvgPool1d", (2,)), ("AdaptiveMaxPool2d", (2,)),
                           ("AdaptiveAvgPool1d", (3,)), ("Dropout2d", ()),
                           ("Dropout1d", (0.3,)), ("Unfold", (2,))]:
            assert repr(getattr(nn, name)(*args)) == repr(getattr(tnn, name)(*args))


@pytest.mark.skipif(DEVICE != "cpu", reason="ember.export traces on the CPU")
def test_cnn_exports_with_a_symbolic_batch(rng):
    """Zero padding, pooling and BatchNorm in eval mode make no constant of
    the batch's size, so the model exports with a symbolic batch dim."""
    model = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                          nn.MaxPool2d(3, 2, 1), nn.AvgPool2d(2, padding=1),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten())
    model(from_array(rng.standard_normal((4, 2, 8, 8)).astype(np.float32)))
    model.eval()
    example = from_array(rng.standard_normal((3, 2, 8, 8)).astype(np.float32))
    program = ember.export(model, example, dynamic_dims=[{0: "batch"}])
    for batch in (3, 5):
        x = from_array(rng.standard_normal((batch, 2, 8, 8)).astype(np.float32))
        with ember.no_grad():
            expected = to_numpy(model(x))
        np.testing.assert_allclose(to_numpy(program(x)), expected, rtol=1e-6, atol=1e-6)
