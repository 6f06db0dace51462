"""Threads: grad mode is per thread as in torch, and threads that each trace,
compile and run their own graphs get exactly what they get one after another."""

import queue
import sys
import threading

import numpy as np
import pytest
import torch

import ember
import ember.nn
import ember.optim
from ember_testing import assert_close


@pytest.fixture
def fine_switching():
    """Switches threads every 10 us so that their ops interleave closely."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(previous)


def run_threads(targets):
    """Runs each callable in its own thread; returns the exceptions raised."""
    errors = []

    def guarded(target):
        try:
            target()
        except BaseException as error:  # noqa: B902 - reported to the test
            errors.append(error)

    threads = [threading.Thread(target=guarded, args=(t,)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
        assert not thread.is_alive(), "a thread hangs"
    return errors


# ---------------------------------------------------------------------------
# Grad mode
# ---------------------------------------------------------------------------

def grad_mode_script(lib):
    """Two threads enter and leave no-grad contexts in an interleaved order
    (barriers fix it); each records what it sees. Returns the records."""
    barrier = threading.Barrier(2)
    seen = {"a": [], "b": [], "new": []}
    leaf = lib.ones(3, requires_grad=True)

    def record(name):
        seen[name].append((lib.is_grad_enabled(), (leaf * 2).requires_grad))

    def a():
        record("a")
        with lib.no_grad():
            record("a")
            barrier.wait()  # 1: a is in no_grad
            barrier.wait()  # 2: b entered no_grad too
            record("a")
        barrier.wait()  # 3: a left first
        record("a")
        barrier.wait()  # 4: b is in enable_grad inside no_grad
        lib.set_grad_enabled(False)  # not a context: stays off in a only
        barrier.wait()  # 5
        record("a")
        barrier.wait()  # 6: b checked it is unaffected

    def b():
        barrier.wait()  # 1
        record("b")  # a's no_grad must not reach b
        with lib.no_grad():
            barrier.wait()  # 2
            barrier.wait()  # 3: a left its no_grad; b is still inside
            record("b")
            with lib.enable_grad():
                record("b")
                barrier.wait()  # 4
                barrier.wait()  # 5: a turned grad off for itself
                record("b")
            record("b")
        record("b")
        barrier.wait()  # 6

        # A thread started from a thread with grad off starts with it on.
        with lib.no_grad():
            spawned = threading.Thread(target=lambda: record("new"))
            spawned.start()
            spawned.join()

    errors = run_threads([a, b])
    assert not errors, errors
    return seen


def test_grad_mode_is_per_thread_as_in_torch(fine_switching):
    before = ember.is_grad_enabled()
    observed = grad_mode_script(ember)
    expected = grad_mode_script(torch)
    assert observed == expected
    # Spelled out, so that a change on both sides cannot pass unnoticed.
    assert observed["a"] == [(True, True), (False, False), (False, False),
                             (True, True), (False, False)]
    assert observed["b"] == [(True, True), (False, False), (True, True),
                             (True, True), (False, False), (True, True)]
    assert observed["new"] == [(True, True)]
    # The main thread kept its mode, and backward works in it.
    assert ember.is_grad_enabled() == before is True
    x = ember.tensor([1.0, -2.0, 3.0], requires_grad=True)
    (x * x).sum().backward()
    assert_close(x.grad, torch.tensor([2.0, -4.0, 6.0]))


def test_main_thread_no_grad_does_not_reach_a_worker(fine_switching):
    results = queue.Queue()
    started = threading.Event()
    leave = threading.Event()

    def worker():
        try:
            started.wait()
            w = ember.ones(2, requires_grad=True)
            loss = (w * 3).sum()
            loss.backward()
            results.put((ember.is_grad_enabled(), w.grad.tolist()))
        finally:
            leave.set()

    thread = threading.Thread(target=worker)
    thread.start()
    with ember.no_grad():
        started.set()
        leave.wait(timeout=300)
        assert not ember.is_grad_enabled()
    thread.join()
    assert results.get_nowait() == (True, [3.0, 3.0])
    assert ember.is_grad_enabled()


# ---------------------------------------------------------------------------
# Concurrent training equals sequential training
# ---------------------------------------------------------------------------

STEPS = 30
THREADS = 4


def make_run(seed):
    """The data and initial weights of one training run, from `seed`."""
    rng = np.random.default_rng(seed)
    shapes = [(16, 8), (16,), (16, 16), (16,), (1, 16), (1,)]
    weights = [rng.standard_normal(s).astype(np.float32) * 0.4 for s in shapes]
    x = rng.standard_normal((32, 8)).astype(np.float32)
    y = rng.standard_normal((32, 1)).astype(np.float32)
    return weights, x, y


def train(lib, seed):
    """Trains one MLP with lib (ember or torch); returns (losses, weights)."""
    weights, x, y = make_run(seed)
    nn = lib.nn
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(),
                          nn.Linear(16, 1))
    with lib.no_grad():
        for parameter, value in zip(model.parameters(), weights):
            parameter.copy_(lib.tensor(value))
    if seed % 2:
        optimizer = lib.optim.Adam(model.parameters(), lr=0.01)
    else:
        optimizer = lib.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    xs, ys = lib.tensor(x), lib.tensor(y)
    losses = []
    for step in range(STEPS):
        optimizer.zero_grad()
        loss = ((model(xs) - ys) ** 2).mean()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if step % 5 == 4:  # an evaluation under no_grad between steps
            with lib.no_grad():
                losses.append(((model(xs) - ys) ** 2).mean().item())
    return losses, [p.detach().numpy().copy() for p in model.parameters()]


def test_threads_training_their_own_models_match_sequential_runs(fine_switching):
    seeds = [101 + i for i in range(THREADS)]
    sequential = {seed: train(ember, seed) for seed in seeds}

    concurrent = {}

    def runner(seed):
        return lambda: concurrent.__setitem__(seed, train(ember, seed))

    errors = run_threads([runner(seed) for seed in seeds])
    assert not errors, errors
    for seed in seeds:
        losses, weights = concurrent[seed]
        assert losses == sequential[seed][0], seed
        for got, want in zip(weights, sequential[seed][1]):
            np.testing.assert_array_equal(got, want)
    # And the runs are right: torch trains the same models to the same losses.
    for seed in seeds[:2]:
        want_losses, want_weights = train(torch, seed)
        np.testing.assert_allclose(sequential[seed][0], want_losses, rtol=1e-4, atol=1e-5)
        for got, want in zip(sequential[seed][1], want_weights):
            np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4)


def test_a_value_traced_in_one_thread_is_read_in_another(fine_switching, rng):
    data = rng.standard_normal((5, 7)).astype(np.float32)
    handed = queue.Queue()
    done = threading.Event()

    def producer():
        x = ember.tensor(data)
        handed.put(((x * 2 + 1).exp(), x.sum(1)))  # still pending here
        done.wait(timeout=300)
        ember.sync()  # its own sync finds them computed by the reader

    thread = threading.Thread(target=producer)
    thread.start()
    exp, total = handed.get(timeout=300)
    np.testing.assert_allclose(exp.numpy(), np.exp(data * 2 + 1), rtol=1e-5)
    done.set()
    thread.join()
    np.testing.assert_allclose(total.numpy(), data.sum(1), rtol=1e-5, atol=1e-5)


def test_an_export_trace_in_one_thread_lets_others_read_values(rng):
    data = rng.standard_normal((4, 3)).astype(np.float32)
    example = rng.standard_normal((5, 3)).astype(np.float32)
    inside, read = threading.Event(), threading.Event()
    totals, errors = [], []

    def function(x):
        if not inside.is_set():  # the first trace waits for the reader
            inside.set()
            assert read.wait(timeout=300)
        return (x * 2 + 1).relu()

    def reader():  # reads a value while the main thread traces
        try:
            assert inside.wait(timeout=300)
            totals.append((ember.tensor(data) * 3).sum().item())
        except Exception as error:  # noqa: B902 - reported to the test
            errors.append(error)
        finally:
            read.set()

    thread = threading.Thread(target=reader)
    thread.start()
    program = ember.export(function, ember.tensor(example), dynamic_dims=[{0: "n"}])
    thread.join()
    assert not errors, errors
    assert len(totals) == 1
    np.testing.assert_allclose(totals[0], data.sum() * 3, rtol=1e-5)
    fresh = rng.standard_normal((7, 3)).astype(np.float32)
    np.testing.assert_allclose(program(ember.tensor(fresh)).numpy(),
                               np.maximum(fresh * 2 + 1, 0), rtol=1e-6)
    # Reads in the exporting thread itself are still refused.
    with pytest.raises(RuntimeError, match="reads a tensor's value"):
        ember.export(lambda x: x * x.sum().item(), ember.tensor(example))


# ---------------------------------------------------------------------------
# The compile cache under threads
# ---------------------------------------------------------------------------

def shared_program(x):
    return (x.tanh() * 0.5 + x.sum(1, keepdim=True)).softmax(-1)


def own_program(x, which):
    """A different graph structure for each `which`."""
    y = x
    for _ in range(which + 1):
        y = (y * 1.5).sigmoid()
    return y


def hammer(worker, rounds, rng_seed):
    """Runs the shared program and `worker`'s own one at varying batch sizes;
    checks every result against NumPy/torch."""
    rng = np.random.default_rng(rng_seed)
    for i in range(rounds):
        data = rng.standard_normal((3 + i % 4, 6)).astype(np.float32)
        got = shared_program(ember.tensor(data)).numpy()
        want = shared_program(torch.tensor(data)).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
        got = own_program(ember.tensor(data), worker).numpy()
        want = own_program(torch.tensor(data), worker).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def cache_delta(before):
    after = ember.compile_stats()
    return {key: after[key] - before[key]
            for key in ("compiles", "cache_hits", "disk_hits", "graphs_run")}


def test_threads_share_the_compile_cache(fine_switching):
    workers, rounds = 6, 12
    ember.clear_compile_cache()
    before = ember.compile_stats()
    for worker in range(workers):
        hammer(worker, rounds, worker)
    sequential = cache_delta(before)

    ember.clear_compile_cache()
    before = ember.compile_stats()
    errors = run_threads([lambda w=w: hammer(w, rounds, w) for w in range(workers)])
    assert not errors, errors
    concurrent = cache_delta(before)

    # One compile per structure: the shared program once, each worker's own
    # once, however the threads interleave; every other run is a hit.
    assert concurrent == sequential
    assert concurrent["compiles"] == 1 + workers
    assert concurrent["graphs_run"] == 2 * workers * rounds
    assert concurrent["compiles"] + concurrent["cache_hits"] == concurrent["graphs_run"]
