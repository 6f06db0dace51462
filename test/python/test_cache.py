"""The compile cache: one compile per program structure, none for a new batch
size, observable through compile_stats() and EMBER_LOG_COMPILES."""

import os
import subprocess
import sys

import ember
from ember_testing import assert_close, pair

STAT_KEYS = {"compiles", "cache_hits", "compile_ms", "graphs_run"}


def stats_delta(before):
    after = ember.compile_stats()
    return {key: after[key] - before[key] for key in STAT_KEYS}


def program(x, w):
    """A small layer: matmul, bias-free activation, a reduction."""
    h = (x @ w).tanh() * 0.5 + x.sum(1, keepdim=True)
    return h.softmax(-1)


def torch_program(x, w):
    h = (x @ w).tanh() * 0.5 + x.sum(1, keepdim=True)
    return h.softmax(-1)


def test_compile_stats_has_the_documented_keys():
    stats = ember.compile_stats()
    assert STAT_KEYS <= set(stats)
    for key in STAT_KEYS:
        assert isinstance(stats[key], (int, float)), key
        assert stats[key] >= 0


def test_the_same_program_twice_compiles_once(rng):
    ember.clear_compile_cache()
    x, t = pair(rng, (8, 6))
    w, u = pair(rng, (6, 6))
    before = ember.compile_stats()
    assert_close(program(x, w), torch_program(t, u), atol=1e-5)
    first = stats_delta(before)
    assert first["compiles"] >= 1
    assert first["graphs_run"] >= 1
    assert first["compile_ms"] > 0

    x2, t2 = pair(rng, (8, 6))
    before = ember.compile_stats()
    assert_close(program(x2, w), torch_program(t2, u), atol=1e-5)
    second = stats_delta(before)
    assert second["compiles"] == 0
    assert second["compile_ms"] == 0
    assert second["cache_hits"] > 0
    assert second["graphs_run"] >= 1


def test_a_new_batch_size_compiles_nothing(rng):
    w, u = pair(rng, (6, 5))
    x, t = pair(rng, (4, 6))
    assert_close(program(x, w), torch_program(t, u), atol=1e-5)
    for batch in (16, 7, 129):
        x, t = pair(rng, (batch, 6))
        before = ember.compile_stats()
        assert_close(program(x, w), torch_program(t, u), atol=1e-5)
        delta = stats_delta(before)
        assert delta["compiles"] == 0, f"batch {batch} compiled {delta['compiles']} graphs"
        assert delta["cache_hits"] > 0


def test_a_batch_size_equal_to_another_dim_compiles_nothing(rng):
    # Batch 6 equals the inner dim and 5 the output dim: the code does not
    # depend on which dims are equal, so neither may recompile.
    w, u = pair(rng, (6, 5))
    x, t = pair(rng, (9, 6))
    assert_close(program(x, w), torch_program(t, u), atol=1e-5)
    for batch in (6, 5):
        x, t = pair(rng, (batch, 6))
        before = ember.compile_stats()
        assert_close(program(x, w), torch_program(t, u), atol=1e-5)
        assert stats_delta(before)["compiles"] == 0, f"batch {batch} recompiled"


def test_a_batch_of_one_is_a_new_pattern_and_still_correct(rng):
    w, u = pair(rng, (6, 5))
    x, t = pair(rng, (1, 6))
    assert_close(program(x, w), torch_program(t, u), atol=1e-5)


def test_a_different_program_compiles(rng):
    x, t = pair(rng, (3, 4))
    (x * 2.0 + 1.0).numpy()
    before = ember.compile_stats()
    assert_close((x * 2.0 - 1.0).exp(), (t * 2.0 - 1.0).exp())
    assert stats_delta(before)["compiles"] >= 1


def test_clear_compile_cache_forces_a_recompile(rng):
    x, t = pair(rng, (5, 5))
    assert_close(x.sigmoid() * x, t.sigmoid() * t)
    ember.clear_compile_cache()
    before = ember.compile_stats()
    assert_close(x.sigmoid() * x, t.sigmoid() * t)
    assert stats_delta(before)["compiles"] >= 1


SCRIPT = r"""
import sys
import ember

def run(batch):
    x = ember.ones(batch, 4)
    return ((x * 3.0).relu().sum(1) + 1.0).tolist()

run(8)
sys.stderr.write("MARK\n")
sys.stderr.flush()
run(32)
print(ember.compile_stats()["compiles"])
"""


def run_script(log):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [os.path.dirname(os.path.dirname(ember.__file__))] +
        [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    env.pop("EMBER_LOG_COMPILES", None)
    if log:
        env["EMBER_LOG_COMPILES"] = "1"
    return subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                          text=True, timeout=120, check=True)


def compile_lines(text):
    return [line for line in text.splitlines() if "compile" in line.lower()]


def test_log_compiles_prints_one_line_per_compile_with_a_reason():
    done = run_script(log=True)
    compiles = int(done.stdout.split()[-1])
    before_mark, after_mark = done.stderr.split("MARK\n", 1)
    lines = compile_lines(before_mark)
    assert compiles >= 1
    assert len(lines) == compiles, done.stderr
    assert "new program" in lines[0], lines[0]
    # The second batch size reuses the compiled graph: no new line.
    assert compile_lines(after_mark) == [], done.stderr


def test_no_compile_log_by_default():
    done = run_script(log=False)
    assert compile_lines(done.stderr) == [], done.stderr



def test_a_changed_python_float_compiles_nothing(rng):
    # Non-integral Python floats are run-time scalars, not part of the key.
    x, t = pair(rng, (5, 7))
    assert_close(x * 0.3 + 0.25, t * 0.3 + 0.25, atol=1e-6)
    for s in (0.1, 1.7, -3.25, 1e-3):
        before = ember.compile_stats()
        assert_close(x * s + 0.25, t * s + 0.25, atol=1e-6)
        assert stats_delta(before)["compiles"] == 0, f"x * {s} recompiled"


def test_an_sgd_learning_rate_schedule_compiles_nothing(rng):
    import numpy as np
    import torch
    from ember import nn, optim
    from ember_testing import from_array, to_numpy

    arrays = [rng.uniform(-1, 1, size=shape).astype(np.float32) for shape in ((4, 3), (3,))]
    ember_params = [nn.Parameter(from_array(a)) for a in arrays]
    torch_params = [torch.nn.Parameter(torch.from_numpy(a.copy())) for a in arrays]
    e = optim.SGD(ember_params, lr=0.1, momentum=0.9)
    t = torch.optim.SGD(torch_params, lr=0.1, momentum=0.9)
    for step in range(8):
        lr = 0.1 * 0.7 ** step
        e.param_groups[0]["lr"] = lr
        t.param_groups[0]["lr"] = lr
        for p, q in zip(ember_params, torch_params):
            g = rng.normal(size=tuple(q.shape)).astype(np.float32)
            p.grad, q.grad = from_array(g), torch.from_numpy(g.copy())
        before = ember.compile_stats()
        e.step()
        t.step()
        for p, q in zip(ember_params, torch_params):
            np.testing.assert_allclose(to_numpy(p), q.detach().numpy(), rtol=1e-5, atol=1e-6)
        if step >= 2:  # the momentum buffer's first step is its own program
            assert stats_delta(before)["compiles"] == 0, f"step {step} recompiled"
