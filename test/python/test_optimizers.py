"""Every optimizer against PyTorch 1.13: the same model, weights and data,
parameter trajectories over 10 steps for each option combination, param
groups, state dicts moved between the two libraries, and compile counts
while the learning rate changes every step (never a new program)."""

import numpy as np
import pytest
import torch

import ember

CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.3)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.1, weight_decay=0.1)),
    ("SGD", dict(lr=0.1, maximize=True)),
    ("SGD", dict(lr=0.05, momentum=0.8, weight_decay=0.01, nesterov=True, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, maximize=True)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.9), amsgrad=True, weight_decay=0.05,
                  maximize=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, amsgrad=True, weight_decay=0.1)),
    ("AdamW", dict(lr=0.01, maximize=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.01, momentum=0.9)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.9, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, maximize=True)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.1)),
    ("Adagrad", dict(lr=0.1, initial_accumulator_value=0.5)),
    ("Adagrad", dict(lr=0.1, weight_decay=0.1, maximize=True)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, weight_decay=0.1)),
    ("Adadelta", dict(maximize=True)),
    ("Adamax", dict(lr=0.02)),
    ("Adamax", dict(lr=0.02, betas=(0.8, 0.95), weight_decay=0.1)),
    ("Adamax", dict(lr=0.02, maximize=True)),
    ("NAdam", dict(lr=0.02)),
    ("NAdam", dict(lr=0.02, weight_decay=0.1)),
    ("NAdam", dict(lr=0.02, momentum_decay=0.01, betas=(0.8, 0.99))),
    ("RAdam", dict(lr=0.02)),
    ("RAdam", dict(lr=0.02, weight_decay=0.1, betas=(0.8, 0.99))),
]


def _data(rng):
    return dict(x=rng.standard_normal((16, 5)).astype(np.float32),
                y=rng.standard_normal((16, 1)).astype(np.float32),
                w1=(rng.standard_normal((5, 8)) * 0.5).astype(np.float32),
                b1=(rng.standard_normal(8) * 0.1).astype(np.float32),
                w2=(rng.standard_normal((8, 1)) * 0.5).astype(np.float32))


def _params(lib, data):
    return [lib.tensor(data[k], requires_grad=True) for k in ("w1", "b1", "w2")]


def _loss(lib, data, params):
    w1, b1, w2 = params
    x, y = lib.tensor(data["x"]), lib.tensor(data["y"])
    return ((lib.tanh(x @ w1 + b1) @ w2 - y) ** 2).mean()


def _trajectory(lib, name, kwargs, data, steps=10, groups=False):
    params = _params(lib, data)
    if groups:
        spec = [{"params": params[:2]},
                {"params": params[2:], "lr": kwargs.get("lr", 1.0) * 0.5}]
    else:
        spec = params
    opt = getattr(lib.optim, name)(spec, **kwargs)
    seen = []
    for _ in range(steps):
        opt.zero_grad()
        _loss(lib, data, params).backward()
        opt.step()
        seen.append([p.detach().numpy().copy() for p in params])
    return seen, opt


@pytest.mark.parametrize("name,kwargs", CONFIGS,
                         ids=[f"{n}-{'-'.join(f'{k}={v}' for k, v in kw.items())}"
                              for n, kw in CONFIGS])
def test_trajectory_matches_torch(rng, name, kwargs):
    data = _data(rng)
    got, _ = _trajectory(ember, name, kwargs, data)
    ref, _ = _trajectory(torch, name, kwargs, data)
    for step, (g, r) in enumerate(zip(got, ref)):
        for a, b in zip(g, r):
            np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5,
                                       err_msg=f"{name} step {step + 1}")


@pytest.mark.parametrize("name", sorted({n for n, _ in CONFIGS}))
def test_param_groups_and_add_param_group(rng, name):
    kwargs = dict(next(kw for n, kw in CONFIGS if n == name))
    data = _data(rng)
    got, opt = _trajectory(ember, name, kwargs, data, steps=4, groups=True)
    ref, ref_opt = _trajectory(torch, name, kwargs, data, steps=4, groups=True)
    for a, b in zip(got[-1], ref[-1]):
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5)
    extra = ember.zeros(3, requires_grad=True)
    opt.add_param_group({"params": [extra], "lr": 0.3})
    ref_opt.add_param_group({"params": [torch.zeros(3, requires_grad=True)], "lr": 0.3})
    assert len(opt.param_groups) == 3
    assert sorted(opt.param_groups[2]) == sorted(ref_opt.param_groups[2])
    for key, value in ref_opt.param_groups[2].items():
        if key != "params":
            assert opt.param_groups[2][key] == value, key


def _to_torch(obj):
    if isinstance(obj, ember.Tensor):
        return torch.tensor(obj.detach().numpy())
    if isinstance(obj, dict):
        return {k: _to_torch(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_to_torch(v) for v in obj]
    return obj


def _to_ember(obj):
    if isinstance(obj, torch.Tensor):
        return ember.tensor(obj.detach().numpy())
    if isinstance(obj, dict):
        return {k: _to_ember(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_to_ember(v) for v in obj]
    return obj


@pytest.mark.parametrize("name,kwargs", [c for c in CONFIGS if c[1] and
                                         c[0] != "SGD" or c[1].get("momentum")],
                         ids=lambda c: str(c))
def test_state_dicts_move_between_ember_and_torch(rng, name, kwargs):
    data = _data(rng)
    # Three steps in each library, then each continues from the other's state.
    params_e, params_t = _params(ember, data), _params(torch, data)
    opt_e = getattr(ember.optim, name)(params_e, **kwargs)
    opt_t = getattr(torch.optim, name)(params_t, **kwargs)
    for _ in range(3):
        for lib, opt, params in ((ember, opt_e, params_e), (torch, opt_t, params_t)):
            opt.zero_grad()
            _loss(lib, data, params).backward()
            opt.step()
    sd_e, sd_t = opt_e.state_dict(), opt_t.state_dict()
    assert sd_e["param_groups"] == sd_t["param_groups"]
    assert sd_e["state"].keys() == sd_t["state"].keys()
    for index in sd_t["state"]:
        assert sd_e["state"][index].keys() == sd_t["state"][index].keys()

    # torch continues from ember's state and ember from torch's.
    fresh_t = [torch.tensor(p.detach().numpy(), requires_grad=True) for p in params_e]
    fresh_e = [ember.tensor(p.detach().numpy(), requires_grad=True) for p in params_t]
    cont_t = getattr(torch.optim, name)(fresh_t, **kwargs)
    cont_t.load_state_dict(_to_torch(sd_e))
    cont_e = getattr(ember.optim, name)(fresh_e, **kwargs)
    cont_e.load_state_dict(_to_ember(sd_t))
    for _ in range(3):
        for lib, opt, params in ((torch, cont_t, fresh_t), (ember, cont_e, fresh_e)):
            opt.zero_grad()
            _loss(lib, data, params).backward()
            opt.step()
    for a, b in zip(fresh_e, fresh_t):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(),
                                   rtol=2e-4, atol=2e-5)


@pytest.mark.parametrize("name", sorted({n for n, _ in CONFIGS}))
def test_a_changing_learning_rate_never_recompiles(rng, name):
    kwargs = dict(next(kw for n, kw in CONFIGS if n == name))
    data = _data(rng)
    params = _params(ember, data)
    opt = getattr(ember.optim, name)(params, **kwargs)
    # Values the compiler would fold if they were constants among them.
    schedule = [0.1, 0.05, 0.5, 1.0, 0.0, 2.0, 0.013, 0.25, 0.5, 1e-3, 0.0, 0.07]

    def step(lr):
        for group in opt.param_groups:
            group["lr"] = lr
        opt.zero_grad()
        loss = _loss(ember, data, params)
        loss.backward()
        opt.step()
        return loss.item()

    for lr in schedule[:3]:
        step(lr)
    before = ember.compile_stats()["compiles"]
    for lr in schedule[3:]:
        step(lr)
    assert ember.compile_stats()["compiles"] == before


def test_zero_grad_sets_to_none_by_default():
    w = ember.ones(3, requires_grad=True)
    opt = ember.optim.RMSprop([w])
    (w * 2).sum().backward()
    opt.zero_grad()
    assert w.grad is None
    (w * 2).sum().backward()
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(w.grad.numpy(), np.zeros(3))


def _regression(rng):
    x = rng.standard_normal((40, 4)).astype(np.float32)
    w = np.array([1.5, -2.0, 0.5, 3.0], np.float32)
    y = (x @ w + 0.3 + 0.01 * rng.standard_normal(40)).astype(np.float32)
    return x, y


def _lbfgs(lib, x_np, y_np, steps, logistic=False, **kwargs):
    x, y = lib.tensor(x_np), lib.tensor(y_np)
    w = lib.zeros(4, requires_grad=True)
    b = lib.zeros(1, requires_grad=True)
    opt = lib.optim.LBFGS([w, b], **kwargs)
    losses = []

    def closure():
        opt.zero_grad()
        z = x @ w + b
        if logistic:
            loss = lib.log(1 + lib.exp(-lib.sign(y) * z)).mean()
        else:
            loss = ((z - y) ** 2).mean()
        loss.backward()
        return loss

    for _ in range(steps):
        losses.append(float(opt.step(closure)))
    state = opt.state[w]
    return losses, w.detach().numpy(), b.detach().numpy(), state["func_evals"], state["n_iter"]


@pytest.mark.parametrize("kwargs", [dict(max_iter=4),
                                    dict(max_iter=4, line_search_fn="strong_wolfe"),
                                    dict(history_size=2, max_iter=6, lr=0.5),
                                    dict(line_search_fn="strong_wolfe", history_size=2,
                                         max_iter=6, max_eval=9)],
                         ids=str)
def test_lbfgs_matches_torch_step_by_step(rng, kwargs):
    # Logistic regression, stopped before any tolerance is reached: every
    # decision (curvature, Wolfe conditions, evaluation counts) the same.
    x, y = _regression(rng)
    got = _lbfgs(ember, x, y, 3, logistic=True, **kwargs)
    ref = _lbfgs(torch, x, y, 3, logistic=True, **kwargs)
    np.testing.assert_allclose(got[0], ref[0], rtol=1e-4)
    np.testing.assert_allclose(got[1], ref[1], rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose(got[2], ref[2], rtol=1e-3, atol=1e-5)
    assert got[3:] == ref[3:]


@pytest.mark.parametrize("kwargs", [dict(), dict(line_search_fn="strong_wolfe"),
                                    dict(line_search_fn="strong_wolfe", history_size=2,
                                         tolerance_grad=1e-3, tolerance_change=1e-4)],
                         ids=str)
def test_lbfgs_solves_a_least_squares_problem(rng, kwargs):
    # Run to convergence (where float32 noise decides the last iteration
    # counts): the fit, not the counts, is compared.
    x, y = _regression(rng)
    got = _lbfgs(ember, x, y, 3, **kwargs)
    ref = _lbfgs(torch, x, y, 3, **kwargs)
    np.testing.assert_allclose(got[1], ref[1], atol=2e-3)
    np.testing.assert_allclose(got[2], ref[2], atol=2e-3)
    np.testing.assert_allclose(got[1], [1.5, -2.0, 0.5, 3.0], atol=0.05)
    assert got[0][-1] < 1e-3


def test_lbfgs_refuses_param_groups_and_other_line_searches():
    a, b = ember.zeros(2, requires_grad=True), ember.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="LBFGS doesn't support per-parameter options"):
        ember.optim.LBFGS([{"params": [a]}, {"params": [b]}])
    opt = ember.optim.LBFGS([a], line_search_fn="backtracking")

    def closure():
        opt.zero_grad()
        loss = ((a - 1) ** 2).sum()
        loss.backward()
        return loss

    with pytest.raises(RuntimeError, match="only 'strong_wolfe' is supported"):
        opt.step(closure)
