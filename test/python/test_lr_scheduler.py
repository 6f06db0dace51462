"""ember.optim.lr_scheduler against torch 1.13: every scheduler's sequence
of learning rates (and momenta, where it cycles them) is the same floats,
for one and two param groups; state_dict round trips resume the same
sequence; torch's errors; and a training loop whose learning rate changes
every step compiles its step once."""

import math
import pickle

import numpy as np
import pytest
import torch

import ember
from ember import nn

SCHEDULERS = [
    ("StepLR", lambda m, o: m.StepLR(o, 3, 0.5), "SGD"),
    ("MultiStepLR", lambda m, o: m.MultiStepLR(o, [3, 7, 7, 20], 0.3), "SGD"),
    ("ExponentialLR", lambda m, o: m.ExponentialLR(o, 0.9), "SGD"),
    ("CosineAnnealingLR", lambda m, o: m.CosineAnnealingLR(o, 10, 0.001), "SGD"),
    ("CosineAnnealingLR_zero", lambda m, o: m.CosineAnnealingLR(o, 7), "Adam"),
    ("CosineAnnealingWarmRestarts",
     lambda m, o: m.CosineAnnealingWarmRestarts(o, 5, 2, 0.001), "SGD"),
    ("OneCycleLR", lambda m, o: m.OneCycleLR(o, 0.3, total_steps=40), "SGD"),
    ("OneCycleLR_three_phase_linear",
     lambda m, o: m.OneCycleLR(o, [0.3, 0.2], epochs=4, steps_per_epoch=10, three_phase=True,
                               anneal_strategy="linear"), "Adam"),
    ("LambdaLR", lambda m, o: m.LambdaLR(o, lambda e: 0.95 ** e), "SGD"),
    ("MultiplicativeLR", lambda m, o: m.MultiplicativeLR(o, lambda e: 0.95), "SGD"),
    ("LinearLR", lambda m, o: m.LinearLR(o, 0.25, 1.0, 7), "SGD"),
    ("ConstantLR", lambda m, o: m.ConstantLR(o, 0.3, 4), "Adam"),
    ("PolynomialLR", lambda m, o: m.PolynomialLR(o, 10, 2.0), "SGD"),
    ("CyclicLR", lambda m, o: m.CyclicLR(o, 0.01, 0.1, 4, mode="triangular2"), "SGD"),
    ("CyclicLR_exp_range", lambda m, o: m.CyclicLR(o, 0.01, 0.1, 3, 5, mode="exp_range",
                                                   gamma=0.9), "SGD"),
    ("SequentialLR", lambda m, o: m.SequentialLR(
        o, [m.LinearLR(o, 0.1, 1.0, 5), m.CosineAnnealingLR(o, 10)], [5]), "SGD"),
    ("ChainedScheduler", lambda m, o: m.ChainedScheduler(
        [m.ConstantLR(o, 0.5, 4), m.ExponentialLR(o, 0.9)]), "SGD"),
]


def _optimizer(lib, kind, groups):
    params = [lib.nn.Parameter(lib.zeros(2)), lib.nn.Parameter(lib.zeros(2))]
    if groups:
        params = [{"params": [params[0]]}, {"params": [params[1]], "lr": 0.05}]
    extra = {"momentum": 0.9} if kind == "SGD" else {}
    return getattr(lib.optim, kind)(params, lr=0.1, **extra)


def _momenta(optimizer):
    return [group.get("momentum", group.get("betas", (None,))[0])
            for group in optimizer.param_groups]


def _sequence(lib, make, kind, groups, steps, state=None):
    optimizer = _optimizer(lib, kind, groups)
    scheduler = make(lib.optim.lr_scheduler, optimizer)
    if state is not None:
        scheduler.load_state_dict(state)
    values = []
    for _ in range(steps):
        optimizer.step()
        scheduler.step()
        values.append((scheduler.get_last_lr(), [g["lr"] for g in optimizer.param_groups],
                       _momenta(optimizer)))
    return values, scheduler, optimizer


@pytest.mark.parametrize("groups", [False, True])
@pytest.mark.parametrize("name,make,kind", SCHEDULERS, ids=[s[0] for s in SCHEDULERS])
def test_sequence_matches_torch(name, make, kind, groups):
    if "OneCycleLR_three" in name and not groups:
        pytest.skip("a max_lr per group needs two groups")
    steps = 39 if name.startswith("OneCycleLR") else 30
    ember_values, _, _ = _sequence(ember, make, kind, groups, steps)
    torch_values, _, _ = _sequence(torch, make, kind, groups, steps)
    assert ember_values == torch_values


@pytest.mark.parametrize("name,make,kind", SCHEDULERS, ids=[s[0] for s in SCHEDULERS])
def test_state_dict_resumes_the_sequence(name, make, kind):
    groups = "three_phase" in name
    steps = 12
    _, scheduler, optimizer = _sequence(ember, make, kind, groups, steps)
    state = pickle.loads(pickle.dumps(scheduler.state_dict())) \
        if "Lambda" not in name and "Multiplicative" not in name else scheduler.state_dict()
    assert "optimizer" not in state
    optimizer_state = optimizer.state_dict()
    rest = []
    for _ in range(10):
        optimizer.step()
        scheduler.step()
        rest.append(scheduler.get_last_lr())
    resumed_optimizer = _optimizer(ember, kind, groups)
    resumed = make(ember.optim.lr_scheduler, resumed_optimizer)
    resumed_optimizer.load_state_dict(optimizer_state)
    resumed.load_state_dict(state)
    resumed_rest = []
    for _ in range(10):
        resumed_optimizer.step()
        resumed.step()
        resumed_rest.append(resumed.get_last_lr())
    assert resumed_rest == rest


@pytest.mark.parametrize("mode,threshold_mode", [("min", "rel"), ("max", "abs")])
def test_reduce_lr_on_plateau(mode, threshold_mode):
    metrics = [1.0, 0.9, 0.95, 0.95, 0.95, 0.95, 0.5, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1,
               1.2, 0.4, 0.4, 0.4, 0.4, 0.4]
    histories = []
    for lib in (ember, torch):
        optimizer = _optimizer(lib, "SGD", True)
        scheduler = lib.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode, factor=0.5, patience=2, threshold=0.01,
            threshold_mode=threshold_mode, cooldown=1, min_lr=[0.01, 0.02])
        history = []
        for metric in metrics:
            scheduler.step(lib.tensor(metric))
            history.append([g["lr"] for g in optimizer.param_groups])
        histories.append(history)
        if lib is ember:
            state = scheduler.state_dict()
            resumed = ember.optim.lr_scheduler.ReduceLROnPlateau(_optimizer(ember, "SGD", True))
            resumed.load_state_dict(state)
            assert resumed.best == scheduler.best and resumed.mode == mode
    assert histories[0] == histories[1]


def test_errors_match_torch():
    optimizer = _optimizer(ember, "SGD", False)
    schedulers = ember.optim.lr_scheduler
    with pytest.raises(TypeError, match="list is not an Optimizer"):
        schedulers.StepLR([], 3)
    with pytest.raises(KeyError, match="param 'initial_lr' is not specified"):
        schedulers.StepLR(_optimizer(ember, "SGD", False), 3, last_epoch=4)
    with pytest.raises(ValueError, match="Factor should be < 1.0"):
        schedulers.ReduceLROnPlateau(optimizer, factor=1.0)
    with pytest.raises(ValueError, match="Expected positive integer T_0"):
        schedulers.CosineAnnealingWarmRestarts(optimizer, 0)
    with pytest.raises(ValueError, match="You must define either total_steps"):
        schedulers.OneCycleLR(optimizer, 0.1)
    with pytest.raises(ValueError, match="Expected 1 lr_lambdas, but got 2"):
        schedulers.LambdaLR(optimizer, [lambda e: 1, lambda e: 1])
    with pytest.raises(ValueError, match="number of milestones to be equal to 2"):
        schedulers.SequentialLR(optimizer, [schedulers.ExponentialLR(optimizer, 0.9)], [1, 2])
    one_cycle = schedulers.OneCycleLR(_optimizer(ember, "SGD", False), 0.1, total_steps=2)
    one_cycle.step()
    one_cycle.step()
    with pytest.raises(ValueError, match="Tried to step 4 times"):
        one_cycle.step()
    with pytest.warns(UserWarning, match="please use `get_last_lr\\(\\)`"):
        schedulers.StepLR(_optimizer(ember, "SGD", False), 2).get_lr()


def test_scheduler_before_optimizer_step_warns():
    optimizer = _optimizer(ember, "SGD", False)
    scheduler = ember.optim.lr_scheduler.StepLR(optimizer, 2)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        scheduler.step()


@pytest.mark.parametrize("kind", ["SGD", "Adam"])
def test_changing_learning_rate_does_not_recompile(rng, kind):
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
    options = {"momentum": 0.9} if kind == "SGD" else {}
    optimizer = getattr(ember.optim, kind)(model.parameters(), lr=0.07, **options)
    # Cosine annealing to eta_min 1e-4 over more steps than the loop runs:
    # a new learning rate every step, never one of the folded constants.
    scheduler = ember.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=50, eta_min=1e-4)
    x = ember.tensor(rng.standard_normal((16, 4)).astype(np.float32))
    y = ember.tensor(rng.standard_normal((16, 1)).astype(np.float32))

    def step():
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
        scheduler.step()
        return float(loss)

    for _ in range(3):
        step()
    before = ember.compile_stats()["compiles"]
    rates = []
    for _ in range(10):
        step()
        rates.append(scheduler.get_last_lr()[0])
    assert len(set(rates)) == 10
    assert ember.compile_stats()["compiles"] == before


def test_training_with_scheduler_matches_torch(rng):
    """SGD with momentum under OneCycleLR (which also cycles the momentum):
    the same weights step for step from the same start."""
    torch_model = torch.nn.Linear(3, 2)
    ember_model = nn.Linear(3, 2)
    ember_model.load_state_dict({k: ember.tensor(v.detach().numpy())
                                 for k, v in torch_model.state_dict().items()})
    x = rng.standard_normal((8, 3)).astype(np.float32)
    y = rng.standard_normal((8, 2)).astype(np.float32)
    runs = []
    for lib, model in ((ember, ember_model), (torch, torch_model)):
        optimizer = lib.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        scheduler = lib.optim.lr_scheduler.OneCycleLR(optimizer, 0.2, total_steps=12)
        losses = []
        for _ in range(12):
            optimizer.zero_grad()
            loss = lib.nn.functional.mse_loss(model(lib.tensor(x)), lib.tensor(y))
            loss.backward()
            optimizer.step()
            scheduler.step()
            losses.append(float(loss))
        runs.append((losses, model.weight.detach().numpy().copy()))
    np.testing.assert_allclose(runs[0][0], runs[1][0], rtol=1e-5)
    np.testing.assert_allclose(runs[0][1], runs[1][1], rtol=1e-5, atol=1e-6)
    assert not math.isnan(runs[0][0][-1])
