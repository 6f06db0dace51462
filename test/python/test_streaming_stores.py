"""Element-wise kernels whose output is at least 32 MiB write it with
non-temporal vector stores (ember-streaming-stores): per row a scalar head
up to the first aligned address, aligned 16-lane (8 for f64) bodies, a
scalar tail, and an sfence before the chunk is reported done. Results must
match NumPy above and below the threshold, for rows whose length and start
are not multiples of the vector, views read in place, two outputs of one
kernel, f64, and 1, 2 and 3 threads (chunks of one call on several threads
read back by another)."""

import numpy as np
import pytest

import ember

MIB = 1 << 20


@pytest.fixture(autouse=True)
def restore_threads():
    before = ember.get_num_threads()
    yield
    ember.set_num_threads(before)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("elements", [32 * MIB // 4 + 13, 32 * MIB // 4 - 16, 1000])
def test_chain_1d_f32(threads, elements):
    ember.set_num_threads(threads)
    rng = np.random.default_rng(elements + threads)
    a, b, c, d = (rng.standard_normal(elements, dtype=np.float32) for _ in range(4))
    ta, tb, tc, td = (ember.tensor(v) for v in (a, b, c, d))
    got = ((ta * tb + tc).sigmoid() * td - ta).numpy()
    want = sigmoid(a * b + c) * d - a
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_rows_not_a_multiple_of_the_vector():
    # 3 x 1499 x 1873 f32 (33.6 MB): every row starts at a different
    # alignment, so heads and tails of every length run.
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 1499, 1873), dtype=np.float32)
    y = rng.standard_normal((1873,), dtype=np.float32)
    got = (ember.tensor(x) * 1.5 + ember.tensor(y)).numpy()
    np.testing.assert_allclose(got, x * 1.5 + y, rtol=1e-6, atol=1e-6)


def test_view_input_and_scalar_per_row():
    # A sliced input (offset, strided rows) and a per-row broadcast column.
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2100, 4100), dtype=np.float32)
    col = rng.standard_normal((2099, 1), dtype=np.float32)
    got = (ember.tensor(x)[1:, 3:] - ember.tensor(col)).exp().numpy()
    want = np.exp(x[1:, 3:] - col)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_f64():
    rng = np.random.default_rng(3)
    x = rng.standard_normal(32 * MIB // 8 + 5)
    got = (ember.tensor(x) * ember.tensor(x) - 0.5).numpy()
    np.testing.assert_allclose(got, x * x - 0.5, rtol=1e-12)


def test_two_outputs_of_one_kernel():
    rng = np.random.default_rng(4)
    x = rng.standard_normal(32 * MIB // 4 + 7, dtype=np.float32)
    tx = ember.tensor(x)
    y = tx * 2.0 + 1.0
    z = y.relu() * 3.0
    ember.sync()
    np.testing.assert_allclose(y.numpy(), x * 2.0 + 1.0, rtol=1e-6)
    np.testing.assert_allclose(z.numpy(), np.maximum(x * 2.0 + 1.0, 0) * 3.0, rtol=1e-6)


def test_comparison_output_stays_exact():
    # An i1/i8 output is not streamed; an f32 one computed from a mask is.
    rng = np.random.default_rng(5)
    x = rng.standard_normal(32 * MIB // 4 + 3, dtype=np.float32)
    tx = ember.tensor(x)
    got = ((tx > 0.25) * tx).numpy()
    np.testing.assert_array_equal(got, (x > 0.25) * x)
