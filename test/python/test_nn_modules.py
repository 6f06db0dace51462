"""ember.nn's activation modules, containers, hooks, Module features and
EmbeddingBag against torch.nn 1.13: outputs, gradients of the input and of
the parameters, reprs, state_dict keys and round trips. Runs on the suite's
device (test_nn_modules_on_vulkan)."""

import collections

import numpy as np
import pytest
import torch

import ember
from ember import nn
from ember_testing import DEVICE, assert_close, from_array, to_numpy

RTOL, ATOL = 1e-4, 1e-5


def ember_repr(torch_object):
    return repr(torch_object).replace("torch.", "ember.")


def on_device(module):
    """``module`` with its parameters on the suite's device."""
    return module.to(DEVICE) if DEVICE != "cpu" else module


def copy_weights(ember_module, torch_module):
    """Loads torch's parameters and buffers into the ember module."""
    state = {k: from_array(v.detach().numpy()) for k, v in torch_module.state_dict().items()}
    ember_module.load_state_dict(state)


ACTIVATIONS = [
    ("LeakyReLU", (), {}),
    ("LeakyReLU", (0.2,), {}),
    ("ELU", (), {"alpha": 0.7}),
    ("CELU", (1.3,), {}),
    ("SELU", (), {}),
    ("SiLU", (), {}),
    ("Mish", (), {}),
    ("Softplus", (), {}),
    ("Softplus", (), {"beta": 2, "threshold": 3}),
    ("Softsign", (), {}),
    ("Hardtanh", (), {}),
    ("Hardtanh", (-0.5, 1.5), {}),
    ("Hardswish", (), {}),
    ("Hardsigmoid", (), {}),
    ("ReLU6", (), {}),
    ("GLU", (), {}),
    ("GLU", (0,), {}),
    ("LogSigmoid", (), {}),
    ("Softmin", (1,), {}),
    ("Softmax2d", (), {}),
    ("Softshrink", (), {}),
    ("Softshrink", (0.8,), {}),
    ("Hardshrink", (), {"lambd": 0.3}),
    ("Tanhshrink", (), {}),
    ("Threshold", (0.1, -2.0), {}),
    ("RReLU", (0.1, 0.3), {}),
]


def _input(rng, name):
    shape = (4, 6, 3, 2) if name == "Softmax2d" else (4, 6)
    x = rng.uniform(-4, 4, shape).astype(np.float32)
    # Keep clear of the kinks, where one-sided derivatives may differ.
    for kink in (0.0, 0.1, 0.3, -0.5, 0.5, 0.8, -0.8, 1.0, -1.0, 1.5, 3.0, -3.0, 6.0):
        x = np.where(np.abs(x - kink) < 0.02, kink + 0.05, x)
    return x


@pytest.mark.parametrize("name,args,kwargs", ACTIVATIONS,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(ACTIVATIONS)])
def test_activation_modules(rng, name, args, kwargs):
    ember_module = getattr(nn, name)(*args, **kwargs).eval()
    torch_module = getattr(torch.nn, name)(*args, **kwargs).eval()
    assert repr(ember_module) == repr(torch_module)
    array = _input(rng, name)
    x = from_array(array).requires_grad_()
    t = torch.tensor(array, requires_grad=True)
    out, expected = ember_module(x), torch_module(t)
    assert_close(out, expected, rtol=RTOL, atol=ATOL)
    cotangent = rng.standard_normal(tuple(expected.shape)).astype(np.float32)
    out.backward(from_array(cotangent))
    expected.backward(torch.from_numpy(cotangent))
    assert_close(x.grad, t.grad, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("name,args", [("ReLU6", ()), ("LeakyReLU", (0.1,)), ("ELU", ()),
                                       ("SELU", ()), ("SiLU", ()), ("Hardtanh", ()),
                                       ("Hardswish", ()), ("Threshold", (0.5, 9.0))])
def test_inplace_activation_modules(rng, name, args):
    ember_module = getattr(nn, name)(*args, inplace=True)
    torch_module = getattr(torch.nn, name)(*args, inplace=True)
    assert repr(ember_module) == repr(torch_module)
    array = _input(rng, name)
    x, t = from_array(array), torch.from_numpy(array.copy())
    result = ember_module(x)
    torch_module(t)
    assert result is x
    assert_close(x, t, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("num_parameters", [1, 6])
def test_prelu_gradients_of_input_and_weight(rng, num_parameters):
    ember_module = nn.PReLU(num_parameters, init=0.1)
    torch_module = torch.nn.PReLU(num_parameters, init=0.1)
    assert repr(ember_module) == repr(torch_module)
    assert list(ember_module.state_dict()) == ["weight"]
    with torch.no_grad():
        torch_module.weight.uniform_(-0.5, 0.5)
    copy_weights(ember_module, torch_module)
    if DEVICE != "cpu":
        ember_module.to(DEVICE)
    array = _input(rng, "PReLU").reshape(4, 6, 1) * np.ones((1, 1, 3), np.float32)
    x = from_array(array).requires_grad_()
    t = torch.tensor(array, requires_grad=True)
    out, expected = ember_module(x), torch_module(t)
    assert_close(out, expected)
    out.sum().backward()
    expected.sum().backward()
    assert_close(x.grad, t.grad)
    assert_close(ember_module.weight.grad, torch_module.weight.grad, rtol=1e-4, atol=1e-4)


def test_rrelu_draws_slopes_while_training(rng):
    x = from_array(-np.abs(rng.standard_normal((200,))).astype(np.float32) - 0.1)
    module = nn.RReLU(0.1, 0.3)
    slopes = to_numpy(module(x)) / to_numpy(x)
    assert slopes.min() >= 0.1 - 1e-6 and slopes.max() <= 0.3 + 1e-6
    assert slopes.std() > 0.01
    module.eval()
    np.testing.assert_allclose(to_numpy(module(x)) / to_numpy(x), 0.2, rtol=1e-5)


# Containers -------------------------------------------------------------------

def _module_dict(lib):
    return lib.nn.ModuleDict({"fc": lib.nn.Linear(3, 4), "act": lib.nn.Tanh()})


def test_module_dict_matches_torch():
    ember_dict, torch_dict = _module_dict(ember), _module_dict(torch)
    assert ember_repr(torch_dict) == repr(ember_dict)
    assert list(ember_dict.state_dict()) == list(torch_dict.state_dict())
    for d, lib in ((ember_dict, ember), (torch_dict, torch)):
        d["out"] = lib.nn.Linear(4, 2)
        d.update([("extra", lib.nn.ReLU())])
        d.update(collections.OrderedDict(norm=lib.nn.LayerNorm(2)))
        assert d.pop("extra").__class__.__name__ == "ReLU"
        del d["act"]
        assert "act" not in d and "out" in d and len(d) == 3
    assert list(ember_dict.keys()) == list(torch_dict.keys())
    assert [type(m).__name__ for m in ember_dict.values()] == \
        [type(m).__name__ for m in torch_dict.values()]
    assert [k for k, _ in ember_dict.named_parameters()] == \
        [k for k, _ in torch_dict.named_parameters()]
    with pytest.raises(TypeError):
        ember_dict.update(5)
    with pytest.raises(ValueError, match="has length 3; 2 is required"):
        ember_dict.update([("a", nn.ReLU(), 1)])
    ember_dict.clear()
    assert len(ember_dict) == 0


def test_parameter_list_matches_torch(rng):
    arrays = [rng.standard_normal(s).astype(np.float32) for s in [(2, 3), (4,)]]
    ember_list = nn.ParameterList([nn.Parameter(from_array(a)) for a in arrays])
    torch_list = torch.nn.ParameterList([torch.nn.Parameter(torch.from_numpy(a))
                                         for a in arrays])
    ember_list.append(from_array(arrays[1] * 2))  # a plain tensor becomes a Parameter
    torch_list.append(torch.from_numpy(arrays[1] * 2))
    ember_list += [nn.Parameter(from_array(arrays[0]))]
    torch_list += [torch.nn.Parameter(torch.from_numpy(arrays[0]))]
    assert len(ember_list) == len(torch_list) == 4
    assert isinstance(ember_list[2], nn.Parameter)
    if DEVICE == "cpu":
        assert repr(ember_list) == ember_repr(torch_list)
    assert list(ember_list.state_dict()) == list(torch_list.state_dict())
    assert_close(ember_list[-1], torch_list[-1])
    assert len(ember_list[1:3]) == 2
    assert [tuple(p.shape) for p in ember_list] == [tuple(p.shape) for p in torch_list]
    with pytest.raises(IndexError, match="index 4 is out of range"):
        ember_list[4]
    with pytest.raises(RuntimeError, match="ParameterList should not be called"):
        ember_list(1)


def test_parameter_dict_matches_torch(rng):
    a, b = rng.standard_normal((2, 3, 2)).astype(np.float32)
    # A plain dict is taken in sorted key order, as torch 1.13 does.
    ember_dict = nn.ParameterDict({"z": nn.Parameter(from_array(a)), "b": from_array(b)})
    torch_dict = torch.nn.ParameterDict({"z": torch.nn.Parameter(torch.from_numpy(a)),
                                         "b": torch.from_numpy(b)})
    assert list(ember_dict.keys()) == list(torch_dict.keys()) == ["b", "z"]
    assert isinstance(ember_dict["b"], nn.Parameter)
    if DEVICE == "cpu":
        assert repr(ember_dict) == ember_repr(torch_dict)
    assert list(ember_dict.state_dict()) == list(torch_dict.state_dict())
    ember_dict.setdefault("c", nn.Parameter(from_array(a)))
    assert "c" in ember_dict and len(ember_dict) == 3
    assert ember_dict.get("missing") is None
    key, _ = ember_dict.popitem()
    assert key == "c"
    merged = ember_dict | nn.ParameterDict(collections.OrderedDict(q=nn.Parameter(
        from_array(b))))
    assert list(merged.keys()) == ["b", "z", "q"]
    del ember_dict["b"]
    assert list(ember_dict.keys()) == ["z"]
    assert [k for k, _ in ember_dict.named_parameters()] == ["z"]
    with pytest.raises(TypeError, match="cannot be used as a key"):
        ember_dict[3]


# Hooks and Module features ----------------------------------------------------

def _net(lib):
    class Net(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = lib.nn.Linear(3, 4)
            self.body = lib.nn.Sequential(lib.nn.Linear(4, 4), lib.nn.ReLU())
            self.register_buffer("steps", lib.zeros(1))
            self.register_buffer("scratch", lib.ones(2), persistent=False)

        def forward(self, x):
            return self.body(self.fc(x))

    return Net()


def test_forward_hooks_and_handles(rng):
    ember_net, torch_net = _net(ember), _net(torch)
    copy_weights(ember_net, torch_net)
    on_device(ember_net)
    array = rng.standard_normal((2, 3)).astype(np.float32)
    calls = {ember: [], torch: []}
    handles = {}
    for net, lib in ((ember_net, ember), (torch_net, torch)):
        def pre_hook(module, inputs, lib=lib):
            calls[lib].append(("pre", type(module).__name__, len(inputs)))
            return inputs[0] * 2  # a non-tuple result replaces the inputs

        def hook(module, inputs, output, lib=lib):
            calls[lib].append(("post", type(module).__name__))
            return output + 1

        def observer(module, inputs, output, lib=lib):
            calls[lib].append(("observe", tuple(output.shape)))

        handles[lib] = [net.fc.register_forward_pre_hook(pre_hook),
                        net.body.register_forward_hook(hook),
                        net.register_forward_hook(observer)]
    x, t = from_array(array), torch.from_numpy(array)
    assert_close(ember_net(x), torch_net(t), rtol=RTOL, atol=ATOL)
    assert calls[ember] == calls[torch]
    for handle in handles[ember] + handles[torch]:
        handle.remove()
        handle.remove()  # a second remove is harmless
    assert_close(ember_net(x), torch_net(t), rtol=RTOL, atol=ATOL)
    assert len(calls[ember]) == 3
    with ember_net.register_forward_hook(lambda m, i, o: o * 0) as handle:
        assert float(to_numpy(ember_net(x)).sum()) == 0.0
    assert handle.id not in ember_net._forward_hooks
    assert float(np.abs(to_numpy(ember_net(x))).sum()) > 0.0


def test_global_forward_hooks():
    from ember.nn.module import register_module_forward_hook
    seen = []
    handle = register_module_forward_hook(lambda m, i, o: seen.append(type(m).__name__))
    nn.Sequential(nn.Tanh(), nn.ReLU())(from_array(np.ones(2, np.float32)))
    handle.remove()
    nn.Tanh()(from_array(np.ones(2, np.float32)))
    assert seen == ["Tanh", "ReLU", "Sequential"]


def test_module_traversal_matches_torch():
    ember_net, torch_net = _net(ember), _net(torch)
    for method in ("named_modules", "named_children", "named_parameters", "named_buffers"):
        assert [n for n, _ in getattr(ember_net, method)()] == \
            [n for n, _ in getattr(torch_net, method)()], method
    assert [type(m).__name__ for m in ember_net.modules()] == \
        [type(m).__name__ for m in torch_net.modules()]
    assert [type(m).__name__ for m in ember_net.children()] == \
        [type(m).__name__ for m in torch_net.children()]
    assert list(ember_net.state_dict()) == list(torch_net.state_dict())
    assert "scratch" not in ember_net.state_dict()
    assert ember_net.get_submodule("body.0") is ember_net.body[0]
    assert ember_net.get_parameter("body.0.bias") is ember_net.body[0].bias
    assert ember_net.get_buffer("steps") is ember_net.steps
    with pytest.raises(AttributeError, match="has no attribute `nope`"):
        ember_net.get_submodule("body.nope")
    with pytest.raises(AttributeError, match="is not an nn.Parameter"):
        ember_net.get_parameter("steps")
    visited = []
    assert ember_net.apply(lambda m: visited.append(type(m).__name__)) is ember_net
    torch_visited = []
    torch_net.apply(lambda m: torch_visited.append(type(m).__name__))
    assert visited == torch_visited
    assert repr(ember_net) == repr(torch_net)


def test_apply_initializes_and_train_eval():
    net = _net(ember)

    def init_linear(module):
        if isinstance(module, nn.Linear):
            nn.init.constant_(module.weight, 0.25)
            nn.init.zeros_(module.bias)

    net.apply(init_linear)
    assert np.all(to_numpy(net.body[0].weight) == 0.25)
    assert not net.eval().training and not net.body[1].training
    assert net.train().body[0].training
    with pytest.raises(ValueError, match="expected to be boolean"):
        net.train("no")


@pytest.mark.parametrize("set_to_none", [True, False])
def test_zero_grad(rng, set_to_none):
    net = on_device(_net(ember))
    net(from_array(rng.standard_normal((2, 3)).astype(np.float32))).sum().backward()
    assert net.fc.weight.grad is not None
    net.zero_grad(set_to_none=set_to_none)
    if set_to_none:
        assert all(p.grad is None for p in net.parameters())
    else:
        assert all(float(np.abs(to_numpy(p.grad)).sum()) == 0.0 for p in net.parameters())


def test_load_state_dict_strict_and_round_trip(rng):
    ember_net, torch_net = _net(ember), _net(torch)
    state = {k: torch.from_numpy(rng.standard_normal(tuple(v.shape)).astype(np.float32))
             for k, v in torch_net.state_dict().items()}
    torch_net.load_state_dict(state)
    copy_weights(ember_net, torch_net)
    round_trip = {k: torch.from_numpy(to_numpy(v)) for k, v in ember_net.state_dict().items()}
    for key, value in torch_net.state_dict().items():
        assert torch.equal(round_trip[key], value), key
    partial = {k: from_array(v.numpy()) for k, v in state.items() if k != "fc.bias"}
    partial["extra.weight"] = from_array(np.ones(2, np.float32))
    torch_partial = {k: v for k, v in state.items() if k != "fc.bias"}
    torch_partial["extra.weight"] = torch.ones(2)
    result = ember_net.load_state_dict(partial, strict=False)
    expected = torch_net.load_state_dict(torch_partial, strict=False)
    assert result.missing_keys == expected.missing_keys == ["fc.bias"]
    assert result.unexpected_keys == expected.unexpected_keys == ["extra.weight"]
    with pytest.raises(RuntimeError, match='Missing key\\(s\\) in state_dict: "fc.bias"'):
        ember_net.load_state_dict(partial)
    with pytest.raises(RuntimeError, match='Unexpected key\\(s\\) in state_dict: '
                                           '"extra.weight"'):
        ember_net.load_state_dict(partial)


# EmbeddingBag -------------------------------------------------------------------

BAGS = [
    ({"mode": "sum"}, "offsets", {}),
    ({"mode": "mean"}, "offsets", {}),
    ({"mode": "max"}, "offsets", {}),
    ({"mode": "sum"}, "offsets", {"per_sample_weights": True}),
    ({"mode": "mean", "include_last_offset": True}, "offsets", {}),
    ({"mode": "mean", "padding_idx": 2}, "offsets", {}),
    ({"mode": "max", "padding_idx": 2}, "offsets", {}),
    ({"mode": "sum", "padding_idx": 2}, "2d", {}),
    ({"mode": "mean"}, "2d", {}),
    ({"mode": "max"}, "2d", {}),
]


@pytest.mark.parametrize("kwargs,layout,extra", BAGS, ids=[str(i) for i in range(len(BAGS))])
def test_embedding_bag(rng, kwargs, layout, extra):
    torch_bag = torch.nn.EmbeddingBag(10, 3, **kwargs)
    ember_bag = nn.EmbeddingBag(10, 3, **kwargs)
    assert repr(ember_bag) == repr(torch_bag)
    copy_weights(ember_bag, torch_bag)
    if DEVICE != "cpu":
        ember_bag.to(DEVICE)
    if layout == "2d":
        indices = rng.integers(0, 10, (4, 3))
        indices[1, :] = 2  # an all-padding bag
        offsets = None
    else:
        indices = np.array([1, 2, 4, 5, 4, 3, 2, 9, 2])
        # bags [1 2 4] [5 4] [] [3 2 9 2]; with include_last_offset the last
        # offset ends the final bag.
        offsets = np.array([0, 3, 5, 5] + ([9] if kwargs.get("include_last_offset") else []))
    ember_args = [from_array(indices)] + ([from_array(offsets)] if offsets is not None else [])
    torch_args = [torch.from_numpy(indices)] + \
        ([torch.from_numpy(offsets)] if offsets is not None else [])
    ember_kwargs, torch_kwargs = {}, {}
    if extra.get("per_sample_weights"):
        weights = rng.uniform(0.5, 2, indices.shape).astype(np.float32)
        ember_kwargs["per_sample_weights"] = from_array(weights)
        torch_kwargs["per_sample_weights"] = torch.from_numpy(weights)
    out = ember_bag(*ember_args, **ember_kwargs)
    expected = torch_bag(*torch_args, **torch_kwargs)
    assert_close(out, expected, rtol=RTOL, atol=ATOL)
    cotangent = rng.standard_normal(tuple(expected.shape)).astype(np.float32)
    (out * from_array(cotangent)).sum().backward()
    (expected * torch.from_numpy(cotangent)).sum().backward()
    assert_close(ember_bag.weight.grad, torch_bag.weight.grad, rtol=RTOL, atol=ATOL)


def test_embedding_bag_errors():
    bag = nn.EmbeddingBag(5, 2)
    with pytest.raises(ValueError, match="offsets has to be None"):
        bag(from_array(np.zeros((2, 2), np.int64)), from_array(np.array([0, 1])))
    with pytest.raises(NotImplementedError, match="only supported for mode='sum'"):
        bag(from_array(np.zeros((2, 2), np.int64)),
            per_sample_weights=from_array(np.ones((2, 2), np.float32)))
    with pytest.raises(ValueError, match="offsets has to be a 1D Tensor but got None"):
        bag(from_array(np.zeros(3, np.int64)))


# Distances and Bilinear -----------------------------------------------------------

@pytest.mark.parametrize("name,kwargs", [("CosineSimilarity", {}),
                                         ("CosineSimilarity", {"dim": 0, "eps": 1e-3}),
                                         ("PairwiseDistance", {}),
                                         ("PairwiseDistance", {"p": 1.0, "keepdim": True}),
                                         ("Bilinear", {})])
def test_two_input_modules(rng, name, kwargs):
    if name == "Bilinear":
        ember_module, torch_module = nn.Bilinear(3, 5, 2), torch.nn.Bilinear(3, 5, 2)
        copy_weights(ember_module, torch_module)
        if DEVICE != "cpu":
            ember_module.to(DEVICE)
        shapes = [(4, 3), (4, 5)]
    else:
        ember_module = getattr(nn, name)(**kwargs)
        torch_module = getattr(torch.nn, name)(**kwargs)
        shapes = [(4, 5), (4, 5)]
    assert repr(ember_module) == repr(torch_module)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    xs = [from_array(a).requires_grad_() for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, expected = ember_module(*xs), torch_module(*ts)
    assert_close(out, expected, rtol=RTOL, atol=ATOL)
    out.sum().backward()
    expected.sum().backward()
    for x, t in zip(xs, ts):
        assert_close(x.grad, t.grad, rtol=RTOL, atol=ATOL)
    if name == "Bilinear":
        assert_close(ember_module.weight.grad, torch_module.weight.grad, rtol=RTOL, atol=ATOL)


def test_sequential_and_module_list_editing_match_torch():
    def build(lib):
        layers = [lib.nn.Linear(2, 2), lib.nn.ReLU(), lib.nn.Tanh()]
        seq, mlist = lib.nn.Sequential(*layers), lib.nn.ModuleList(layers)
        seq.insert(1, lib.nn.Sigmoid())
        seq.extend(lib.nn.Sequential(lib.nn.ELU()))
        popped = seq.pop(0)
        seq += lib.nn.Sequential(lib.nn.GELU())
        doubled = seq * 2
        tripled = 3 * lib.nn.Sequential(lib.nn.ReLU())
        mlist.insert(0, lib.nn.Sigmoid())
        del mlist[1]
        mlist.pop(-1)
        mlist += [lib.nn.SiLU()]
        combined = mlist + lib.nn.ModuleList([lib.nn.Mish()])
        names = lambda c: [(k, type(m).__name__) for k, m in c._modules.items()]  # noqa: E731
        return [type(popped).__name__, names(seq), names(doubled), names(tripled),
                names(mlist), names(combined)]

    assert build(ember) == build(torch)
    with pytest.raises(ValueError, match="only objects of Sequential class"):
        nn.Sequential() + nn.ModuleList()
    with pytest.raises(ValueError, match="Non-positive multiplication factor 0"):
        nn.Sequential(nn.ReLU()) * 0


def test_module_type_and_share_memory():
    net = _net(ember)
    assert net.share_memory() is net
    net.type(ember.float64)
    assert all(p.dtype == ember.float64 for p in net.parameters())
    assert net.steps.dtype == ember.float64
