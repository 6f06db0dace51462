"""Module backward hooks and state-dict hooks against PyTorch 1.13 (torch 2's
register_full_backward_pre_hook and register_state_dict_pre_hook, which
1.13 lacks, against what their definitions imply)."""

import collections

import numpy as np
import pytest
import torch

import ember

RTOL, ATOL = 1e-4, 1e-5


def close(a, b):
    np.testing.assert_allclose(np.asarray(a.detach().numpy()), b.detach().numpy(),
                               rtol=RTOL, atol=ATOL)


def mlp(lib, rng_state):
    """Linear-Tanh-Linear with the weights of ``rng_state``."""
    model = lib.nn.Sequential(lib.nn.Linear(5, 6), lib.nn.Tanh(), lib.nn.Linear(6, 3))
    with lib.no_grad():
        for p, value in zip(model.parameters(), rng_state):
            p.copy_(lib.tensor(value))
    return model


def weights(rng):
    return [rng.standard_normal(s).astype(np.float32) for s in [(6, 5), (6,), (3, 6), (3,)]]


def both(rng, fn):
    """fn(lib, weights, x) for ember and torch on the same values."""
    w = weights(rng)
    x = rng.standard_normal((4, 5)).astype(np.float32)
    return fn(ember, w, x), fn(torch, w, x)


def check_grads(mine, theirs):
    (model_e, x_e, seen_e), (model_t, x_t, seen_t) = mine, theirs
    close(x_e.grad, x_t.grad)
    for p, q in zip(model_e.parameters(), model_t.parameters()):
        close(p.grad, q.grad)
    assert len(seen_e) == len(seen_t)
    for (gi_e, go_e), (gi_t, go_t) in zip(seen_e, seen_t):
        assert len(gi_e) == len(gi_t) and len(go_e) == len(go_t)
        for a, b in zip(gi_e + go_e, gi_t + go_t):
            assert (a is None) == (b is None)
            if a is not None:
                close(a, b)


@pytest.mark.parametrize("replace", [False, True])
@pytest.mark.parametrize("where", [0, 1, 2])
def test_full_backward_hook_sees_and_replaces_grad_input(rng, where, replace):
    def run(lib, w, x):
        model = mlp(lib, w)
        seen = []

        def hook(module, grad_input, grad_output):
            seen.append((grad_input, grad_output))
            if replace:
                return tuple(None if g is None else g * 3.0 - 1.0 for g in grad_input)

        model[where].register_full_backward_hook(hook)
        xt = lib.tensor(x, requires_grad=True)
        (model(xt * 2.0) ** 2).sum().backward()
        return model, xt, seen

    check_grads(*both(rng, run))


def args(rng):
    return weights(rng), rng.standard_normal((4, 5)).astype(np.float32)


def test_nested_and_chained_hooks(rng):
    w, x = args(rng)

    def run(lib):
        model = mlp(lib, w)
        order, seen = [], []

        def hook(name):
            def fn(module, grad_input, grad_output):
                order.append(name)
                seen.append((grad_input, grad_output))
                return (grad_input[0] * 0.5,)
            return fn

        model.register_full_backward_hook(hook("model"))
        for i in range(3):
            model[i].register_full_backward_hook(hook(str(i)))
        xt = lib.tensor(x, requires_grad=True)
        model(xt).tanh().sum().backward()
        return (model, xt, seen), order

    mine, order_e = run(ember)
    theirs, order_t = run(torch)
    assert order_e == order_t == ["2", "1", "0", "model"]
    check_grads(mine, theirs)


def test_input_without_grad_gets_none_and_hook_must_not_replace(rng):
    w, x = args(rng)

    def run(lib):
        model = mlp(lib, w)
        seen = []
        model[0].register_full_backward_hook(
            lambda m, gi, go: seen.append((gi, go)))
        xt = lib.tensor(x)
        model(xt).sum().backward()
        return model, seen

    (model_e, seen_e), (model_t, seen_t) = run(ember), run(torch)
    assert seen_e[0][0] == seen_t[0][0] == (None,)
    close(seen_e[0][1][0], seen_t[0][1][0])
    for p, q in zip(model_e.parameters(), model_t.parameters()):
        close(p.grad, q.grad)

    model = mlp(ember, w)
    model[0].register_full_backward_hook(lambda m, gi, go: (go[0][:, :5],))
    with pytest.raises(RuntimeError, match="no input requires gradient"):
        model(ember.tensor(x)).sum().backward()


def test_tuple_outputs_and_non_tensor_arguments(rng):
    def run(lib):
        class TwoWay(lib.nn.Module):
            def forward(self, a, scale, b):
                return a * scale + b, (a * b).sin()

        seen = []
        m = TwoWay()
        m.register_full_backward_hook(lambda mod, gi, go: seen.append((gi, go)))
        a = lib.tensor(av, requires_grad=True)
        b = lib.tensor(bv, requires_grad=True)
        first, second = m(a, 1.5, b)
        (first * 2).sum().backward()
        return a, b, seen

    av = rng.standard_normal((3, 4)).astype(np.float32)
    bv = rng.standard_normal((3, 4)).astype(np.float32)
    (a_e, b_e, seen_e), (a_t, b_t, seen_t) = run(ember), run(torch)
    close(a_e.grad, a_t.grad)
    close(b_e.grad, b_t.grad)
    gi_e, go_e = seen_e[0]
    gi_t, go_t = seen_t[0]
    assert len(gi_e) == len(gi_t) == 3 and gi_e[1] is None and gi_t[1] is None
    close(gi_e[0], gi_t[0])
    close(gi_e[2], gi_t[2])
    # torch 1.13 materializes the unused output's grad as zeros.
    assert len(go_e) == 2
    close(go_e[0], go_t[0])


def test_wrong_number_of_grad_inputs_raises(rng):
    w, x = args(rng)
    model = mlp(ember, w)
    model[1].register_full_backward_hook(lambda m, gi, go: (gi[0], gi[0]))
    with pytest.raises(RuntimeError, match="invalid number of grad_input"):
        model(ember.tensor(x, requires_grad=True)).sum().backward()


def test_legacy_backward_hook_on_an_elementwise_module(rng):
    w, x = args(rng)

    def run(lib):
        model = mlp(lib, w)
        seen = []

        def hook(module, grad_input, grad_output):
            seen.append((grad_input, grad_output))
            return (grad_input[0].clamp(-0.1, 0.1),)

        model[1].register_backward_hook(hook)
        xt = lib.tensor(x, requires_grad=True)
        (model(xt) ** 2).sum().backward()
        return model, xt, seen

    check_grads(run(ember), run(torch))
    model = mlp(ember, w)
    model[1].register_backward_hook(lambda *a: None)
    with pytest.raises(RuntimeError, match="both regular backward hooks and full"):
        model[1].register_full_backward_hook(lambda *a: None)


def test_removed_and_global_hooks(rng):
    w, x = args(rng)

    def run(lib, module_mod):
        model = mlp(lib, w)
        calls = []
        handle = model[1].register_full_backward_hook(
            lambda m, gi, go: (gi[0] * 100.0,))
        handle.remove()
        global_handle = module_mod.register_module_full_backward_hook(
            lambda m, gi, go: calls.append(type(m).__name__))
        try:
            xt = lib.tensor(x, requires_grad=True)
            model(xt).sum().backward()
        finally:
            global_handle.remove()
        return model, xt, calls

    model_e, x_e, calls_e = run(ember, ember.nn.module)
    model_t, x_t, calls_t = run(torch, torch.nn.modules.module)
    assert calls_e == calls_t
    close(x_e.grad, x_t.grad)


def test_full_backward_pre_hook_replaces_grad_output(rng):
    # torch 2's semantics: replacing grad_output by 2 * grad_output doubles
    # every gradient the module produces (torch 1.13 has no pre hook).
    w, x = args(rng)
    model = mlp(ember, w)
    seen = []

    def pre(module, grad_output):
        seen.append(grad_output)
        return (grad_output[0] * 2.0,)

    model[2].register_full_backward_pre_hook(pre)
    xe = ember.tensor(x, requires_grad=True)
    model(xe).sin().sum().backward()

    ref = mlp(torch, w)
    xt = torch.tensor(x, requires_grad=True)
    out = ref(xt)
    out.retain_grad()
    (ref(xt).sin().sum() * 2.0).backward()
    close(xe.grad, xt.grad)
    for p, q in zip(model.parameters(), ref.parameters()):
        close(p.grad, q.grad)
    close(seen[0][0], torch.cos(out.detach()))


def test_a_hooked_training_step_runs_three_programs(rng):
    w, x = args(rng)
    model = mlp(ember, w)
    opt = ember.optim.SGD(model.parameters(), lr=0.1)
    model[1].register_full_backward_hook(lambda m, gi, go: (gi[0] * 0.5,))
    xe = ember.tensor(x)
    runs = []
    for _ in range(3):
        before = ember.compile_stats()["graphs_run"]
        opt.zero_grad()
        loss = model(xe).pow(2).mean()
        loss.backward()
        opt.step()
        loss.item()
        runs.append(ember.compile_stats()["graphs_run"] - before)
    # The forward before the cut, the hooked Tanh, the rest of the step.
    assert runs[1:] == [3, 3]


# State-dict hooks ---------------------------------------------------------

def test_state_dict_hook_and_pre_hook(rng):
    w, _ = args(rng)

    def run(lib):
        model = mlp(lib, w)
        calls = []

        def hook(module, state_dict, prefix, local_metadata):
            calls.append((prefix, sorted(state_dict)))
            state_dict[prefix + "extra"] = lib.ones(1)

        model[0]._register_state_dict_hook(hook)
        model._register_state_dict_hook(
            lambda m, sd, prefix, meta: collections.OrderedDict(
                (k, v) for k, v in sd.items() if not k.endswith("bias")))
        return model.state_dict(), calls

    (sd_e, calls_e), (sd_t, calls_t) = run(ember), run(torch)
    assert list(sd_e) == list(sd_t)
    assert calls_e == calls_t
    for k in sd_e:
        close(sd_e[k], sd_t[k])

    model = mlp(ember, w)
    pre = []
    model[2].register_state_dict_pre_hook(lambda m, prefix, keep_vars: pre.append(
        (type(m).__name__, prefix, keep_vars)))
    model.state_dict(keep_vars=True)
    assert pre == [("Linear", "2.", True)]


def test_load_state_dict_pre_and_post_hooks(rng):
    w, _ = args(rng)
    source = {f"old_{k}": torch.tensor(v)
              for k, v in zip(["0.weight", "0.bias", "2.weight", "2.bias"], weights(rng))}
    source["unused"] = torch.zeros(1)

    def run(lib):
        model = mlp(lib, w)
        log = []

        def rename(state_dict, prefix, local_metadata, strict, missing, unexpected, errors):
            log.append(("pre", prefix))
            for key in list(state_dict):
                if key.startswith("old_"):
                    state_dict[key[len("old_"):]] = state_dict.pop(key)

        def with_module(module, state_dict, prefix, *rest):
            log.append(("pre_m", type(module).__name__, prefix))

        def post(module, incompatible):
            log.append(("post", type(module).__name__, list(incompatible.unexpected_keys)))
            incompatible.unexpected_keys[:] = [
                k for k in incompatible.unexpected_keys if k != "unused"]

        model._register_load_state_dict_pre_hook(rename)
        model[2]._register_load_state_dict_pre_hook(with_module, with_module=True)
        model[2].register_load_state_dict_post_hook(post)
        model.register_load_state_dict_post_hook(post)
        sd = {k: lib.tensor(v.numpy()) for k, v in source.items()}
        result = model.load_state_dict(sd)
        return model, log, result, sd

    (m_e, log_e, res_e, sd_e), (m_t, log_t, res_t, sd_t) = run(ember), run(torch)
    assert log_e == log_t
    assert list(res_e.missing_keys) == list(res_t.missing_keys)
    assert list(res_e.unexpected_keys) == list(res_t.unexpected_keys)
    assert sorted(sd_e) == sorted(sd_t)  # the caller's dict is not renamed
    for p, q in zip(m_e.parameters(), m_t.parameters()):
        close(p, q)


def test_load_state_dict_post_hook_must_return_none(rng):
    model = mlp(ember, weights(rng))
    model.register_load_state_dict_post_hook(lambda m, keys: keys)
    with pytest.raises(AssertionError, match="not expected to return new values"):
        model.load_state_dict(model.state_dict())
