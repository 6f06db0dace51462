"""ember.nn against torch.nn 1.13: forward passes with identical weights
(copied both ways), parameter registration and naming, train/eval,
zero_grad, state dicts and their errors, repr, and nn.init's distributions.
Gradients are not tested here: autograd is not in ember yet."""

import collections
import math

import numpy as np
import pytest
import torch

import ember
from ember import nn
from ember.nn import functional as F
from ember_testing import assert_close, from_array, pair, to_numpy


def to_ember_state(torch_module):
    return {k: from_array(v.detach().numpy()) for k, v in torch_module.state_dict().items()}


def to_torch_state(ember_module):
    return {k: torch.from_numpy(to_numpy(v)) for k, v in ember_module.state_dict().items()}


def model_class(nn_, lib):
    """The same architecture for either library (ember.nn or torch.nn)."""

    class Block(nn_.Module):
        def __init__(self, width):
            super().__init__()
            self.norm = nn_.LayerNorm(width)
            self.body = nn_.Sequential(nn_.Linear(width, 2 * width), nn_.GELU(),
                                       nn_.Linear(2 * width, width))
            self.scale = nn_.Parameter(lib.ones(width))

        def forward(self, x):
            return x + self.body(self.norm(x)) * self.scale

    class Net(nn_.Module):
        def __init__(self, vocab=11, width=6, classes=4):
            super().__init__()
            self.embed = nn_.Embedding(vocab, width)
            self.blocks = nn_.Sequential(Block(width), nn_.Tanh(), Block(width))
            self.head = nn_.Linear(width, classes, bias=False)
            self.drop = nn_.Dropout(0.3)

        def forward(self, tokens):
            return self.head(self.drop(self.blocks(self.embed(tokens))))

    return Net


EmberNet = model_class(nn, ember)
TorchNet = model_class(torch.nn, torch)


def make_pair():
    return EmberNet(), TorchNet()


# Forward passes -------------------------------------------------------------

@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(5, 4), (2, 3, 4), (4,)])
def test_linear_matches_torch_with_torch_weights(rng, bias, shape):
    t = torch.nn.Linear(4, 3, bias=bias)
    m = nn.Linear(4, 3, bias=bias)
    m.load_state_dict(to_ember_state(t))
    x, tx = pair(rng, shape)
    assert_close(m(x), t(tx).detach())


def test_linear_matches_torch_with_ember_weights(rng):
    m = nn.Linear(7, 5)
    t = torch.nn.Linear(7, 5)
    t.load_state_dict(to_torch_state(m))
    x, tx = pair(rng, (3, 7))
    assert_close(m(x), t(tx).detach())
    assert_close(F.linear(x, m.weight, m.bias), t(tx).detach())


@pytest.mark.parametrize("ember_layer,torch_layer", [
    (nn.ReLU(), torch.nn.ReLU()),
    (nn.GELU(), torch.nn.GELU()),
    (nn.GELU(approximate="tanh"), torch.nn.GELU(approximate="tanh")),
    (nn.Tanh(), torch.nn.Tanh()),
    (nn.Sigmoid(), torch.nn.Sigmoid()),
    (nn.Softmax(dim=1), torch.nn.Softmax(dim=1)),
    (nn.Softmax(dim=-1), torch.nn.Softmax(dim=-1)),
    (nn.LogSoftmax(dim=1), torch.nn.LogSoftmax(dim=1)),
    (nn.Identity(), torch.nn.Identity()),
    (nn.Flatten(), torch.nn.Flatten()),
], ids=lambda layer: repr(layer))
def test_activations_match_torch(rng, ember_layer, torch_layer):
    x, t = pair(rng, (3, 5, 2))
    assert_close(ember_layer(x), torch_layer(t))
    assert repr(ember_layer) == repr(torch_layer)


@pytest.mark.filterwarnings("ignore:nn.functional")
@pytest.mark.parametrize("name", ["relu", "gelu", "tanh", "sigmoid"])
def test_functional_activations_match_torch(rng, name):
    x, t = pair(rng, (4, 6))
    assert_close(getattr(F, name)(x), getattr(torch.nn.functional, name)(t))
    assert_close(F.softmax(x, dim=0), torch.nn.functional.softmax(t, dim=0))
    assert_close(F.log_softmax(x, -1), torch.nn.functional.log_softmax(t, -1))


def test_softmax_without_dim_raises():
    with pytest.raises(TypeError, match="dim"):
        F.softmax(ember.ones(3))


@pytest.mark.parametrize("normalized_shape,shape", [(6, (4, 6)), ((3, 5), (2, 3, 5))])
def test_layer_norm_matches_torch(rng, normalized_shape, shape):
    t = torch.nn.LayerNorm(normalized_shape, eps=1e-4)
    with torch.no_grad():
        t.weight.uniform_(0.5, 1.5)
        t.bias.uniform_(-1, 1)
    m = nn.LayerNorm(normalized_shape, eps=1e-4)
    m.load_state_dict(to_ember_state(t))
    x, tx = pair(rng, shape)
    assert_close(m(x), t(tx).detach())
    assert repr(m) == repr(t)
    no_affine = nn.LayerNorm(normalized_shape, elementwise_affine=False)
    assert list(no_affine.parameters()) == []
    assert_close(no_affine(x), torch.nn.functional.layer_norm(tx, t.normalized_shape))


def test_layer_norm_rejects_a_wrong_trailing_shape():
    with pytest.raises(RuntimeError, match=r"normalized_shape=\[4\]"):
        nn.LayerNorm(4)(ember.ones(2, 3))


def test_embedding_matches_torch(rng):
    t = torch.nn.Embedding(10, 4)
    m = nn.Embedding(10, 4)
    m.load_state_dict(to_ember_state(t))
    index = rng.integers(0, 10, size=(3, 5))
    assert_close(m(ember.tensor(index.tolist())), t(torch.from_numpy(index)).detach())
    assert_close(m(ember.tensor([7, 0, 7], dtype=ember.int32)),
                 t(torch.tensor([7, 0, 7])).detach())
    assert repr(m) == repr(t)


def test_embedding_padding_row_starts_at_zero():
    m = nn.Embedding(6, 3, padding_idx=-2)
    assert m.padding_idx == 4
    weight = to_numpy(m.weight)
    np.testing.assert_array_equal(weight[4], 0)
    assert np.all(weight[[0, 1, 2, 3, 5]] != 0)
    assert repr(m) == repr(torch.nn.Embedding(6, 3, padding_idx=-2))


def test_embedding_from_pretrained():
    weight = ember.randn(5, 2)
    m = nn.Embedding.from_pretrained(weight)
    assert m.weight.requires_grad is False
    assert_close(m(ember.tensor([4])), to_numpy(weight)[[4]])


def test_dropout_in_eval_mode_is_the_identity(rng):
    x, _ = pair(rng, (50,))
    layer = nn.Dropout(0.5).eval()
    assert layer(x) is x
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x


def test_dropout_in_train_mode_drops_and_scales():
    ember.manual_seed(3)
    x = ember.ones(200, 100)
    y = to_numpy(nn.Dropout(0.25)(x))
    kept = y != 0
    assert abs(kept.mean() - 0.75) < 0.01
    np.testing.assert_allclose(y[kept], 1 / 0.75, rtol=1e-6)
    np.testing.assert_array_equal(to_numpy(F.dropout(x, 1.0)), 0)
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(1.5)


def test_dropout_follows_ember_manual_seed():
    ember.manual_seed(9)
    first = to_numpy(F.dropout(ember.ones(64), 0.5))
    ember.manual_seed(9)
    np.testing.assert_array_equal(to_numpy(F.dropout(ember.ones(64), 0.5)), first)


def test_inplace_dropout_and_relu_write_the_input(rng):
    x, t = pair(rng, (8,))
    assert F.relu(x, inplace=True) is x
    assert_close(x, torch.relu(t))
    y = ember.ones(100)
    assert F.dropout(y, 0.5, inplace=True) is y
    assert set(np.unique(to_numpy(y))) <= {0.0, 2.0}


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_loss_matches_torch(rng, reduction):
    x, tx = pair(rng, (4, 3))
    y, ty = pair(rng, (4, 3))
    assert_close(nn.MSELoss(reduction=reduction)(x, y),
                 torch.nn.MSELoss(reduction=reduction)(tx, ty))
    assert_close(F.mse_loss(x, y, reduction=reduction),
                 torch.nn.functional.mse_loss(tx, ty, reduction=reduction))


def targets(rng, shape, classes, ignore=None):
    values = rng.integers(0, classes, size=shape)
    if ignore is not None:
        values.flat[::3] = ignore
    return ember.tensor(values.tolist(), dtype=ember.int64), torch.from_numpy(values)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("options", [
    {},
    {"weight": True},
    {"ignore_index": -100, "ignore": -100},
    {"ignore_index": 2, "ignore": 2},
    {"weight": True, "ignore_index": 1, "ignore": 1},
    {"label_smoothing": 0.2},
    {"label_smoothing": 0.1, "weight": True, "ignore_index": 0, "ignore": 0},
], ids=lambda o: ",".join(sorted(o)) or "plain")
def test_cross_entropy_matches_torch(rng, reduction, options):
    options = dict(options)
    ignore = options.pop("ignore", None)
    kwargs = dict(options, reduction=reduction)
    torch_kwargs = dict(kwargs)
    if options.get("weight"):
        w, tw = pair(rng, (5,), low=0.5, high=2.0)
        kwargs["weight"], torch_kwargs["weight"] = w, tw
    x, tx = pair(rng, (7, 5))
    y, ty = targets(rng, (7,), 5, ignore)
    expected = torch.nn.functional.cross_entropy(tx, ty, **torch_kwargs)
    assert_close(F.cross_entropy(x, y, **kwargs), expected)
    assert_close(nn.CrossEntropyLoss(**kwargs)(x, y), expected)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_with_extra_dims_and_unbatched(rng, reduction):
    x, tx = pair(rng, (3, 4, 2, 5))
    y, ty = targets(rng, (3, 2, 5), 4)
    assert_close(F.cross_entropy(x, y, reduction=reduction),
                 torch.nn.functional.cross_entropy(tx, ty, reduction=reduction))
    x, tx = pair(rng, (6,))
    assert_close(F.cross_entropy(x, ember.tensor(4), reduction=reduction),
                 torch.nn.functional.cross_entropy(tx, torch.tensor(4), reduction=reduction))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.3])
def test_cross_entropy_with_class_probabilities(rng, reduction, smoothing):
    x, tx = pair(rng, (4, 3))
    p, tp = pair(rng, (4, 3), low=0.0, high=1.0)
    w, tw = pair(rng, (3,), low=0.5, high=2.0)
    assert_close(F.cross_entropy(x, p, w, reduction=reduction, label_smoothing=smoothing),
                 torch.nn.functional.cross_entropy(tx, tp, tw, reduction=reduction,
                                                   label_smoothing=smoothing))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nll_loss_matches_torch(rng, reduction):
    x, tx = pair(rng, (6, 4))
    w, tw = pair(rng, (4,), low=0.5, high=2.0)
    y, ty = targets(rng, (6,), 4, ignore=-100)
    assert_close(F.nll_loss(x, y, reduction=reduction),
                 torch.nn.functional.nll_loss(tx, ty, reduction=reduction))
    assert_close(nn.NLLLoss(w, reduction=reduction)(x, y),
                 torch.nn.NLLLoss(tw, reduction=reduction)(tx, ty))


def test_loss_argument_errors():
    x = ember.zeros(3, 4)
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        F.cross_entropy(x, ember.tensor([0, 1, 2]), reduction="avg")
    with pytest.raises(ValueError, match=r"Expected target size \[3\], got \[2\]"):
        F.cross_entropy(x, ember.tensor([0, 1]))
    with pytest.raises(RuntimeError, match="Long"):
        F.nll_loss(x, ember.tensor([True, False, True]))


def test_whole_model_matches_torch_with_copied_weights(rng):
    m, t = make_pair()
    m.eval()
    t.eval()
    assert [n for n, _ in m.named_parameters()] == [n for n, _ in t.named_parameters()]
    m.load_state_dict(to_ember_state(t))
    tokens = rng.integers(0, 11, size=(2, 7))
    assert_close(m(ember.tensor(tokens.tolist())), t(torch.from_numpy(tokens)).detach(),
                 rtol=1e-5, atol=1e-5)
    # And the other way: ember's initial weights into torch.
    m2, t2 = make_pair()
    t2.load_state_dict(to_torch_state(m2))
    m2.eval()
    t2.eval()
    assert_close(m2(ember.tensor(tokens.tolist())), t2(torch.from_numpy(tokens)).detach(),
                 rtol=1e-5, atol=1e-5)


# Registration, traversal, modes ---------------------------------------------

def test_parameter_and_module_naming_matches_torch():
    m, t = make_pair()
    names = lambda items: [name for name, _ in items]  # noqa: E731
    assert names(m.named_parameters()) == names(t.named_parameters())
    assert names(m.named_parameters(prefix="model")) == names(t.named_parameters(prefix="model"))
    assert names(m.named_parameters(recurse=False)) == names(t.named_parameters(recurse=False))
    assert names(m.named_children()) == names(t.named_children())
    assert names(m.named_modules()) == names(t.named_modules())
    assert list(m.state_dict()) == list(t.state_dict())
    assert len(list(m.modules())) == len(list(t.modules()))
    assert len(list(m.children())) == len(list(t.children()))
    assert [tuple(p.shape) for p in m.parameters()] == [tuple(p.shape) for p in t.parameters()]
    assert repr(m) == repr(t)


def test_attribute_assignment_registers_and_unregisters():
    m = nn.Module()
    m.w = nn.Parameter(ember.ones(2))
    m.sub = nn.Linear(2, 2)
    m.register_buffer("running", ember.zeros(2))
    m.register_buffer("scratch", ember.zeros(2), persistent=False)
    m.plain = ember.zeros(1)  # a plain tensor attribute is neither
    assert [n for n, _ in m.named_parameters()] == ["w", "sub.weight", "sub.bias"]
    assert [n for n, _ in m.named_buffers()] == ["running", "scratch"]
    assert list(m.state_dict()) == ["w", "running", "sub.weight", "sub.bias"]
    assert isinstance(m.w, nn.Parameter) and m.sub.in_features == 2
    m.running = ember.ones(2)
    assert_close(m.state_dict()["running"], np.ones(2, np.float32))
    with pytest.raises(TypeError, match="cannot assign 'Tensor' as parameter 'w'"):
        m.w = ember.ones(2)
    with pytest.raises(TypeError, match="cannot assign 'int' as child module 'sub'"):
        m.sub = 3
    m.w = None
    assert [n for n, _ in m.named_parameters()] == ["sub.weight", "sub.bias"]
    m.sub = nn.Parameter(ember.ones(1))  # a parameter replaces the module
    assert list(m.children()) == []
    del m.sub
    assert not hasattr(m, "sub")
    with pytest.raises(AttributeError, match="has no attribute 'missing'"):
        m.missing
    with pytest.raises(KeyError, match="contain"):
        m.register_parameter("a.b", None)
    with pytest.raises(KeyError, match="already exists"):
        m.register_buffer("plain", ember.ones(1))


def test_shared_parameters_come_once():
    m = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 3))
    m[1].weight = m[0].weight
    assert [n for n, _ in m.named_parameters()] == ["0.weight", "0.bias", "1.bias"]
    assert len(list(m.named_parameters(remove_duplicate=False))) == 4
    assert list(m.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]


def test_train_and_eval_reach_every_submodule():
    m, _ = make_pair()
    assert all(module.training for module in m.modules())
    assert m.eval() is m
    assert not any(module.training for module in m.modules())
    m.train()
    assert all(module.training for module in m.modules())
    m.blocks.train(False)
    assert m.training and not m.blocks[0].body[1].training


def test_zero_grad():
    m = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    for p in m.parameters():
        p.grad = ember.ones_like(p)
    m[0].zero_grad(set_to_none=False)
    assert_close(m[0].weight.grad, np.zeros((3, 2), np.float32))
    assert_close(m[1].bias.grad, np.ones(1, np.float32))
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())


def test_module_without_forward_and_call_arguments():
    with pytest.raises(NotImplementedError, match='missing the required "forward"'):
        nn.Module()(ember.ones(1))

    class Add(nn.Module):
        def forward(self, a, b=1, *, c=0):
            return a + b + c

    assert_close(Add()(ember.ones(2), 2, c=3), np.full(2, 6, np.float32))


def test_sequential_and_module_list_containers():
    layers = [nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)]
    s = nn.Sequential(*layers)
    assert len(s) == 3 and list(s) == layers
    assert s[0] is layers[0] and s[-1] is layers[2]
    assert isinstance(s[1:], nn.Sequential) and list(s[1:]) == layers[1:]
    with pytest.raises(IndexError):
        s[3]
    named = nn.Sequential(collections.OrderedDict([("fc", layers[0]), ("act", layers[1])]))
    assert [n for n, _ in named.named_children()] == ["fc", "act"]
    assert named.fc is layers[0]
    del s[1]
    assert [n for n, _ in s.named_children()] == ["0", "1"] and s[1] is layers[2]
    s.append(nn.Tanh())
    assert len(s) == 3
    lst = nn.ModuleList([nn.Linear(1, 1), nn.Linear(1, 2)])
    assert [n for n, _ in lst.named_parameters()] == ["0.weight", "0.bias", "1.weight",
                                                     "1.bias"]
    assert lst[-1].out_features == 2 and len(lst) == 2


def test_repr_matches_torch():
    m = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Dropout(0.2), nn.LayerNorm(4),
                      nn.Sequential(nn.Linear(4, 2, bias=False), nn.LogSoftmax(dim=1)))
    t = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Dropout(0.2),
                            torch.nn.LayerNorm(4),
                            torch.nn.Sequential(torch.nn.Linear(4, 2, bias=False),
                                                torch.nn.LogSoftmax(dim=1)))
    assert repr(m) == repr(t)
    assert repr(nn.CrossEntropyLoss()) == repr(torch.nn.CrossEntropyLoss())
    assert repr(nn.MSELoss()) == repr(torch.nn.MSELoss())


def test_parameter_is_a_tensor_sharing_its_data():
    data = ember.zeros(3)
    p = nn.Parameter(data)
    assert isinstance(p, ember.Tensor) and isinstance(p, nn.Parameter)
    assert p.requires_grad is True
    assert nn.Parameter(data, requires_grad=False).requires_grad is False
    with ember.no_grad():  # as in torch, a leaf that requires grad
        p.add_(2)
    assert_close(data, np.full(3, 2, np.float32))
    assert type(p * 2) is ember.Tensor
    assert repr(p).startswith("Parameter containing:\ntensor([2., 2., 2.]")
    assert "requires_grad=True" in repr(p)
    with pytest.raises(TypeError):
        nn.Parameter([1.0, 2.0])


def test_module_dtype_conversion():
    m = nn.Sequential(nn.Linear(2, 2), nn.Embedding(3, 2))
    m.double()
    assert all(p.dtype == ember.float64 for p in m.parameters())
    assert all(isinstance(p, nn.Parameter) for p in m.parameters())
    m.to(ember.float16)
    assert m[0](ember.ones(1, 2, dtype=ember.float16)).dtype == ember.float16


# State dicts ----------------------------------------------------------------

def test_state_dict_round_trip_through_a_fresh_module(rng):
    a = nn.Sequential(nn.Linear(4, 3), nn.LayerNorm(3))
    b = nn.Sequential(nn.Linear(4, 3), nn.LayerNorm(3))
    result = b.load_state_dict(a.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    x, _ = pair(rng, (2, 4))
    assert_close(b(x), to_numpy(a(x)))
    # The copy is a copy: later updates of a do not reach b.
    with ember.no_grad():
        a[0].weight.add_(1)
    assert not np.allclose(to_numpy(a[0].weight), to_numpy(b[0].weight))


def test_state_dict_values_share_storage_and_keep_vars():
    m = nn.Linear(2, 2)
    state = m.state_dict()
    assert type(state["weight"]) is ember.Tensor
    state["weight"].zero_()
    np.testing.assert_array_equal(to_numpy(m.weight), 0)
    assert m.state_dict(keep_vars=True)["weight"] is m.weight


def test_load_state_dict_converts_dtype():
    m = nn.Linear(2, 1)
    m.load_state_dict({"weight": ember.tensor([[1.0, 2.0]], dtype=ember.float64),
                       "bias": ember.tensor([3], dtype=ember.int64)})
    assert m.weight.dtype == ember.float32
    assert_close(m(ember.ones(1, 2)), np.array([[6.0]], np.float32))


def test_load_state_dict_errors_name_the_keys_like_torch():
    m = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    t = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Linear(3, 1))
    state = m.state_dict()
    del state["1.bias"]
    state["extra"] = ember.zeros(1)
    state["0.weight"] = ember.zeros(2, 2)
    torch_state = to_torch_state(m)
    del torch_state["1.bias"]
    torch_state["extra"] = torch.zeros(1)
    torch_state["0.weight"] = torch.zeros(2, 2)
    with pytest.raises(RuntimeError) as error:
        m.load_state_dict(state)
    with pytest.raises(RuntimeError) as torch_error:
        t.load_state_dict(torch_state)
    assert str(error.value) == str(torch_error.value).replace("torch.", "ember.")
    message = str(error.value)
    assert 'Missing key(s) in state_dict: "1.bias"' in message
    assert 'Unexpected key(s) in state_dict: "extra"' in message
    assert "size mismatch for 0.weight" in message


def test_load_state_dict_non_strict():
    m = nn.Linear(2, 3)
    result = m.load_state_dict({"weight": ember.ones(3, 2), "other": ember.ones(1)},
                               strict=False)
    assert result.missing_keys == ["bias"] and result.unexpected_keys == ["other"]
    np.testing.assert_array_equal(to_numpy(m.weight), 1)
    with pytest.raises(RuntimeError, match="size mismatch for weight"):
        m.load_state_dict({"weight": ember.ones(2, 3)}, strict=False)


# nn.init --------------------------------------------------------------------

def sample(shape=(400, 250)):
    return ember.empty(*shape)


def test_uniform_and_normal_statistics():
    ember.manual_seed(0)
    u = to_numpy(nn.init.uniform_(sample(), -2.0, 3.0))
    assert u.min() >= -2.0 and u.max() < 3.0
    assert abs(u.mean() - 0.5) < 0.02 and abs(u.std() - 5 / math.sqrt(12)) < 0.02
    n = to_numpy(nn.init.normal_(sample(), 1.5, 0.5))
    assert abs(n.mean() - 1.5) < 0.01 and abs(n.std() - 0.5) < 0.01
    d = nn.init.normal_(ember.empty(1000, dtype=ember.float64))
    assert d.dtype == ember.float64


def test_constant_initializers():
    x = sample((3, 4))
    assert nn.init.constant_(x, 2.5) is x
    np.testing.assert_array_equal(to_numpy(x), 2.5)
    np.testing.assert_array_equal(to_numpy(nn.init.zeros_(x)), 0)
    np.testing.assert_array_equal(to_numpy(nn.init.ones_(x)), 1)
    np.testing.assert_array_equal(to_numpy(nn.init.eye_(x)), np.eye(3, 4))


@pytest.mark.parametrize("kwargs", [{}, {"a": math.sqrt(5)}, {"mode": "fan_out"},
                                    {"nonlinearity": "relu"}])
def test_kaiming_uniform_bound(kwargs):
    x = sample((300, 200))
    bound = math.sqrt(3.0) * nn.init.calculate_gain(
        kwargs.get("nonlinearity", "leaky_relu"), kwargs.get("a", 0)) / math.sqrt(
        300 if kwargs.get("mode") == "fan_out" else 200)
    values = to_numpy(nn.init.kaiming_uniform_(x, **kwargs))
    assert np.abs(values).max() <= bound
    assert np.abs(values).max() > 0.99 * bound
    assert abs(values.std() - bound / math.sqrt(3)) < 0.02 * bound


def test_kaiming_normal_and_xavier():
    values = to_numpy(nn.init.kaiming_normal_(sample((300, 200)), nonlinearity="relu"))
    assert abs(values.std() - math.sqrt(2 / 200)) < 0.02 * math.sqrt(2 / 200)
    bound = 2.0 * math.sqrt(6 / (300 + 200))
    values = to_numpy(nn.init.xavier_uniform_(sample((300, 200)), gain=2.0))
    assert np.abs(values).max() <= bound and np.abs(values).max() > 0.99 * bound
    values = to_numpy(nn.init.xavier_normal_(sample((300, 200))))
    assert abs(values.std() - math.sqrt(2 / 500)) < 0.02 * math.sqrt(2 / 500)
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        nn.init.xavier_uniform_(ember.empty(3))


@pytest.mark.parametrize("nonlinearity,param", [("linear", None), ("sigmoid", None),
                                                ("tanh", None), ("relu", None),
                                                ("leaky_relu", None), ("leaky_relu", 0.2),
                                                ("selu", None)])
def test_calculate_gain_matches_torch(nonlinearity, param):
    assert nn.init.calculate_gain(nonlinearity, param) == pytest.approx(
        torch.nn.init.calculate_gain(nonlinearity, param))


def test_default_initializations_follow_torch():
    ember.manual_seed(1)
    linear = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    for p in (linear.weight, linear.bias):
        values = to_numpy(p)
        assert np.abs(values).max() <= bound and np.abs(values).max() > 0.95 * bound
    assert abs(to_numpy(linear.weight).std() - bound / math.sqrt(3)) < 0.02 * bound
    embedding = to_numpy(nn.Embedding(300, 300).weight)
    assert abs(embedding.mean()) < 0.01 and abs(embedding.std() - 1) < 0.01
    norm = nn.LayerNorm(5)
    np.testing.assert_array_equal(to_numpy(norm.weight), 1)
    np.testing.assert_array_equal(to_numpy(norm.bias), 0)
    assert nn.Linear(3, 2, dtype=ember.float64).weight.dtype == ember.float64


def test_initialization_follows_ember_manual_seed():
    ember.manual_seed(5)
    first = to_numpy(nn.Linear(3, 3).weight)
    ember.manual_seed(5)
    np.testing.assert_array_equal(to_numpy(nn.Linear(3, 3).weight), first)
