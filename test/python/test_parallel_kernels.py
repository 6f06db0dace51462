"""Generated CPU kernels split their outer parallel loop across the runtime's
thread pool (ember.set_num_threads): every result must equal the
single-threaded one exactly and match NumPy/PyTorch, on 1, 2 and 3 threads
(more threads than this machine's cores), for sizes above and below the
grain, sizes the thread count does not divide, broadcasting, reductions over
the last and the first dim, softmax and a training step."""

import os

import numpy as np
import pytest
import torch

import ember

THREADS = [1, 2, 3]


@pytest.fixture(autouse=True)
def restore_threads():
    before = ember.get_num_threads()
    yield
    ember.set_num_threads(before)


def pool_threads():
    """The runtime pool's worker threads alive in this process."""
    count = 0
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/comm") as comm:
                count += comm.read().strip() == "ember-pool"
        except OSError:
            pass  # the thread ended while we looked
    return count


def on_each_thread_count(compute, *arrays):
    """compute(*tensors) as NumPy arrays, once per thread count; asserts
    that every count gives the single-threaded bits."""
    results = []
    for threads in THREADS:
        ember.set_num_threads(threads)
        out = compute(*[ember.tensor(a) for a in arrays])
        outs = out if isinstance(out, tuple) else (out,)
        results.append([o.numpy().copy() for o in outs])
    for threads, result in zip(THREADS[1:], results[1:]):
        for got, want in zip(result, results[0]):
            np.testing.assert_array_equal(got, want, err_msg=f"{threads} threads")
    return results[0] if len(results[0]) > 1 else results[0][0]


def chain(x):
    return ((x * 1.5 + 0.25).exp() - x).abs().sqrt()


def chain_numpy(a):
    return np.sqrt(np.abs(np.exp(a * 1.5 + 0.25) - a))


# Above the grain (split over the threads) and below it (one thread), with
# extents that 2 and 3 do not divide, a batch of 2-3 in front (split over
# the next dim, or the first two flattened).
SHAPES = [(1 << 20) + 3, (1000, 1001), (3, 77, 1025), (2, 300007), (2, 5, 7),
          (100,), (257, 129)]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_elementwise_chain_matches_numpy(rng, shape):
    a = rng.uniform(-1, 1, size=shape).astype(np.float32)
    got = on_each_thread_count(chain, a)
    np.testing.assert_allclose(got, chain_numpy(a), rtol=1e-5, atol=1e-6)


def test_a_large_kernel_runs_on_the_pool(rng):
    a = rng.uniform(-1, 1, size=(4096, 1024)).astype(np.float32)
    ember.set_num_threads(3)
    got = chain(ember.tensor(a)).numpy()
    np.testing.assert_allclose(got, chain_numpy(a), rtol=1e-5, atol=1e-6)
    assert pool_threads() == 2
    ember.set_num_threads(2)
    chain(ember.tensor(a) + 1).numpy()
    assert pool_threads() == 1


@pytest.mark.parametrize("shapes", [((2048, 513), (513,)), ((2048, 1), (1, 513)),
                                    ((3, 1, 4099), (3, 700, 1))], ids=str)
def test_broadcasting(rng, shapes):
    a = rng.standard_normal(shapes[0]).astype(np.float32)
    b = rng.standard_normal(shapes[1]).astype(np.float32)
    got = on_each_thread_count(lambda x, y: (x * y + x).tanh(), a, b)
    np.testing.assert_allclose(got, np.tanh(a * b + a), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shape", [(4099, 257), (257, 4099), (3, 2000, 61), (31, 17)],
                         ids=str)
@pytest.mark.parametrize("dim", [-1, 0])
@pytest.mark.parametrize("op", ["sum", "mean", "amax"])
def test_reductions(rng, shape, dim, op):
    a = rng.standard_normal(shape).astype(np.float32)
    got = on_each_thread_count(lambda x: getattr(x, op)(dim), a)
    want = getattr(torch.from_numpy(a), op)(dim).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("shape", [(2049, 1000), (3, 333, 129), (7, 33)], ids=str)
def test_softmax_and_log_softmax(rng, shape):
    a = rng.standard_normal(shape).astype(np.float32) * 3
    got = on_each_thread_count(lambda x: (x.softmax(-1), x.log_softmax(-1)), a)
    t = torch.from_numpy(a)
    np.testing.assert_allclose(got[0], t.softmax(-1).numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[1], t.log_softmax(-1).numpy(), rtol=1e-5, atol=1e-5)


def mlp_step(lib, x, y, w1, b1, w2):
    """Forward, loss and gradients of a two-layer MLP."""
    params = [lib.tensor(p, requires_grad=True) for p in (w1, b1, w2)]
    h = (lib.tensor(x) @ params[0] + params[1]).relu()
    loss = ((h @ params[2] - lib.tensor(y)) ** 2).mean()
    loss.backward()
    return [loss.detach().numpy()] + [p.grad.numpy() for p in params]


def test_a_training_step(rng):
    x = rng.standard_normal((512, 256)).astype(np.float32)
    y = rng.standard_normal((512, 10)).astype(np.float32)
    w1 = (rng.standard_normal((256, 300)) * 0.1).astype(np.float32)
    b1 = rng.standard_normal(300).astype(np.float32)
    w2 = (rng.standard_normal((300, 10)) * 0.1).astype(np.float32)
    results = []
    for threads in THREADS:
        ember.set_num_threads(threads)
        results.append(mlp_step(ember, x, y, w1, b1, w2))
    want = mlp_step(torch, x, y, w1, b1, w2)
    for threads, result in zip(THREADS, results):
        for got, ref in zip(result, want):
            # The GEMMs (OpenBLAS) may sum in a thread-dependent order.
            np.testing.assert_allclose(got, ref, rtol=2e-4, atol=2e-5,
                                       err_msg=f"{threads} threads")
