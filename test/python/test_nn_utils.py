"""ember.nn.utils and ember.nn.init against torch 1.13: gradient clipping
(every norm type, errors), parameter/vector conversion, weight_norm and
spectral_norm (state_dict keys, outputs and gradients with the same
weights, removal), and each initializer's shape of distribution (values
come from ember's generator, so distributions and exact structure, not
numbers, are compared)."""

import math

import numpy as np
import pytest
import torch

import ember
from ember import nn
from ember_testing import assert_close, from_array, to_numpy


def _linear_pair(rng, in_features=4, out_features=3):
    ember_layer = nn.Linear(in_features, out_features)
    torch_layer = torch.nn.Linear(in_features, out_features)
    ember_layer.load_state_dict({k: from_array(v.detach().numpy())
                                 for k, v in torch_layer.state_dict().items()})
    return ember_layer, torch_layer


def _backward_both(rng, ember_layer, torch_layer, scale=10.0):
    x = rng.standard_normal((5, ember_layer.in_features)).astype(np.float32) * scale
    (ember_layer(from_array(x)) ** 2).sum().backward()
    (torch_layer(torch.from_numpy(x)) ** 2).sum().backward()


@pytest.mark.parametrize("norm_type", [2.0, 1, 3.5, math.inf, "inf"])
@pytest.mark.parametrize("max_norm", [0.3, 1e6])
def test_clip_grad_norm(rng, norm_type, max_norm):
    ember_layer, torch_layer = _linear_pair(rng)
    _backward_both(rng, ember_layer, torch_layer)
    norm_type = float(norm_type)
    total = nn.utils.clip_grad_norm_(ember_layer.parameters(), max_norm, norm_type)
    expected = torch.nn.utils.clip_grad_norm_(torch_layer.parameters(), max_norm, norm_type)
    assert_close(total, expected, rtol=1e-5, atol=1e-5)
    for p, q in zip(ember_layer.parameters(), torch_layer.parameters()):
        assert_close(p.grad, q.grad, rtol=1e-5, atol=1e-6)


def test_clip_grad_norm_single_tensor_empty_and_nonfinite(rng):
    ember_layer, torch_layer = _linear_pair(rng)
    _backward_both(rng, ember_layer, torch_layer)
    total = nn.utils.clip_grad_norm_(ember_layer.weight, 0.5)
    expected = torch.nn.utils.clip_grad_norm_(torch_layer.weight, 0.5)
    assert_close(total, expected, rtol=1e-5)
    assert float(nn.utils.clip_grad_norm_([nn.Parameter(ember.zeros(2))], 1.0)) == 0.0
    with ember.no_grad():
        ember_layer.bias.grad.fill_(float("nan"))
    with pytest.raises(RuntimeError, match="is non-finite, so it cannot be clipped"):
        nn.utils.clip_grad_norm_(ember_layer.parameters(), 1.0, error_if_nonfinite=True)


def test_clip_grad_value(rng):
    ember_layer, torch_layer = _linear_pair(rng)
    _backward_both(rng, ember_layer, torch_layer)
    nn.utils.clip_grad_value_(ember_layer.parameters(), 2.5)
    torch.nn.utils.clip_grad_value_(torch_layer.parameters(), 2.5)
    for p, q in zip(ember_layer.parameters(), torch_layer.parameters()):
        assert_close(p.grad, q.grad)
    assert float(np.abs(to_numpy(ember_layer.weight.grad)).max()) <= 2.5


def test_clip_grad_norm_in_a_training_loop_compiles_once(rng):
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
    optimizer = ember.optim.SGD(model.parameters(), lr=0.01)
    x = from_array(rng.standard_normal((16, 4)).astype(np.float32))
    y = from_array(rng.standard_normal((16, 1)).astype(np.float32))

    def step():
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 0.1)
        optimizer.step()
        return float(loss)

    step()
    step()
    before = ember.compile_stats()["compiles"]
    losses = [step() for _ in range(5)]
    assert ember.compile_stats()["compiles"] == before
    assert losses[-1] < losses[0]


def test_parameters_to_vector_and_back(rng):
    ember_layer, torch_layer = _linear_pair(rng)
    vector = nn.utils.parameters_to_vector(ember_layer.parameters())
    assert_close(vector, torch.nn.utils.parameters_to_vector(torch_layer.parameters()))
    values = rng.standard_normal(vector.shape[0]).astype(np.float32)
    nn.utils.vector_to_parameters(from_array(values), ember_layer.parameters())
    torch.nn.utils.vector_to_parameters(torch.from_numpy(values), torch_layer.parameters())
    for p, q in zip(ember_layer.parameters(), torch_layer.parameters()):
        assert_close(p.detach(), q.detach())
    assert ember_layer.weight.requires_grad
    with pytest.raises(TypeError, match="expected torch.Tensor"):
        nn.utils.vector_to_parameters(values, ember_layer.parameters())


@pytest.mark.parametrize("dim", [0, 1, None])
def test_weight_norm(rng, dim):
    ember_layer, torch_layer = _linear_pair(rng)
    nn.utils.weight_norm(ember_layer, dim=dim)
    torch.nn.utils.weight_norm(torch_layer, dim=dim)
    assert list(ember_layer.state_dict()) == list(torch_layer.state_dict())
    for key, value in torch_layer.state_dict().items():
        assert_close(ember_layer.state_dict()[key], value, rtol=1e-5, atol=1e-6)
    # New direction and magnitude, the same on both sides.
    state = {k: rng.standard_normal(tuple(v.shape)).astype(np.float32)
             for k, v in torch_layer.state_dict().items()}
    torch_layer.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    ember_layer.load_state_dict({k: from_array(v) for k, v in state.items()})
    x = rng.standard_normal((5, 4)).astype(np.float32)
    out, expected = ember_layer(from_array(x)), torch_layer(torch.from_numpy(x))
    assert_close(out, expected, rtol=1e-5, atol=1e-5)
    (out ** 2).sum().backward()
    (expected ** 2).sum().backward()
    assert_close(ember_layer.weight_g.grad, torch_layer.weight_g.grad, rtol=1e-4, atol=1e-4)
    assert_close(ember_layer.weight_v.grad, torch_layer.weight_v.grad, rtol=1e-4, atol=1e-4)
    nn.utils.remove_weight_norm(ember_layer)
    torch.nn.utils.remove_weight_norm(torch_layer)
    assert list(ember_layer.state_dict()) == list(torch_layer.state_dict())
    assert_close(ember_layer.weight.detach(), torch_layer.weight.detach(), rtol=1e-5,
                 atol=1e-6)
    with pytest.raises(ValueError, match="weight_norm of 'weight' not found"):
        nn.utils.remove_weight_norm(ember_layer)


def test_spectral_norm(rng):
    ember_layer, torch_layer = _linear_pair(rng, 5, 4)
    nn.utils.spectral_norm(ember_layer)
    torch.nn.utils.spectral_norm(torch_layer)
    assert list(ember_layer.state_dict()) == list(torch_layer.state_dict())
    # Start both power iterations from torch's u and v.
    ember_layer.load_state_dict({k: from_array(v.detach().numpy())
                                 for k, v in torch_layer.state_dict().items()})
    x = rng.standard_normal((3, 5)).astype(np.float32)
    for _ in range(3):  # training: one power iteration per call, u and v updated
        out, expected = ember_layer(from_array(x)), torch_layer(torch.from_numpy(x))
        assert_close(out, expected, rtol=1e-4, atol=1e-5)
    assert_close(ember_layer.weight_u, torch_layer.weight_u, rtol=1e-4, atol=1e-5)
    out.sum().backward()
    expected.sum().backward()
    assert_close(ember_layer.weight_orig.grad, torch_layer.weight_orig.grad, rtol=1e-3,
                 atol=1e-4)
    ember_layer.eval()
    torch_layer.eval()
    assert_close(ember_layer(from_array(x)), torch_layer(torch.from_numpy(x)), rtol=1e-4,
                 atol=1e-5)
    nn.utils.remove_spectral_norm(ember_layer)
    torch.nn.utils.remove_spectral_norm(torch_layer)
    assert list(ember_layer.state_dict()) == list(torch_layer.state_dict())


# nn.init ----------------------------------------------------------------------

def test_calculate_gain_matches_torch():
    for name in ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose2d", "sigmoid",
                 "tanh", "relu", "selu"]:
        assert nn.init.calculate_gain(name) == torch.nn.init.calculate_gain(name)
    for slope in (None, 0.2, 1):
        assert nn.init.calculate_gain("leaky_relu", slope) == \
            torch.nn.init.calculate_gain("leaky_relu", slope)
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        nn.init.calculate_gain("swish")


def _stats(tensor):
    values = to_numpy(tensor).astype(np.float64).ravel()
    return values.mean(), values.std(), values.min(), values.max()


def test_distribution_initializers():
    ember.manual_seed(0)
    w = ember.empty(200, 300)
    mean, std, low, high = _stats(nn.init.uniform_(w, -2.0, 3.0))
    assert low >= -2.0 and high <= 3.0 and abs(mean - 0.5) < 0.05
    mean, std, _, _ = _stats(nn.init.normal_(w, 1.0, 0.5))
    assert abs(mean - 1.0) < 0.01 and abs(std - 0.5) < 0.01
    mean, std, low, high = _stats(nn.init.trunc_normal_(w, 0.5, 1.0, -1.0, 1.5))
    assert low >= -1.0 and high <= 1.5
    reference = torch.nn.init.trunc_normal_(torch.empty(200, 300), 0.5, 1.0, -1.0, 1.5)
    assert abs(mean - reference.mean().item()) < 0.02
    assert abs(std - reference.std().item()) < 0.02
    bound = math.sqrt(6.0 / 500)
    _, _, low, high = _stats(nn.init.xavier_uniform_(w))
    assert -bound <= low and high <= bound and high > 0.95 * bound
    _, std, _, _ = _stats(nn.init.xavier_normal_(w, gain=2.0))
    assert abs(std - 2.0 * math.sqrt(2.0 / 500)) < 0.003
    _, std, _, _ = _stats(nn.init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu"))
    assert abs(std - math.sqrt(2.0 / 200)) < 0.003
    bound = math.sqrt(2.0) * math.sqrt(3.0 / 300)
    _, _, low, high = _stats(nn.init.kaiming_uniform_(w, nonlinearity="relu"))
    assert -bound <= low and high <= bound and high > 0.95 * bound


def test_structured_initializers_match_torch():
    for shape, groups in [((4, 4, 3), 1), ((6, 2, 3, 3), 2), ((2, 3, 3, 3, 3), 1)]:
        assert np.array_equal(to_numpy(nn.init.dirac_(ember.empty(*shape), groups)),
                              torch.nn.init.dirac_(torch.empty(*shape), groups).numpy())
    assert np.array_equal(to_numpy(nn.init.eye_(ember.empty(3, 5))),
                          torch.nn.init.eye_(torch.empty(3, 5)).numpy())
    assert np.all(to_numpy(nn.init.constant_(ember.empty(2, 2), 0.3)) == np.float32(0.3))
    assert np.all(to_numpy(nn.init.ones_(ember.empty(3))) == 1)
    assert np.all(to_numpy(nn.init.zeros_(ember.ones(3))) == 0)
    with pytest.raises(ValueError, match="Only tensors with 3, 4, or 5 dimensions"):
        nn.init.dirac_(ember.empty(3, 3))


@pytest.mark.parametrize("shape", [(4, 6), (6, 4), (3, 2, 2)])
def test_orthogonal(shape):
    w = to_numpy(nn.init.orthogonal_(ember.empty(*shape), gain=1.5)).reshape(shape[0], -1)
    rows, cols = w.shape
    gram = w @ w.T if rows <= cols else w.T @ w
    np.testing.assert_allclose(gram, 2.25 * np.eye(min(rows, cols)), atol=1e-5)


def test_sparse():
    w = to_numpy(nn.init.sparse_(ember.empty(10, 40), 0.3, std=0.5))
    assert np.all((w == 0).sum(0) >= 3)
    assert abs(w[w != 0].std() - 0.5) < 0.1
    with pytest.raises(ValueError, match="Only tensors with 2 dimensions"):
        nn.init.sparse_(ember.empty(3), 0.1)


def test_deprecated_init_aliases_warn():
    with pytest.warns(UserWarning, match="deprecated in favor of nn.init.normal_"):
        nn.init.normal(ember.empty(3))
