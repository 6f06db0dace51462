"""``device=`` and ``dtype=`` in module constructors, as torch's
``factory_kwargs``: every ember.nn module that torch gives them accepts the
same keywords, makes its parameters with that dtype on that device, and
raises as ``ember.zeros`` does where the device is absent."""
import inspect

import numpy as np
import pytest
import torch

import ember
from ember import nn

# Constructor arguments (besides device and dtype) for every module class
# that takes factory kwargs; test_every_factory_module_has_cases keeps this
# list complete.
CASES = [
    ("Linear", (3, 2), {}),
    ("Linear", (3, 2), {"bias": False}),
    ("LayerNorm", ((2, 3),), {}),
    ("LayerNorm", (4,), {"elementwise_affine": False}),
    ("Embedding", (5, 3), {}),
    ("Embedding", (5, 3), {"padding_idx": 1}),
    # Attention and transformers.
    ("MultiheadAttention", (8, 2), {}),
    ("MultiheadAttention", (8, 2), {"kdim": 4, "vdim": 6, "add_bias_kv": True}),
    ("TransformerEncoderLayer", (8, 2), {"dim_feedforward": 16}),
    ("TransformerDecoderLayer", (8, 2), {"dim_feedforward": 16, "norm_first": True}),
    ("Transformer", (8, 2, 1, 1, 16), {}),
    # nn breadth (h-nn): activations with parameters, Bilinear, EmbeddingBag.
    ("PReLU", (), {}),
    ("PReLU", (4, 0.1), {}),
    ("Bilinear", (3, 2, 4), {}),
    ("Bilinear", (3, 2, 4), {"bias": False}),
    ("EmbeddingBag", (5, 3), {"mode": "sum"}),
    ("EmbeddingBag", (5, 3), {"padding_idx": 1}),
    ("Conv1d", (4, 2, 3), {"stride": 2, "groups": 2}),
    ("Conv2d", (3, 2, (3, 2)), {"padding": "same", "bias": False}),
    ("Conv3d", (2, 4, 2), {"padding_mode": "circular", "padding": 1}),
    ("ConvTranspose1d", (2, 4, 3), {"stride": 2}),
    ("ConvTranspose2d", (4, 2, 3), {"groups": 2, "output_padding": 1, "stride": 2}),
    ("ConvTranspose3d", (2, 3, 2), {"bias": False}),
    ("BatchNorm1d", (3,), {}),
    ("BatchNorm2d", (3,), {"affine": False, "momentum": None}),
    ("BatchNorm3d", (2,), {"track_running_stats": False}),
    ("InstanceNorm1d", (3,), {"affine": True}),
    ("InstanceNorm2d", (3,), {"track_running_stats": True}),
    ("InstanceNorm3d", (2,), {"affine": True, "track_running_stats": True}),
    ("GroupNorm", (2, 4), {}),
    # Recurrent layers (RNN, LSTM and GRU take *args/**kwargs and pass them
    # to RNNBase, as in torch).
    ("RNNBase", ("LSTM", 3, 4), {"num_layers": 2, "proj_size": 2}),
    ("RNNBase", ("GRU", 3, 4), {"bidirectional": True, "bias": False}),
    ("RNNCellBase", (3, 4, True, 4), {}),
    ("RNNCell", (3, 4), {"nonlinearity": "relu"}),
    ("LSTMCell", (3, 4), {}),
    ("GRUCell", (3, 4), {"bias": False}),
]
CASE_IDS = [f"{name}{args}{kwargs or ''}" for name, args, kwargs in CASES]

# Modules of torch 2.4+ that torch 1.13 lacks: their constructor's parameters
# as torch 2.4 spells them, and cases (args, kwargs, the state dict's shapes).
NEWER_THAN_TORCH = {
    "RMSNorm": ["self", "normalized_shape", "eps", "elementwise_affine", "device",
                "dtype"],
}
NEWER_CASES = [
    ("RMSNorm", ((2, 3),), {}, {"weight": (2, 3)}),
    ("RMSNorm", (4,), {"elementwise_affine": False}, {}),
]


def module_classes():
    return sorted(name for name, value in vars(nn).items()
                  if inspect.isclass(value) and issubclass(value, nn.Module)
                  and value is not nn.Module)


def takes_factory_kwargs(cls):
    params = inspect.signature(cls.__init__).parameters
    return "device" in params and "dtype" in params


def torch_dtype(dtype):
    return getattr(torch, str(dtype).split(".")[-1])


def test_factory_kwargs_where_torch_has_them():
    checked = 0
    for name in module_classes():
        if name in NEWER_THAN_TORCH:
            assert not hasattr(torch.nn, name), f"torch has {name}: test it as the others"
            assert list(inspect.signature(getattr(nn, name).__init__).parameters) == \
                NEWER_THAN_TORCH[name]
            continue
        ours, theirs = getattr(nn, name), getattr(torch.nn, name)
        assert takes_factory_kwargs(ours) == takes_factory_kwargs(theirs), name
        if takes_factory_kwargs(theirs):
            assert (list(inspect.signature(ours.__init__).parameters) ==
                    list(inspect.signature(theirs.__init__).parameters)), name
            checked += 1
    # Every class with a case (torch has each of them).
    assert checked == len({name for name, _, _ in CASES})


def test_every_factory_module_has_cases():
    factory = {name for name in module_classes()
               if takes_factory_kwargs(getattr(nn, name))}
    assert factory == ({name for name, _, _ in CASES} |
                       {name for name, _, _, _ in NEWER_CASES})


@pytest.mark.parametrize("name,args,kwargs,shapes", NEWER_CASES,
                         ids=[f"{n}{a}{k or ''}" for n, a, k, _ in NEWER_CASES])
@pytest.mark.parametrize("dtype", [ember.float64, ember.float32, ember.float16])
def test_dtype_of_modules_newer_than_torch(name, args, kwargs, shapes, dtype):
    state = getattr(nn, name)(*args, **kwargs, dtype=dtype).state_dict()
    assert {key: tuple(t.shape) for key, t in state.items()} == shapes
    assert all(t.dtype == dtype and str(t.device) == "cpu" for t in state.values())


@pytest.mark.parametrize("name,args,kwargs", CASES, ids=CASE_IDS)
@pytest.mark.parametrize("dtype", [ember.float64, ember.float32, ember.float16])
def test_dtype_matches_torch(name, args, kwargs, dtype):
    ours = getattr(nn, name)(*args, **kwargs, dtype=dtype)
    theirs = getattr(torch.nn, name)(*args, **kwargs, dtype=torch_dtype(dtype))
    state, expected = ours.state_dict(), theirs.state_dict()
    assert list(state) == list(expected)
    for key, tensor in state.items():
        assert tuple(tensor.shape) == tuple(expected[key].shape), key
        assert torch_dtype(tensor.dtype) == expected[key].dtype, key
        # BatchNorm's num_batches_tracked stays int64, as in torch.
        assert tensor.dtype == dtype or not expected[key].is_floating_point(), key
        assert str(tensor.device) == "cpu", key
    for param in ours.parameters():
        assert isinstance(param, nn.Parameter) and param.requires_grad


def test_dtype_initializes_like_torch():
    """The deterministic initializations come out exactly in float64."""
    norm = nn.LayerNorm(3, dtype=ember.float64)
    np.testing.assert_array_equal(norm.weight.detach().numpy(), np.ones(3))
    np.testing.assert_array_equal(norm.bias.detach().numpy(), np.zeros(3))
    embedding = nn.Embedding(4, 3, padding_idx=2, dtype=ember.float64)
    weight = embedding.weight.detach().numpy()
    assert weight.dtype == np.float64
    np.testing.assert_array_equal(weight[2], np.zeros(3))
    assert np.all(weight[[0, 1, 3]] != 0)
    linear = nn.Linear(4, 5, dtype=ember.float64)
    bound = 1 / np.sqrt(4)
    for param in (linear.weight, linear.bias):
        values = param.detach().numpy()
        assert values.dtype == np.float64
        assert np.all(np.abs(values) <= bound) and len(np.unique(values)) == values.size


def test_float64_forward_matches_torch(rng):
    linear = nn.Linear(4, 3, dtype=ember.float64)
    reference = torch.nn.Linear(4, 3, dtype=torch.float64)
    reference.load_state_dict({k: torch.from_numpy(v.detach().numpy())
                               for k, v in linear.state_dict().items()})
    x = rng.standard_normal((2, 4))
    got = linear(ember.from_numpy(x))
    assert got.dtype == ember.float64
    np.testing.assert_allclose(got.detach().numpy(),
                               reference(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name,args,kwargs", CASES, ids=CASE_IDS)
def test_default_dtype_is_followed(name, args, kwargs):
    before = ember.get_default_dtype()
    ember.set_default_dtype(ember.float64)
    try:
        module = getattr(nn, name)(*args, **kwargs)
    finally:
        ember.set_default_dtype(before)
    for key, tensor in module.state_dict().items():
        assert tensor.dtype == ember.float64 or not tensor.is_floating_point(), key


VULKAN = ember.vulkan.is_available()
needs_vulkan = pytest.mark.skipif(
    not VULKAN, reason="no Vulkan device: " + ember.vulkan.unavailable_reason())


@needs_vulkan
@pytest.mark.parametrize("name,args,kwargs", CASES, ids=CASE_IDS)
@pytest.mark.parametrize("device", ["vulkan", "vulkan:0", ember.device("vulkan")])
def test_parameters_on_vulkan(name, args, kwargs, device):
    module = getattr(nn, name)(*args, **kwargs, device=device, dtype=ember.float32)
    state = module.state_dict()
    assert state or kwargs.get("elementwise_affine") is False
    for key, tensor in state.items():
        assert str(tensor.device) == "vulkan", key
        assert tensor.dtype == ember.float32 or not tensor.is_floating_point(), key
    for param in module.parameters():
        assert isinstance(param, nn.Parameter) and param.requires_grad


@needs_vulkan
def test_vulkan_module_runs_there(rng):
    """A module made on Vulkan computes there what its CPU copy computes."""
    model = nn.Sequential(nn.Linear(6, 5, device="vulkan"), nn.ReLU(),
                          nn.LayerNorm(5, device="vulkan"))
    on_cpu = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.LayerNorm(5))
    on_cpu.load_state_dict({k: v.cpu() for k, v in model.state_dict().items()})
    x = rng.standard_normal((3, 6)).astype(np.float32)
    got = model(ember.from_numpy(x).to("vulkan"))
    assert str(got.device) == "vulkan"
    np.testing.assert_allclose(got.detach().cpu().numpy(),
                               on_cpu(ember.from_numpy(x)).detach().numpy(),
                               rtol=2e-5, atol=2e-5)
    got.sum().backward()
    assert str(model[0].weight.grad.device) == "vulkan"

    embedding = nn.Embedding(5, 3, padding_idx=1, device="vulkan", dtype=ember.float64)
    weight = embedding.weight.detach().cpu().numpy()
    assert weight.dtype == np.float64
    np.testing.assert_array_equal(weight[1], np.zeros(3))


@pytest.mark.parametrize("kind", ["cuda", "rocm", "xpu"])
@pytest.mark.parametrize("name,args,kwargs", [c for c in CASES if c[2].get(
    "elementwise_affine", True)], ids=[i for c, i in zip(CASES, CASE_IDS) if c[2].get(
        "elementwise_affine", True)])
def test_absent_device_raises_like_tensors(kind, name, args, kwargs):
    """Where the kind has a device, the parameters go there; where it has
    none, the module raises the error a tensor made there raises."""
    if getattr(ember, kind).is_available():
        module = getattr(nn, name)(*args, **kwargs, device=kind)
        for key, tensor in module.state_dict().items():
            assert str(tensor.device) == kind, key
        return
    with pytest.raises(RuntimeError) as tensor_error:
        ember.zeros(2, device=kind)
    assert "is not available" in str(tensor_error.value)
    with pytest.raises(RuntimeError) as module_error:
        getattr(nn, name)(*args, **kwargs, device=kind)
    assert str(module_error.value) == str(tensor_error.value)


def test_no_parameters_no_device_needed():
    """As in torch: LayerNorm without affine parameters allocates nothing,
    so an absent device is not touched."""
    norm = nn.LayerNorm(4, elementwise_affine=False, device="cuda")
    assert list(norm.state_dict()) == []
    torch_norm = torch.nn.LayerNorm(4, elementwise_affine=False, device="cuda")
    assert list(torch_norm.state_dict()) == []


def test_bad_device_name_raises():
    with pytest.raises((ValueError, RuntimeError), match="device type"):
        nn.Linear(3, 2, device="tpu")


@needs_vulkan
@pytest.mark.parametrize("write", ["fill_", "zero_", "ones_"])
def test_filled_device_leaf_stays_on_device(write):
    """The cause of modules made on Vulkan failing in forward: a leaf that
    requires grad, written under no_grad with a value made of constants, was
    computed on the CPU while reporting Vulkan."""
    leaf = ember.empty(4, device="vulkan").requires_grad_()
    with ember.no_grad():
        if write == "fill_":
            leaf.fill_(2.0)
        elif write == "zero_":
            leaf.zero_()
        else:
            nn.init.ones_(leaf)
    other = ember.ones(3, 4, device="vulkan")
    product = other * leaf
    assert str(product.device) == "vulkan" and str((leaf + 1).device) == "vulkan"
    expected = {"fill_": 2.0, "zero_": 0.0, "ones_": 1.0}[write]
    np.testing.assert_array_equal(product.detach().cpu().numpy(), np.full((3, 4), expected))
