"""ember.optim against torch.optim 1.13: the same parameters and the same
hand-set gradients (fresh random ones each step, since ember has no autograd
yet) follow torch for 20 steps of SGD (every option), Adam and AdamW; plus
param groups, zero_grad, state dicts, argument errors, and a check that a
step compiles once and is reused."""

import numpy as np
import pytest
import torch

import ember
from ember import nn, optim
from ember_testing import from_array, to_numpy

SHAPES = [(4, 3), (3,), (2, 2, 5), ()]
STEPS = 20


def make_params(rng):
    arrays = [rng.uniform(-1, 1, size=shape).astype(np.float32) for shape in SHAPES]
    ember_params = [nn.Parameter(from_array(a)) for a in arrays]
    torch_params = [torch.nn.Parameter(torch.from_numpy(a.copy())) for a in arrays]
    return ember_params, torch_params


def set_grads(rng, ember_params, torch_params, skip=()):
    for i, (p, t) in enumerate(zip(ember_params, torch_params)):
        if i in skip:
            p.grad, t.grad = None, None
            continue
        g = rng.normal(size=tuple(t.shape)).astype(np.float32)
        p.grad = from_array(g)
        t.grad = torch.from_numpy(g.copy())


def assert_params_close(ember_params, torch_params, rtol=1e-5, atol=1e-6, step=None):
    for i, (p, t) in enumerate(zip(ember_params, torch_params)):
        np.testing.assert_allclose(to_numpy(p), t.detach().numpy(), rtol=rtol, atol=atol,
                                   err_msg=f"parameter {i} after step {step}")


def follow_torch(rng, make_ember, make_torch, steps=STEPS, skip=(), **tolerance):
    ember_params, torch_params = make_params(rng)
    ember_optimizer = make_ember(ember_params)
    torch_optimizer = make_torch(torch_params)
    for step in range(steps):
        set_grads(rng, ember_params, torch_params, skip)
        ember_optimizer.step()
        torch_optimizer.step()
        assert_params_close(ember_params, torch_params, step=step, **tolerance)
    return ember_optimizer, torch_optimizer, ember_params, torch_params


SGD_OPTIONS = [
    dict(lr=0.1),
    dict(lr=0.05, momentum=0.9),
    dict(lr=0.05, momentum=0.9, dampening=0.3),
    dict(lr=0.05, momentum=0.9, nesterov=True),
    dict(lr=0.05, weight_decay=0.1),
    dict(lr=0.05, momentum=0.8, dampening=0.1, weight_decay=0.01),
    dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.05),
    dict(lr=0.05, momentum=0.5, maximize=True),
]


@pytest.mark.parametrize("options", SGD_OPTIONS, ids=str)
def test_sgd_follows_torch(rng, options):
    follow_torch(rng, lambda ps: optim.SGD(ps, **options),
                 lambda ps: torch.optim.SGD(ps, **options))


ADAM_OPTIONS = [
    dict(),
    dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6),
    dict(lr=0.01, weight_decay=0.1),
    dict(lr=0.01, amsgrad=True),
    dict(lr=0.01, weight_decay=0.05, amsgrad=True, maximize=True),
]


@pytest.mark.parametrize("options", ADAM_OPTIONS, ids=str)
def test_adam_follows_torch(rng, options):
    follow_torch(rng, lambda ps: optim.Adam(ps, **options),
                 lambda ps: torch.optim.Adam(ps, **options))


@pytest.mark.parametrize("options", ADAM_OPTIONS + [dict(lr=0.02, weight_decay=0.3)], ids=str)
def test_adamw_follows_torch(rng, options):
    follow_torch(rng, lambda ps: optim.AdamW(ps, **options),
                 lambda ps: torch.optim.AdamW(ps, **options))


def test_parameters_without_grad_are_left_alone(rng):
    ember_optimizer, _, ember_params, torch_params = follow_torch(
        rng, lambda ps: optim.Adam(ps, lr=0.01), lambda ps: torch.optim.Adam(ps, lr=0.01),
        steps=3, skip=(1,))
    assert ember_params[1] not in ember_optimizer.state
    assert len(ember_optimizer.state) == len(SHAPES) - 1


def test_param_groups_with_their_own_hyperparameters(rng):
    def groups(params):
        return [{"params": params[:2]}, {"params": params[2:], "lr": 0.3, "momentum": 0.5}]

    ember_optimizer, _, _, _ = follow_torch(
        rng, lambda ps: optim.SGD(groups(ps), lr=0.1, momentum=0.9),
        lambda ps: torch.optim.SGD(groups(ps), lr=0.1, momentum=0.9), steps=5)
    assert [g["lr"] for g in ember_optimizer.param_groups] == [0.1, 0.3]
    assert [g["momentum"] for g in ember_optimizer.param_groups] == [0.9, 0.5]


def test_a_changed_learning_rate_takes_effect(rng):
    ember_params, torch_params = make_params(rng)
    e = optim.SGD(ember_params, lr=0.1)
    t = torch.optim.SGD(torch_params, lr=0.1)
    for lr in (0.1, 0.01, 0.5):
        for group in e.param_groups + t.param_groups:
            group["lr"] = lr
        set_grads(rng, ember_params, torch_params)
        e.step()
        t.step()
    assert_params_close(ember_params, torch_params)


def test_zero_grad(rng):
    ember_params, _ = make_params(rng)
    optimizer = optim.SGD(ember_params, lr=0.1)
    for p in ember_params:
        p.grad = ember.ones_like(p)
    optimizer.zero_grad(set_to_none=False)
    assert all(np.all(to_numpy(p.grad) == 0) for p in ember_params)
    optimizer.zero_grad()
    assert all(p.grad is None for p in ember_params)


def test_step_returns_the_closure_result(rng):
    ember_params, _ = make_params(rng)
    calls = []
    assert optim.SGD(ember_params, lr=0.1).step(lambda: calls.append(1) or 7) == 7
    assert calls == [1]


@pytest.mark.parametrize("name,options", [
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("AdamW", dict(lr=0.01)),
])
def test_state_dict_round_trip_resumes_exactly(rng, tmp_path, name, options):
    """5 steps, save (ember.save), load into a fresh optimizer on copies of
    the parameters, 5 more steps: the same as 10 uninterrupted steps."""
    ember_params, torch_params = make_params(rng)
    e = getattr(optim, name)(ember_params, **options)
    t = getattr(torch.optim, name)(torch_params, **options)
    for _ in range(5):
        set_grads(rng, ember_params, torch_params)
        e.step()
        t.step()
    ember.save(e.state_dict(), tmp_path / "optimizer.safetensors")
    resumed_params = [nn.Parameter(p.clone()) for p in ember_params]
    resumed = getattr(optim, name)(resumed_params, lr=123.0)
    resumed.load_state_dict(ember.load(tmp_path / "optimizer.safetensors"))
    assert resumed.param_groups[0]["lr"] == options["lr"]
    assert resumed.param_groups[0]["params"][0] is resumed_params[0]
    state = e.state_dict()
    assert list(state["state"]) == list(range(len(SHAPES)))
    assert state["param_groups"][0]["params"] == list(range(len(SHAPES)))
    for _ in range(5):
        set_grads(rng, resumed_params, torch_params)
        resumed.step()
        t.step()
    assert_params_close(resumed_params, torch_params)


def test_state_dict_layout_matches_torch(rng):
    ember_params, torch_params = make_params(rng)
    e = optim.Adam([{"params": ember_params[:1]}, {"params": ember_params[1:], "lr": 0.1}])
    t = torch.optim.Adam([{"params": torch_params[:1]}, {"params": torch_params[1:],
                                                          "lr": 0.1}])
    set_grads(rng, ember_params, torch_params)
    e.step()
    t.step()
    ours, theirs = e.state_dict(), t.state_dict()
    assert list(ours["state"]) == list(theirs["state"])
    assert sorted(ours["state"][0]) == sorted(theirs["state"][0])
    assert float(ours["state"][0]["step"]) == float(theirs["state"][0]["step"])
    assert [g["params"] for g in ours["param_groups"]] == \
        [g["params"] for g in theirs["param_groups"]]
    assert [g["lr"] for g in ours["param_groups"]] == [g["lr"] for g in theirs["param_groups"]]


def test_load_state_dict_checks_the_groups(rng):
    ember_params, _ = make_params(rng)
    state = optim.SGD(ember_params, lr=0.1).state_dict()
    with pytest.raises(ValueError, match="different number of parameter groups"):
        optim.SGD([{"params": ember_params[:1]}, {"params": ember_params[1:]}],
                  lr=0.1).load_state_dict(state)
    with pytest.raises(ValueError, match="doesn't match the size"):
        optim.SGD(ember_params[1:], lr=0.1).load_state_dict(state)


@pytest.mark.parametrize("make,message", [
    (lambda ps: optim.SGD(ps, lr=-1), "Invalid learning rate"),
    (lambda ps: optim.SGD(ps), "required optimization parameter lr"),
    (lambda ps: optim.SGD(ps, lr=0.1, momentum=-1), "Invalid momentum value"),
    (lambda ps: optim.SGD(ps, lr=0.1, nesterov=True), "Nesterov momentum requires"),
    (lambda ps: optim.SGD(ps, lr=0.1, weight_decay=-1), "Invalid weight_decay value"),
    (lambda ps: optim.Adam(ps, betas=(1.0, 0.9)), "Invalid beta parameter at index 0"),
    (lambda ps: optim.Adam(ps, betas=(0.9, -0.1)), "Invalid beta parameter at index 1"),
    (lambda ps: optim.Adam(ps, eps=-1), "Invalid epsilon value"),
    (lambda ps: optim.AdamW([]), "empty parameter list"),
    (lambda ps: optim.SGD([{"params": ps}, {"params": ps[:1]}], lr=0.1),
     "more than one parameter group"),
])
def test_argument_errors_like_torch(rng, make, message):
    ember_params, _ = make_params(rng)
    with pytest.raises(ValueError, match=message):
        make(ember_params)


def test_params_must_be_an_iterable_of_tensors():
    with pytest.raises(TypeError, match="iterable of Tensors"):
        optim.SGD(ember.ones(2), lr=0.1)
    with pytest.raises(TypeError, match="can only optimize Tensors"):
        optim.SGD([1.0], lr=0.1)


def test_model_parameters_and_repr():
    model = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    optimizer = optim.AdamW(model.parameters(), lr=0.01)
    assert len(optimizer.param_groups[0]["params"]) == 4
    assert repr(optimizer).startswith("AdamW (\nParameter Group 0\n    amsgrad: False")


@pytest.mark.parametrize("make", [
    lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
    lambda ps: optim.Adam(ps, lr=0.01, amsgrad=True),
    lambda ps: optim.AdamW(ps, lr=0.01),
], ids=["SGD", "Adam", "AdamW"])
def test_steps_compile_once(rng, make):
    """After the first steps (which create the state), every step is the
    same program: the step count lives in a tensor, not in a constant."""
    ember_params, torch_params = make_params(rng)
    optimizer = make(ember_params)
    for _ in range(3):
        set_grads(rng, ember_params, torch_params)
        optimizer.step()
        ember.sync()
    before = ember.compile_stats()["compiles"]
    for _ in range(5):
        set_grads(rng, ember_params, torch_params)
        optimizer.step()
        ember.sync()
    assert ember.compile_stats()["compiles"] == before


# Training with ember's own gradients ---------------------------------------

@pytest.mark.parametrize("name,options", [
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3)),
    ("Adam", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, weight_decay=0.05)),
])
def test_training_follows_torch(rng, name, options):
    """An MLP with identical initial weights, trained for 20 steps on the
    same batches, keeps torch's parameters."""
    def mlp(nn_):
        return nn_.Sequential(nn_.Linear(8, 16), nn_.ReLU(), nn_.LayerNorm(16),
                              nn_.Linear(16, 16), nn_.Tanh(), nn_.Linear(16, 4))

    model, reference = mlp(nn), mlp(torch.nn)
    model.load_state_dict({k: from_array(v.detach().numpy())
                           for k, v in reference.state_dict().items()})
    optimizer = getattr(optim, name)(model.parameters(), **options)
    torch_optimizer = getattr(torch.optim, name)(reference.parameters(), **options)
    loss_fn, torch_loss_fn = nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()
    for step in range(STEPS):
        x = rng.normal(size=(10, 8)).astype(np.float32)
        y = rng.integers(0, 4, size=10)
        optimizer.zero_grad()
        torch_optimizer.zero_grad()
        loss = loss_fn(model(from_array(x)), ember.tensor(y.tolist()))
        torch_loss = torch_loss_fn(reference(torch.from_numpy(x)), torch.from_numpy(y))
        loss.backward()
        torch_loss.backward()
        optimizer.step()
        torch_optimizer.step()
        assert loss.item() == pytest.approx(torch_loss.item(), rel=1e-4, abs=1e-5)
        assert_params_close(list(model.parameters()), list(reference.parameters()),
                            rtol=1e-4, atol=1e-5, step=step)
