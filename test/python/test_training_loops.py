"""Training loops compile a bounded number of programs whatever they read and
when: a computed value is never re-traced (graphs are cut at computed values
and at leaf updates), slice windows are run-time values, and memory stays
flat over many steps. Each loop is also checked against PyTorch 1.13."""

import numpy as np
import pytest
import torch

import ember


def _stats():
    return ember.compile_stats()


def _fit(lib, x_np, y_np, steps, read, lr=1e-3, update="sgd"):
    """Linear least squares by gradient descent, written as a tutorial would;
    `read` says when the loss is read: "before" backward, "after" step(),
    "every100", or "never" (only at the end)."""
    x = lib.tensor(x_np)
    y = lib.tensor(y_np)
    w = lib.zeros(x_np.shape[1], requires_grad=True)
    opt = lib.optim.SGD([w], lr=lr) if update == "sgd" else None
    seen = []
    for t in range(steps):
        loss = ((x @ w - y) ** 2).sum()
        if read == "before":
            seen.append(loss.item())
        if opt is not None:
            opt.zero_grad()
            loss.backward()
            opt.step()
        else:
            loss.backward()
            with lib.no_grad():
                w -= lr * w.grad
            w.grad = None
        if read == "after" or (read == "every100" and t % 100 == 0):
            seen.append(loss.item())
    return loss.item(), w.detach().numpy().copy(), seen


@pytest.mark.parametrize("read", ["before", "after", "every100", "never"])
@pytest.mark.parametrize("update", ["sgd", "no_grad"])
def test_a_training_loop_compiles_a_bounded_number_of_programs(rng, read, update):
    x_np = rng.standard_normal((100, 3)).astype(np.float32)
    y_np = rng.standard_normal(100).astype(np.float32)
    ember.clear_compile_cache()
    before = _stats()
    loss, w, seen = _fit(ember, x_np, y_np, 300, read, update=update)
    compiles = _stats()["compiles"] - before["compiles"]
    # Reading before backward costs one program for the forward and one for
    # backward + update; any other pattern is one program per step.
    assert compiles <= 3, f"{compiles} programs compiled for a 300-step loop"
    ref_loss, ref_w, ref_seen = _fit(torch, x_np, y_np, 300, read, update=update)
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-4)
    np.testing.assert_allclose(w, ref_w, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(seen, ref_seen, rtol=1e-4)


def test_the_graph_of_a_step_does_not_hold_the_steps_before_it(rng):
    """The issue's repro: 30 steps reading the loss before backward. Every
    step after the first runs the programs compiled for the first ones."""
    torch_x = rng.standard_normal((100, 3)).astype(np.float32)
    torch_y = rng.standard_normal(100).astype(np.float32)
    x, y = ember.tensor(torch_x), ember.tensor(torch_y)
    w = ember.zeros(3, requires_grad=True)
    opt = ember.optim.SGD([w], lr=1e-3)
    ember.clear_compile_cache()
    compiles = _stats()["compiles"]
    traced = []
    for _ in range(30):
        before = _stats()["nodes_traced"]
        loss = ((x @ w - y) ** 2).sum()
        loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
        traced.append(_stats()["nodes_traced"] - before)
    assert _stats()["compiles"] - compiles == 2
    assert len(set(traced[1:])) == 1, traced  # the same work every step


def test_adam_on_an_mlp_that_never_reads_compiles_once_per_structure(rng):
    x_np = rng.standard_normal((64, 8)).astype(np.float32)
    y_np = rng.standard_normal((64, 1)).astype(np.float32)

    def run(lib):
        lib.manual_seed(0)
        model = lib.nn.Sequential(lib.nn.Linear(8, 16), lib.nn.Tanh(), lib.nn.Linear(16, 1))
        with lib.no_grad():
            for p, init in zip(model.parameters(), _init_like(model)):
                p.copy_(lib.tensor(init))
        opt = lib.optim.Adam(model.parameters(), lr=1e-2)
        x, y = lib.tensor(x_np), lib.tensor(y_np)
        for _ in range(200):
            loss = ((model(x) - y) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        return loss.item()

    ember.clear_compile_cache()
    before = _stats()["compiles"]
    got = run(ember)
    assert _stats()["compiles"] - before <= 3
    np.testing.assert_allclose(got, run(torch), rtol=1e-4, atol=1e-6)


def _init_like(model):
    rng = np.random.default_rng(7)
    return [rng.uniform(-0.3, 0.3, tuple(p.shape)).astype(np.float32)
            for p in model.parameters()]


def test_memory_stays_flat_over_ten_thousand_steps(rng):
    x = ember.tensor(rng.standard_normal((32, 4)).astype(np.float32))
    y = ember.tensor(rng.standard_normal(32).astype(np.float32))
    w = ember.zeros(4, requires_grad=True)
    opt = ember.optim.SGD([w], lr=1e-3)
    ember.clear_compile_cache()
    before = _stats()["compiles"]
    allocated = []
    for step in range(10_000):
        loss = ((x @ w - y) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step in (999, 9_999):
            ember.sync()
            allocated.append(ember.memory_stats()["allocated_bytes"])
    assert _stats()["compiles"] - before <= 2
    # Live buffers after 10,000 steps are those after 1,000: nothing of the
    # earlier steps is kept.
    assert allocated[1] == allocated[0], allocated


def test_windows_of_a_new_position_or_length_reuse_the_program(rng):
    data_np = rng.standard_normal(500).astype(np.float32)
    data = ember.tensor(data_np)
    ember.clear_compile_cache()
    # (start, length): the first compiles, every later one reuses it.
    windows = [(0, 32), (7, 32), (100, 31), (400, 5), (3, 97)]
    compiles = []
    for start, length in windows:
        before = _stats()["compiles"]
        got = (data[start:start + length] * 2).sum().item()
        compiles.append(_stats()["compiles"] - before)
        np.testing.assert_allclose(got, (data_np[start:start + length] * 2).sum(), rtol=1e-5)
    assert compiles[0] == 1 and sum(compiles[1:]) == 0, compiles


def test_random_windows_of_a_text_batch_like_nanogpt(rng):
    """get_batch: a stack of random windows, then a step that trains on it."""
    text = ember.tensor(rng.integers(0, 50, 2000))
    text_np = text.numpy().copy()
    emb = ember.randn(50, 8, requires_grad=True)
    emb_np = emb.detach().numpy().copy()
    ember.clear_compile_cache()
    counts = []
    for step in range(6):
        ix = rng.integers(0, 2000 - 17, 4)
        before = _stats()["compiles"]
        batch = ember.stack([text[i:i + 16] for i in ix.tolist()])
        loss = (emb[batch] ** 2).mean()
        loss.backward()
        got = emb.grad.numpy().copy()
        emb.grad = None
        counts.append(_stats()["compiles"] - before)
        t_emb = torch.tensor(emb_np, requires_grad=True)
        t_batch = torch.stack([torch.tensor(text_np[i:i + 16]) for i in ix.tolist()])
        (t_emb[t_batch] ** 2).mean().backward()
        np.testing.assert_allclose(got, t_emb.grad.numpy(), rtol=1e-5, atol=1e-7)
    assert sum(counts[2:]) == 0, counts


def test_gradients_through_run_time_windows_and_window_writes(rng):
    x_np = rng.standard_normal((6, 9)).astype(np.float32)
    v_np = rng.standard_normal((6, 9)).astype(np.float32)
    ember.clear_compile_cache()
    for i, (a, b, c, d) in enumerate([(1, 4, 2, 8), (0, 5, 0, 3), (2, 4, 5, 9)]):
        before = _stats()["compiles"]
        # The gradient of a window is the cotangent written into that window.
        x = ember.tensor(x_np, requires_grad=True)
        (x[a:b, c:d].exp() * x[a:b, :].sum(1, keepdim=True)).sum().backward()
        t = torch.tensor(x_np, requires_grad=True)
        (t[a:b, c:d].exp() * t[a:b, :].sum(1, keepdim=True)).sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-5, atol=1e-6)
        # A window written in place.
        y = ember.zeros(6, 9)
        y[a:b, c:d] = ember.tensor(v_np)[a:b, c:d] * 2
        u = np.zeros((6, 9), np.float32)
        u[a:b, c:d] = v_np[a:b, c:d] * 2
        np.testing.assert_array_equal(y.numpy(), u)
        if i:
            assert _stats()["compiles"] == before


def test_negative_and_stepped_slices_still_match(rng):
    x_np = rng.standard_normal((7, 10)).astype(np.float32)
    x = ember.tensor(x_np)
    for key in [np.s_[-3:], np.s_[:, -4:-1], np.s_[1::2, ::3], np.s_[5:2], np.s_[:, 2:2]]:
        np.testing.assert_array_equal(x[key].numpy(), x_np[key])


def test_identical_blocks_compile_one_set_of_kernels():
    """Kernels are compiled and cached by their own structure: a model of 4
    or 12 blocks is a new graph, but made of the kernels of the 2-block one."""
    def train(blocks):
        ember.manual_seed(0)
        model = ember.nn.Sequential(*[
            ember.nn.Sequential(ember.nn.Linear(16, 16), ember.nn.Tanh()) for _ in range(blocks)])
        opt = ember.optim.Adam(model.parameters(), lr=1e-3)
        x = ember.randn(8, 16)
        for _ in range(3):
            loss = (model(x) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        return loss.item()

    ember.clear_compile_cache()
    counts = []
    for blocks in (2, 4, 12):
        before = _stats()
        train(blocks)
        after = _stats()
        counts.append((after["compiles"] - before["compiles"],
                       after["kernels_compiled"] - before["kernels_compiled"],
                       after["kernels_reused"] - before["kernels_reused"]))
    assert counts[0][0] >= 1 and counts[0][1] > 0
    for compiles, compiled, reused in counts[1:]:
        assert compiles >= 1          # a new graph ...
        assert compiled == 0          # ... of known kernels
        assert reused > 0


def test_per_step_numbers_integral_or_not_reuse_the_program(rng):
    """A step count, an offset or a scale that changes every step is a run-time
    value, for int and float tensors alike; a pow's exponent is not."""
    idx_np = rng.integers(0, 100, 16)
    x_np = rng.standard_normal(16).astype(np.float32)
    idx, x = ember.tensor(idx_np), ember.tensor(x_np)
    ember.clear_compile_cache()
    compiles = []
    for step in range(3, 12):
        before = _stats()["compiles"]
        got_i = (idx + step * 7).numpy()
        got_f = (x * step - step).numpy()
        compiles.append(_stats()["compiles"] - before)
        np.testing.assert_array_equal(got_i, idx_np + step * 7)
        np.testing.assert_allclose(got_f, x_np * step - step, rtol=1e-6)
    assert compiles[0] == 2 and sum(compiles[1:]) == 0, compiles
    # Exponents stay in the program: (-2) ** 5 must stay -32, not NaN.
    neg = ember.tensor(np.array([-2.0, 3.0], np.float32))
    np.testing.assert_allclose((neg ** 5).numpy(), [-32.0, 243.0])
    np.testing.assert_allclose((neg ** 7).numpy(), [-128.0, 2187.0])
