"""ember.multiprocessing and shared-memory tensors against torch's semantics.

Tensors put on an ember.multiprocessing queue or pipe travel as descriptors
of shared memory: the receiver maps the same pages (a write on one side is
read on the other, with nothing sent back), under each start method ('fork',
'spawn', 'forkserver'); children compile and run programs of their own.
Workers that raise or die give clear errors, never hangs.
"""

import gc
import os
import pickle
import signal

import numpy as np
import pytest

import ember
import ember.multiprocessing as mp

START_METHODS = ["fork", "spawn", "forkserver"]
# No test waits longer than this for a child (a hang fails, it never blocks).
TIMEOUT = 30


# Children (module-level: 'spawn' and 'forkserver' import them by name) ------

def _compute_child(inbox, outbox):
    """Compiles and runs a program of its own on the tensor it receives."""
    x = inbox.get(timeout=TIMEOUT)
    y = (x @ x.t()).relu() + x.sum(1, keepdim=True)
    outbox.put(y)
    outbox.put(ember.arange(0, 6, 1, dtype=ember.float32).reshape(2, 3) * 2)
    inbox.get(timeout=TIMEOUT)  # stay alive until the parent took the results


def _writer_child(inbox, done):
    """Writes into the shared tensors it received; sends nothing back."""
    base, view, transposed = inbox.get(timeout=TIMEOUT)
    base[0, 0] = 42.0
    view.mul_(-1)            # a slice of rows 2..3 of the same storage
    transposed[1, 0] = 7.0   # element [0, 1] of the storage
    done.put("written")
    inbox.get(timeout=TIMEOUT)
    # The parent has written in the meantime: report what this side reads.
    done.put(float(base[3, 3].item()))


def _raising_child(i):
    if i == 0:
        return
    raise ValueError(f"bad batch in worker {i}")


def _killed_child(i):
    os.kill(os.getpid(), signal.SIGKILL)


def _quiet_child(i, out):
    out[i] = float(i + 1)


def _pending_and_pool_child(pending, outbox):
    # A value the parent traced but never computed, and a kernel large
    # enough to be split over the (restarted) thread pool.
    big = (ember.ones(512, 256) * 0.5).exp().sum(1)
    outbox.put((pending.tolist(), big[:3].tolist(), ember.get_num_threads()))


def _short_lived_sender(queue):
    queue.put(ember.ones(3))
    queue.close()
    queue.join_thread()  # the tensor is in the pipe; then this process exits


def _parameter_child(inbox, outbox):
    p, leaf = inbox.get(timeout=TIMEOUT)
    outbox.put((type(p).__name__, p.requires_grad, leaf.requires_grad,
                leaf.is_leaf, p.is_shared()))
    with ember.no_grad():
        p.add_(1.0)
    inbox.get(timeout=TIMEOUT)


# Shared storage in one process ------------------------------------------------

def test_share_memory_moves_the_storage_in_place(rng):
    values = rng.standard_normal((4, 5)).astype(np.float32)
    x = ember.from_numpy(values.copy()) * 2  # pending until shared
    view = x[1:3]
    assert not x.is_shared()
    assert x.share_memory_() is x
    assert x.is_shared() and view.is_shared()
    np.testing.assert_array_equal(x.numpy(), values * 2)
    np.testing.assert_array_equal(view.numpy(), values[1:3] * 2)
    pointer = x.data_ptr()
    x.add_(1.0)
    view.mul_(0.5)
    expected = values * 2 + 1
    expected[1:3] *= 0.5
    np.testing.assert_allclose(x.numpy(), expected, rtol=1e-6)
    # Updates are written into the shared pages, never into a new block.
    assert x.data_ptr() == pointer and x.is_shared()
    assert x.share_memory_().data_ptr() == pointer


def test_shared_memory_is_released_with_the_last_tensor():
    before = ember._ember._live_shared_regions()
    x = ember.ones(1000).share_memory_()
    y = x[10:20]
    assert ember._ember._live_shared_regions() == before + 1
    del x
    assert ember._ember._live_shared_regions() == before + 1  # the view holds it
    del y
    assert ember._ember._live_shared_regions() == before


def test_module_share_memory_and_training_keep_parameters_shared(rng):
    model = ember.nn.Sequential(ember.nn.Linear(4, 8), ember.nn.ReLU(),
                                ember.nn.Linear(8, 2))
    assert model.share_memory() is model
    pointers = [p.data_ptr() for p in model.parameters()]
    assert all(p.is_shared() for p in model.parameters())
    optimizer = ember.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x = ember.from_numpy(rng.standard_normal((16, 4)).astype(np.float32))
    before = [p.detach().numpy().copy() for p in model.parameters()]
    for _ in range(2):
        optimizer.zero_grad()
        model(x).pow(2).mean().backward()
        optimizer.step()
    assert [p.data_ptr() for p in model.parameters()] == pointers
    assert all(p.is_shared() for p in model.parameters())
    assert any(not np.array_equal(b, p.detach().numpy())
               for b, p in zip(before, model.parameters()))


def test_plain_pickle_copies_values(rng):
    values = rng.standard_normal((3, 4)).astype(np.float32)
    x = ember.from_numpy(values)
    y = pickle.loads(pickle.dumps(x.t()))
    np.testing.assert_array_equal(y.numpy(), values.T)
    p = pickle.loads(pickle.dumps(ember.nn.Parameter(x)))
    assert isinstance(p, ember.nn.Parameter) and p.requires_grad
    b = pickle.loads(pickle.dumps(ember.tensor([1.5, 2.5], dtype=ember.bfloat16)))
    assert b.dtype == ember.bfloat16 and b.tolist() == [1.5, 2.5]
    with pytest.raises(RuntimeError, match="non-leaf tensor which requires_grad"):
        pickle.dumps(ember.ones(2, requires_grad=True) * 2)


def test_sharing_strategies():
    assert mp.get_sharing_strategy() == "file_descriptor"
    assert mp.get_all_sharing_strategies() == {"file_descriptor"}
    mp.set_sharing_strategy("file_descriptor")
    with pytest.raises(ValueError, match="file_system"):
        mp.set_sharing_strategy("file_system")


def test_reexports_the_multiprocessing_api():
    import multiprocessing
    for name in ["Process", "Queue", "Pipe", "Pool", "get_context",
                 "set_start_method", "Event", "SimpleQueue", "cpu_count"]:
        assert getattr(mp, name) is getattr(multiprocessing, name)


# Across processes ------------------------------------------------------------

def _context(method):
    return mp.get_context(method)


def _start(ctx, target, *args):
    process = ctx.Process(target=target, args=args, daemon=True)
    process.start()
    return process


def _finish(process):
    process.join(TIMEOUT)
    assert process.exitcode == 0, f"child exit code {process.exitcode}"


@pytest.mark.parametrize("method", START_METHODS)
def test_child_computes_and_returns_tensors(method, rng):
    # The parent compiles first: a forked child inherits the JIT's state.
    values = rng.standard_normal((3, 4)).astype(np.float32)
    x = ember.from_numpy(values.copy())
    warm = (x @ x.t()).relu() + x.sum(1, keepdim=True)
    ctx = _context(method)
    inbox, outbox = ctx.Queue(), ctx.Queue()
    child = _start(ctx, _compute_child, inbox, outbox)
    inbox.put(x)
    y = outbox.get(timeout=TIMEOUT)
    z = outbox.get(timeout=TIMEOUT)
    inbox.put(None)
    _finish(child)
    expected = np.maximum(values @ values.T, 0) + values.sum(1, keepdims=True)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(warm.numpy(), expected, rtol=1e-5, atol=1e-5)
    assert y.is_shared() and x.is_shared()
    np.testing.assert_array_equal(z.numpy(), np.arange(6, dtype=np.float32).reshape(2, 3) * 2)


@pytest.mark.parametrize("method", START_METHODS)
def test_writes_are_seen_across_processes(method, rng):
    values = rng.standard_normal((4, 4)).astype(np.float32)
    base = ember.from_numpy(values.copy())
    ctx = _context(method)
    inbox, done = ctx.Queue(), ctx.Queue()
    child = _start(ctx, _writer_child, inbox, done)
    inbox.put((base, base[2:4], base.t()))
    assert done.get(timeout=TIMEOUT) == "written"
    pointer_before = base.data_ptr()
    # The child's writes, read here with nothing sent back.
    expected = values.copy()
    expected[0, 0] = 42.0
    expected[2:4] *= -1
    expected[0, 1] = 7.0
    np.testing.assert_array_equal(base.numpy(), expected)
    # And this side's write, read there.
    base[3, 3] = 123.0
    inbox.put(None)
    assert done.get(timeout=TIMEOUT) == 123.0
    _finish(child)
    assert base.data_ptr() == pointer_before


def test_forked_child_computes_pending_values_on_its_thread_pool():
    threads = ember.get_num_threads()
    ember.set_num_threads(2)
    try:
        (ember.ones(512, 256) * 0.25).exp().sum(1).tolist()  # the pool runs here
        pending = ember.arange(0, 4, 1, dtype=ember.float32) * 3
        ctx = _context("fork")
        outbox = ctx.Queue()
        child = _start(ctx, _pending_and_pool_child, pending, outbox)
        values, big, child_threads = outbox.get(timeout=TIMEOUT)
        _finish(child)
    finally:
        ember.set_num_threads(threads)
    assert values == [0.0, 3.0, 6.0, 9.0]
    np.testing.assert_allclose(big, [256 * np.exp(0.5)] * 3, rtol=1e-5)
    assert child_threads == 2


def test_pipe_sends_parameters_and_requires_grad():
    ctx = _context("fork")
    parent_end, child_end = ctx.Pipe()
    inbox, outbox = ctx.Queue(), ctx.Queue()
    child = _start(ctx, _parameter_child, inbox, outbox)
    p = ember.nn.Parameter(ember.zeros(3))
    leaf = ember.ones(2, requires_grad=True)
    inbox.put((p, leaf))
    assert outbox.get(timeout=TIMEOUT) == ("Parameter", True, True, True, True)
    inbox.put(None)
    _finish(child)
    assert p.detach().tolist() == [1.0, 1.0, 1.0]
    # A Pipe pickles the same way (within one process here).
    parent_end.send(p)
    q = child_end.recv()
    assert isinstance(q, ember.nn.Parameter) and q.requires_grad
    with ember.no_grad():
        q.mul_(3.0)
    assert p.detach().tolist() == [3.0, 3.0, 3.0]


def test_a_storage_received_twice_is_one_storage():
    ctx = _context("fork")
    queue = ctx.Queue()
    x = ember.zeros(2, 3)
    queue.put(x)
    queue.put(x[1])
    a = queue.get(timeout=TIMEOUT)
    b = queue.get(timeout=TIMEOUT)
    b.fill_(5.0)
    assert a.tolist() == [[0.0] * 3, [5.0] * 3]
    # A strided view that is no block of its storage goes as a shared copy.
    queue.put(x[:, ::2])
    c = queue.get(timeout=TIMEOUT)
    assert c.tolist() == [[0.0, 0.0], [5.0, 5.0]] and c.is_shared()


def test_non_leaf_requiring_grad_is_refused():
    queue = _context("fork").Queue()
    y = ember.ones(2, requires_grad=True) * 2
    from multiprocessing.reduction import ForkingPickler
    with pytest.raises(RuntimeError, match="non-leaf tensor which requires_grad"):
        ForkingPickler.dumps(y)
    queue.put(y.detach())
    assert queue.get(timeout=TIMEOUT).tolist() == [2.0, 2.0]


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_spawn_runs_processes_on_a_shared_tensor(method):
    out = ember.zeros(2).share_memory_()
    mp.spawn(_quiet_child, args=(out,), nprocs=2, start_method=method)
    assert out.tolist() == [1.0, 2.0]


def test_spawn_reports_a_raising_worker():
    with pytest.raises(mp.ProcessRaisedException,
                       match=r"(?s)Process 1 terminated.*ValueError: bad batch in worker 1"):
        mp.spawn(_raising_child, nprocs=2, start_method="fork")


def test_spawn_reports_a_killed_worker():
    with pytest.raises(mp.ProcessExitedException,
                       match="process 0 terminated with signal SIGKILL") as info:
        mp.spawn(_killed_child, nprocs=1, start_method="fork")
    assert info.value.signal_name == "SIGKILL" and info.value.exit_code == -signal.SIGKILL


def test_join_false_returns_a_context():
    context = mp.spawn(_raising_child, nprocs=2, join=False, start_method="fork")
    assert len(context.pids()) == 2
    with pytest.raises(mp.ProcessRaisedException, match="bad batch in worker 1"):
        while not context.join(TIMEOUT):
            pass


def _open_descriptors():
    return len(os.listdir("/proc/self/fd"))


def test_descriptors_and_memory_are_released_after_transfers():
    queue = _context("fork").Queue()
    queue.put(ember.ones(8))
    queue.get(timeout=TIMEOUT)  # starts the resource sharer's listener
    # Pipes of earlier tests' processes may still close while this runs (a
    # clean-clone CI run saw 24 -> 21): collect them first, and count a leak
    # as growth, which 20 transfers would show.
    gc.collect()
    descriptors = _open_descriptors()
    regions = ember._ember._live_shared_regions()
    for i in range(20):
        queue.put(ember.full((1000,), float(i)))
        assert queue.get(timeout=TIMEOUT)[999].item() == float(i)
    gc.collect()
    assert _open_descriptors() <= descriptors
    assert ember._ember._live_shared_regions() == regions


def test_a_sender_that_exited_gives_a_clear_error():
    ctx = _context("fork")
    queue = ctx.Queue()
    child = _start(ctx, _short_lived_sender, queue)
    _finish(child)
    with pytest.raises(RuntimeError, match="process that sent it no longer serves"):
        queue.get(timeout=TIMEOUT)
