"""Kernels that read a transposed view in place (ember-transpose-tiles: 16x16
register-transposed tiles, scalar edge tiles) and whole-tensor reductions
computed as partials over fixed chunks on the thread pool
(ember-split-full-reductions), against NumPy and PyTorch 1.13: sizes that
tiles and chunks divide and sizes they do not, f32 and f64, and 1, 2 and 3
threads, which must give bitwise the same result."""

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


def on_each_thread_count(compute, *arrays):
    """compute(*tensors) as a NumPy array on 1, 2 and 3 threads; asserts
    every count gives the single-threaded bits."""
    results = []
    for threads in THREADS:
        ember.set_num_threads(threads)
        results.append(compute(*[ember.tensor(a) for a in arrays]).numpy().copy())
    for threads, result in zip(THREADS[1:], results[1:]):
        np.testing.assert_array_equal(result, results[0], err_msg=f"{threads} threads")
    return results[0]


def random(shape, dtype=np.float32, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


# Transposed reads -----------------------------------------------------------

@pytest.mark.parametrize("shape", [(3, 8, 128, 256), (2, 3, 17, 33), (1, 1, 16, 16), (2, 5, 40, 7)])
def test_transpose_last_two_times_scalar(shape):
    a = random(shape)
    got = on_each_thread_count(lambda x: x.transpose(2, 3) * 1.5, a)
    np.testing.assert_array_equal(got, np.swapaxes(a, 2, 3) * np.float32(1.5))


@pytest.mark.parametrize("n, m", [(256, 256), (1000, 1000), (31, 65), (16, 1), (1, 40)])
def test_t_plus_contiguous(n, m):
    a, b = random((m, n)), random((n, m), seed=1)
    got = on_each_thread_count(lambda x, y: x.t() + y, a, b)
    want = (torch.from_numpy(a).t() + torch.from_numpy(b)).numpy()
    np.testing.assert_array_equal(got, want)


def test_transposed_f64_with_row_bias_and_math():
    a, bias = random((70, 50), np.float64), random((50, 1), np.float64, seed=2)
    got = on_each_thread_count(lambda x, c: (x.t() - c).exp() * 0.5, a, bias)
    want = (torch.from_numpy(a).t() - torch.from_numpy(bias)).exp() * 0.5
    np.testing.assert_allclose(got, want.numpy(), rtol=1e-15, atol=0)


def test_both_operands_transposed_and_a_transposed_slice():
    a, b = random((48, 80)), random((48, 80), seed=1)
    got = on_each_thread_count(lambda x, y: x.t() * y.t() + x.t(), a, b)
    np.testing.assert_array_equal(got, a.T * b.T + a.T)
    c = random((4, 64, 96), seed=3)
    got = on_each_thread_count(lambda x: x[1:3].transpose(1, 2) - 2.0, c)
    np.testing.assert_array_equal(got, np.swapaxes(c[1:3], 1, 2) - np.float32(2.0))


def test_permute_contiguous_and_the_backward_of_a_transpose():
    a = random((3, 8, 128, 32))
    got = on_each_thread_count(lambda x: x.permute(0, 2, 1, 3).contiguous(), a)
    np.testing.assert_array_equal(got, a.transpose(0, 2, 1, 3))
    got = on_each_thread_count(lambda x: x.permute(0, 3, 1, 2) * 2.0, a)
    np.testing.assert_array_equal(got, a.transpose(0, 3, 1, 2) * np.float32(2.0))

    w = random((33, 17), seed=4)
    x = ember.tensor(w, requires_grad=True)
    (x.t() * ember.tensor(random((17, 33), seed=5))).sum().backward()
    tx = torch.tensor(w, requires_grad=True)
    (tx.t() * torch.from_numpy(random((17, 33), seed=5))).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-6)


def test_integer_transposed_read():
    a = np.arange(40 * 24, dtype=np.int32).reshape(40, 24)
    got = on_each_thread_count(lambda x: x.t() * 3 + 1, a)
    np.testing.assert_array_equal(got, a.T * 3 + 1)


# Full reductions --------------------------------------------------------------

# Sizes around the chunk (16384 elements): under two chunks (one loop),
# whole chunks, whole chunks plus a tail, and 16M.
SIZES = [(100, 100), (128, 256), (3, 16384), (1000, 1001), (4096, 4096)]


@pytest.mark.parametrize("shape", SIZES)
@pytest.mark.parametrize("name", ["sum", "mean", "max", "min", "sum_of_squares"])
def test_full_reduction(shape, name):
    a = random(shape, seed=7) + np.float32(0.5)
    compute = {
        "sum": lambda x: x.sum(),
        "mean": lambda x: x.mean(),
        "max": lambda x: x.max(),
        "min": lambda x: x.min(),
        "sum_of_squares": lambda x: (x * x).sum(),
    }[name]
    got = on_each_thread_count(compute, a)
    wide = a.astype(np.float64)
    want = {
        "sum": wide.sum(),
        "mean": wide.mean(),
        "max": wide.max(),
        "min": wide.min(),
        "sum_of_squares": (wide * wide).sum(),
    }[name]
    # f32 accumulation over n elements in partials: error ~ sqrt(n) ulps of
    # the sum of magnitudes.
    scale = np.abs(wide).sum() if name in ("sum", "mean") else (wide * wide).sum()
    if name == "mean":
        scale /= wide.size
    tolerance = 1e-6 * scale if name not in ("max", "min") else 0
    assert abs(float(got) - want) <= tolerance, (float(got), want)


def test_full_reduction_f64_int_and_a_view():
    a = random((300, 700), np.float64, seed=8)
    got = on_each_thread_count(lambda x: x.sum(), a)
    np.testing.assert_allclose(got, a.sum(), rtol=1e-12)
    i = np.arange(200 * 300, dtype=np.int64).reshape(200, 300) % 1000
    got = on_each_thread_count(lambda x: x.sum(), i)
    assert int(got) == int(i.sum())
    b = random((400, 300), seed=9)
    got = on_each_thread_count(lambda x: x[:, 1:250].sum(), b)
    np.testing.assert_allclose(got, b[:, 1:250].astype(np.float64).sum(), rtol=1e-5, atol=1e-3)


def test_full_reduction_nan_and_inf():
    a = random((200, 200), seed=10)
    a[150, 3] = np.nan
    ember.set_num_threads(2)
    assert np.isnan(ember.tensor(a).max().item())
    assert np.isnan(ember.tensor(a).sum().item())
    a[150, 3] = np.inf
    assert ember.tensor(a).max().item() == np.inf
    assert ember.tensor(a).sum().item() == np.inf


def test_full_reduction_gradient():
    a = random((300, 301), seed=11)
    x = ember.tensor(a, requires_grad=True)
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * a, rtol=1e-6)
