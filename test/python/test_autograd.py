"""Autograd against PyTorch 1.13 and against finite differences.

Every differentiable op's gradient is checked twice on fresh random inputs:
in float32 against torch's autograd, and in float64 against central finite
differences of ember's own forward. Then the semantics (leaves, .grad
accumulation, retain_graph, no_grad, detach, autograd.grad, second order),
the errors torch raises, and that a whole training step compiles once.
"""

import numpy as np
import pytest
import torch

import ember
from ember_testing import assert_close, assert_raised_here

# float32 against torch: a few roundings apart on values of order one.
F32_RTOL = 1e-4
# float64 against central differences with step EPS.
EPS = 1e-6
FD_RTOL = 1e-5
FD_ATOL = 1e-5

POSITIVE = (0.5, 2.5)


def spec(shape, low=-2.0, high=2.0):
    return (tuple(shape), low, high)


def pos(shape):
    return spec(shape, *POSITIVE)


def away_from_zero(array):
    """Pushes values within 0.25 of zero out to +-0.25 (for divisors)."""
    return np.where(np.abs(array) < 0.25, np.copysign(0.25, array), array)


def draw(rng, specs):
    arrays = []
    for item in specs:
        is_spec = len(item) == 3 and isinstance(item[0], tuple)
        shape, low, high = item if is_spec else spec(item)
        arrays.append(rng.uniform(low, high, size=shape))
    return arrays


def f(m):
    """nn.functional of the module `m` (ember or torch)."""
    return m.nn.functional


# Each case: (id, fn(m, *inputs) with m = ember or torch, input specs).
# An input spec is a shape or (shape, low, high).
UNARY = [
    ("neg", lambda m, x: -x, [(3, 4)]),
    ("neg_fn", lambda m, x: m.neg(x), [(5,)]),
    ("abs", lambda m, x: x.abs(), [(3, 4)]),
    ("abs_fn", lambda m, x: m.abs(x), [(2, 3, 2)]),
    ("relu", lambda m, x: x.relu(), [(3, 4)]),
    ("relu_fn", lambda m, x: m.relu(x), [(6,)]),
    ("exp", lambda m, x: x.exp(), [(3, 4)]),
    ("log", lambda m, x: x.log(), [pos((3, 4))]),
    ("sqrt", lambda m, x: x.sqrt(), [pos((3, 4))]),
    ("rsqrt", lambda m, x: m.rsqrt(x), [pos((3, 4))]),
    ("tanh", lambda m, x: x.tanh(), [(3, 4)]),
    ("sigmoid", lambda m, x: m.sigmoid(x), [(3, 4)]),
    ("gelu", lambda m, x: f(m).gelu(x), [(3, 4)]),
    ("gelu_tanh", lambda m, x: f(m).gelu(x, approximate="tanh"), [(3, 4)]),
    # Unary ops on non-contiguous views of the input.
    ("exp_of_transpose", lambda m, x: x.T.exp(), [(3, 4)]),
    ("tanh_of_strided_slice", lambda m, x: x[::2, 1::2].tanh(), [(5, 6)]),
    ("sigmoid_of_permute", lambda m, x: x.permute(2, 0, 1).sigmoid() * 2.0, [(2, 3, 4)]),
    ("log_of_expanded", lambda m, x: x.expand(3, 4).log(), [pos((1, 4))]),
]

BINARY = [
    ("add", lambda m, x, y: x + y, [(3, 4), (3, 4)]),
    ("add_broadcast", lambda m, x, y: x + y, [(2, 3, 1), (4,)]),
    ("add_fn", lambda m, x, y: m.add(x, y), [(3, 4), (1, 4)]),
    ("sub", lambda m, x, y: x - y, [(3, 4), (3, 4)]),
    ("sub_broadcast", lambda m, x, y: x - y, [(3, 1), (1, 4)]),
    ("sub_fn", lambda m, x, y: m.sub(x, y), [(4,), (3, 4)]),
    ("mul", lambda m, x, y: x * y, [(3, 4), (3, 4)]),
    ("mul_broadcast", lambda m, x, y: x * y, [(2, 1, 4), (3, 1)]),
    ("mul_fn", lambda m, x, y: m.mul(x, y), [(2, 3), ()]),
    ("div", lambda m, x, y: x / y, [(3, 4), pos((3, 4))]),
    ("div_broadcast", lambda m, x, y: x / y, [(3, 4), pos((3, 1))]),
    ("div_fn", lambda m, x, y: m.div(x, y), [(2, 1, 3), pos((4, 3))]),
    ("pow", lambda m, x, y: x ** y, [pos((3, 4)), (3, 4)]),
    ("pow_broadcast", lambda m, x, y: m.pow(x, y), [pos((3, 1)), spec((4,), -1.5, 1.5)]),
    ("maximum", lambda m, x, y: m.maximum(x, y), [(3, 4), (3, 4)]),
    ("maximum_broadcast", lambda m, x, y: m.maximum(x, y), [(2, 3, 4), (3, 1)]),
    ("minimum", lambda m, x, y: m.minimum(x, y), [(3, 4), (3, 4)]),
    ("minimum_broadcast", lambda m, x, y: x.minimum(y), [(4,), (3, 1)]),
    # Binary ops on views.
    ("mul_of_views", lambda m, x, y: x.T[::2] * y[:, 1:], [(4, 3), (2, 5)]),
    ("add_of_expand", lambda m, x, y: x.expand(2, 3, 4) + y.unsqueeze(1), [(3, 1), (2, 4)]),
    ("same_tensor_twice", lambda m, x: x * x + x / 3.0, [(3, 4)]),
]

SCALARS = [
    ("add_scalar", lambda m, x: x + 2.5, [(3, 4)]),
    ("radd", lambda m, x: 2.5 + x, [(3, 4)]),
    ("sub_scalar", lambda m, x: x - 1.5, [(3, 4)]),
    ("rsub", lambda m, x: 1.5 - x, [(3, 4)]),
    ("mul_scalar", lambda m, x: x * -1.75, [(3, 4)]),
    ("rmul_int", lambda m, x: 3 * x, [(3, 4)]),
    ("div_scalar", lambda m, x: x / 4.0, [(3, 4)]),
    ("rdiv", lambda m, x: 2.5 / x, [pos((3, 4))]),
    ("rdiv_negative", lambda m, x: 2.5 / (-x), [pos((3, 4))]),
    ("pow_scalar", lambda m, x: x ** 2.5, [pos((3, 4))]),
    ("pow_int", lambda m, x: x ** 3, [(3, 4)]),
    ("pow_two", lambda m, x: x ** 2, [(3, 4)]),
    ("pow_negative", lambda m, x: x ** -1.5, [pos((3, 4))]),
    ("pow_half", lambda m, x: m.pow(x, 0.5), [pos((3, 4))]),
    ("rpow", lambda m, x: 2.5 ** x, [(3, 4)]),
    ("maximum_with_zero_tensor", lambda m, x: m.maximum(x, m.zeros(4, dtype=x.dtype)), [(3, 4)]),
]

SELECT = [
    ("where", lambda m, x, y: m.where(x > 0.2, x * y, y.exp()), [(3, 4), (4,)]),
    ("where_method", lambda m, x, y: x.where(y > 0, y), [(3, 4), (3, 1)]),
    ("where_scalar", lambda m, x: m.where(x > 0, x, 0.0), [(3, 4)]),
    ("clamp", lambda m, x: x.clamp(-1.0, 0.5), [(3, 4)]),
    ("clamp_min", lambda m, x: x.clamp(min=-0.5), [(3, 4)]),
    ("clamp_max", lambda m, x: m.clamp(x, max=0.7), [(3, 4)]),
    ("clip", lambda m, x: x.clip(-1, 1), [(3, 4)]),
    ("clamp_tensor_bounds", lambda m, x, lo: x.clamp(min=lo), [(3, 4), (4,)]),
]

REDUCTIONS = [
    ("sum_all", lambda m, x: x.sum(), [(3, 4)]),
    ("sum_dim", lambda m, x: x.sum(1), [(3, 4)]),
    ("sum_keepdim", lambda m, x: x.sum(-1, keepdim=True), [(2, 3, 4)]),
    ("sum_dims", lambda m, x: x.sum((0, 2)), [(2, 3, 4)]),
    ("sum_fn", lambda m, x: m.sum(x, 0), [(3, 4)]),
    ("mean_all", lambda m, x: x.mean(), [(3, 4)]),
    ("mean_dim", lambda m, x: x.mean(0), [(3, 4)]),
    ("mean_keepdim", lambda m, x: x.mean(dim=1, keepdim=True), [(2, 3, 4)]),
    ("mean_dims", lambda m, x: m.mean(x, (0, -1)), [(2, 3, 4)]),
    ("max_all", lambda m, x: x.max(), [(3, 4)]),
    ("max_dim", lambda m, x: x.max(1).values, [(3, 4)]),
    ("max_keepdim", lambda m, x: x.max(dim=0, keepdim=True)[0], [(3, 4)]),
    ("max_fn", lambda m, x: m.max(x, -1).values, [(2, 3, 4)]),
    ("min_all", lambda m, x: x.min(), [(3, 4)]),
    ("min_dim", lambda m, x: x.min(0).values, [(3, 4)]),
    ("min_keepdim", lambda m, x: x.min(-1, keepdim=True).values, [(2, 3, 4)]),
    ("amax", lambda m, x: x.amax(1), [(3, 4)]),
    ("amax_dims", lambda m, x: x.amax((0, 2)), [(2, 3, 4)]),
    ("amax_keepdim", lambda m, x: m.amax(x, -1, keepdim=True), [(3, 4)]),
    ("amin", lambda m, x: x.amin(0), [(3, 4)]),
    ("sum_of_transpose", lambda m, x: x.T.sum(1), [(3, 4)]),
    ("max_of_strided", lambda m, x: x[:, ::2].max(1).values, [(3, 6)]),
    ("mean_of_broadcast", lambda m, x, y: (x * y).mean(0), [(3, 1), (4,)]),
]

MATMUL = [
    ("matmul_2d", lambda m, x, y: x @ y, [(3, 4), (4, 5)]),
    ("matmul_mat_vec", lambda m, x, y: x @ y, [(3, 4), (4,)]),
    ("matmul_vec_mat", lambda m, x, y: x @ y, [(4,), (4, 5)]),
    ("matmul_dot", lambda m, x, y: m.matmul(x, y), [(4,), (4,)]),
    ("matmul_batch", lambda m, x, y: x @ y, [(2, 3, 4), (2, 4, 5)]),
    ("matmul_batch_broadcast", lambda m, x, y: x @ y, [(2, 1, 3, 4), (5, 4, 2)]),
    ("matmul_batch_with_matrix", lambda m, x, y: x.matmul(y), [(2, 3, 4), (4, 5)]),
    ("matmul_batch_vec", lambda m, x, y: x @ y, [(2, 3, 4), (4,)]),
    ("matmul_vec_batch", lambda m, x, y: x @ y, [(4,), (2, 4, 3)]),
    ("mm", lambda m, x, y: m.mm(x, y), [(3, 4), (4, 2)]),
    ("mm_method", lambda m, x, y: x.mm(y), [(2, 5), (5, 3)]),
    ("bmm", lambda m, x, y: m.bmm(x, y), [(2, 3, 4), (2, 4, 5)]),
    ("matmul_of_transposes", lambda m, x, y: x.T @ y.transpose(0, 1), [(4, 3), (5, 4)]),
    ("matmul_of_slices", lambda m, x, y: x[:, ::2] @ y[1:], [(3, 8), (5, 2)]),
    ("matmul_same_operand", lambda m, x: x @ x.T, [(3, 4)]),
]

SHAPES = [
    ("reshape", lambda m, x: x.reshape(4, 3) * 1.5, [(2, 6)]),
    ("reshape_inferred", lambda m, x: m.reshape(x, (-1,)), [(2, 3, 2)]),
    ("view", lambda m, x: x.view(3, 2, 2), [(3, 4)]),
    ("view_as", lambda m, x, y: x.view_as(y) * y, [(2, 6), (3, 4)]),
    ("flatten", lambda m, x: x.flatten(), [(2, 3, 2)]),
    ("flatten_from", lambda m, x: m.flatten(x, 1), [(2, 3, 2)]),
    ("transpose", lambda m, x: x.transpose(0, 2), [(2, 3, 4)]),
    ("transpose_fn", lambda m, x: m.transpose(x, -1, 0), [(3, 4)]),
    ("permute", lambda m, x: x.permute(2, 0, 1), [(2, 3, 4)]),
    ("permute_fn", lambda m, x: m.permute(x, (1, 2, 0)), [(2, 3, 4)]),
    ("T", lambda m, x: x.T, [(3, 4)]),
    ("t", lambda m, x: m.t(x), [(3, 4)]),
    ("unsqueeze", lambda m, x: x.unsqueeze(1), [(3, 4)]),
    ("unsqueeze_last", lambda m, x: m.unsqueeze(x, -1), [(3, 4)]),
    ("squeeze_all", lambda m, x: x.squeeze(), [(3, 1, 4, 1)]),
    ("squeeze_dim", lambda m, x: m.squeeze(x, 1), [(3, 1, 4)]),
    ("expand", lambda m, x: x.expand(2, 3, 4), [(3, 1)]),
    ("expand_inferred", lambda m, x: x.expand(-1, 5), [(3, 1)]),
    ("expand_as", lambda m, x, y: x.expand_as(y) * y, [(1, 4), (3, 4)]),
    ("reshape_of_transpose", lambda m, x: x.T.reshape(-1), [(3, 4)]),
    ("view_of_view", lambda m, x: x.view(6, 2)[1:5].view(2, 4).exp(), [(3, 4)]),
]

INT = None  # marks an index tensor built inside fn (int64 in both libraries)

INDEXING = [
    ("int", lambda m, x: x[1], [(3, 4)]),
    ("two_ints", lambda m, x: x[-1, 2], [(3, 4)]),
    ("slice", lambda m, x: x[1:3], [(4, 3)]),
    ("slice_step", lambda m, x: x[:, ::2], [(3, 5)]),
    ("slice_start_step", lambda m, x: x[1::2, 1:4:2], [(5, 6)]),
    ("none", lambda m, x: x[None, :, 1], [(3, 4)]),
    ("none_and_step", lambda m, x: x[::2, None, 1:], [(5, 3)]),
    ("ellipsis", lambda m, x: x[..., 1], [(2, 3, 4)]),
    ("bool_mask_of_values", lambda m, x: x[x > 0], [(3, 4)]),
    ("bool_mask_const", lambda m, x: x[m.tensor([True, False, True])], [(3, 4)]),
    ("masked_select", lambda m, x: x.masked_select(x < 0.5), [(3, 4)]),
    ("index_tensor", lambda m, x: x[m.tensor([2, 0, 1])], [(3, 4)]),
    ("index_tensor_repeated", lambda m, x: x[m.tensor([2, 0, 2, 2, 1])], [(3, 4)]),
    ("index_tensor_2d", lambda m, x: x[m.tensor([[0, 1], [1, 1]])], [(3, 4)]),
    ("index_tensor_second_dim", lambda m, x: x[:, m.tensor([3, 0, 3])], [(3, 4)]),
    ("index_tensor_and_slice", lambda m, x: x[m.tensor([1, 1]), 1:], [(3, 4)]),
    ("index_select", lambda m, x: m.index_select(x, 1, m.tensor([0, 2, 0])), [(3, 4)]),
    ("index_of_transpose", lambda m, x: x.T[m.tensor([0, 0, 2])], [(3, 4)]),
    ("assorted_chain", lambda m, x: x[1:, None, ::2][m.tensor([1, 0, 1])].exp(), [(4, 5)]),
]

JOIN = [
    ("cat", lambda m, x, y: m.cat([x, y]), [(2, 4), (3, 4)]),
    ("cat_dim1", lambda m, x, y: m.cat([x, y], 1), [(3, 2), (3, 4)]),
    ("cat_same_tensor", lambda m, x, y: m.cat([x, y, x], -1), [(3, 2), (3, 1)]),
    ("cat_of_views", lambda m, x, y: m.cat([x.T, y[::2]]), [(4, 3), (5, 4)]),
    ("stack", lambda m, x, y: m.stack([x, y]), [(3, 4), (3, 4)]),
    ("stack_last", lambda m, x, y: m.stack([x, y, x * y], dim=-1), [(3, 4), (3, 4)]),
]

SOFTMAX = [
    ("softmax", lambda m, x: x.softmax(-1), [(3, 5)]),
    ("softmax_dim0", lambda m, x: m.softmax(x, 0), [(3, 5)]),
    ("softmax_3d", lambda m, x: x.softmax(1), [(2, 3, 4)]),
    ("softmax_of_transpose", lambda m, x: x.T.softmax(-1), [(3, 5)]),
    ("log_softmax", lambda m, x: x.log_softmax(-1), [(3, 5)]),
    ("log_softmax_dim0", lambda m, x: m.log_softmax(x, 0), [(3, 5)]),
    ("log_softmax_fn", lambda m, x: f(m).log_softmax(x, dim=1), [(2, 3, 4)]),
    ("softmax_fn", lambda m, x: f(m).softmax(x, dim=-1), [(2, 3, 4)]),
]

TARGETS = [0, 2, 1, 1, 0]


def mlp_loss(m, x, w1, b1, w2, b2):
    hidden = (x @ w1 + b1).relu()
    return f(m).cross_entropy(hidden @ w2 + b2, m.tensor(TARGETS))


COMPOSITES = [
    ("layer_norm", lambda m, x, w, b: f(m).layer_norm(x, (6,), w, b), [(4, 6), (6,), (6,)]),
    ("layer_norm_no_affine", lambda m, x: f(m).layer_norm(x, (3, 4)), [(2, 3, 4)]),
    ("linear", lambda m, x, w, b: f(m).linear(x, w, b), [(5, 4), (3, 4), (3,)]),
    ("mse_loss", lambda m, x, y: f(m).mse_loss(x, y), [(4, 3), (4, 3)]),
    ("cross_entropy", lambda m, x: f(m).cross_entropy(x, m.tensor(TARGETS)), [(5, 3)]),
    ("cross_entropy_sum", lambda m, x: f(m).cross_entropy(x, m.tensor(TARGETS), reduction="sum"),
     [(5, 4)]),
    ("mlp_cross_entropy", mlp_loss, [(5, 4), (4, 6), (6,), (6, 3), (3,)]),
    ("gelu_mlp", lambda m, x, w: f(m).gelu(x @ w).sum(-1).tanh(), [(3, 4), (4, 5)]),
    ("softmax_attention",
     lambda m, q, k, v: ((q @ k.transpose(-2, -1)) * 0.5).softmax(-1) @ v,
     [(2, 3, 4), (2, 5, 4), (2, 5, 2)]),
    ("normalize_by_norm", lambda m, x: x / (x * x).sum(-1, keepdim=True).sqrt(), [(3, 4)]),
]

CASES = (UNARY + BINARY + SCALARS + SELECT + REDUCTIONS + MATMUL + SHAPES + INDEXING
         + JOIN + SOFTMAX + COMPOSITES)
CASE_IDS = [case[0] for case in CASES]
assert len(set(CASE_IDS)) == len(CASE_IDS), "duplicate case ids"


def ember_leaves(arrays, dtype):
    # from_numpy shares the array's memory (as in torch): copy, so that an
    # in-place update of one library's leaf leaves the other's alone.
    return [ember.from_numpy(np.array(a, dtype=dtype)).requires_grad_() for a in arrays]


def torch_leaves(arrays, dtype):
    return [torch.from_numpy(np.array(a, dtype=dtype)).requires_grad_() for a in arrays]


def grad_atol(expected):
    """Absolute tolerance scaled to the gradient's magnitude."""
    return F32_RTOL * max(1.0, float(np.abs(np.asarray(expected)).max(initial=0.0)))


@pytest.mark.parametrize("name,fn,specs", CASES, ids=CASE_IDS)
def test_gradient_matches_torch(rng, name, fn, specs):
    arrays = draw(rng, specs)
    xs = ember_leaves(arrays, np.float32)
    ts = torch_leaves(arrays, np.float32)
    out = fn(ember, *xs)
    expected = fn(torch, *ts)
    assert out.requires_grad and not out.is_leaf
    assert out.grad_fn is not None
    assert_close(out, expected.detach(), rtol=F32_RTOL, atol=grad_atol(expected.detach()))
    cotangent = rng.standard_normal(tuple(expected.shape)).astype(np.float32)
    out.backward(ember.from_numpy(cotangent.copy()))
    expected.backward(torch.from_numpy(cotangent.copy()))
    for i, (x, t) in enumerate(zip(xs, ts)):
        assert x.grad is not None, f"input {i} got no gradient"
        want = t.grad.numpy()
        assert_close(x.grad, t.grad, rtol=F32_RTOL, atol=grad_atol(want))


def finite_differences(fn, arrays, cotangent, index):
    """d(sum(fn(arrays) * cotangent)) / d(arrays[index]), by central differences
    of ember's own float64 forward."""

    def objective(values):
        with ember.no_grad():
            out = fn(ember, *[ember.from_numpy(v.copy()) for v in values])
        return float((out.numpy().astype(np.float64) * cotangent).sum())

    values = [a.copy() for a in arrays]
    result = np.zeros_like(arrays[index])
    for position in np.ndindex(arrays[index].shape):
        original = values[index][position]
        values[index][position] = original + EPS
        plus = objective(values)
        values[index][position] = original - EPS
        minus = objective(values)
        values[index][position] = original
        result[position] = (plus - minus) / (2 * EPS)
    return result


@pytest.mark.parametrize("name,fn,specs", CASES, ids=CASE_IDS)
def test_gradient_matches_finite_differences(rng, name, fn, specs):
    arrays = [a.astype(np.float64) for a in draw(rng, specs)]
    xs = ember_leaves(arrays, np.float64)
    out = fn(ember, *xs)
    assert out.dtype == ember.float64
    cotangent = rng.standard_normal(tuple(out.shape))
    out.backward(ember.from_numpy(np.array(cotangent, dtype=np.float64)))
    for i, x in enumerate(xs):
        assert x.grad is not None, f"input {i} got no gradient"
        assert x.grad.dtype == ember.float64
        numeric = finite_differences(fn, arrays, cotangent, i)
        np.testing.assert_allclose(x.grad.numpy(), numeric, rtol=FD_RTOL, atol=FD_ATOL,
                                   err_msg=f"input {i}")


# to(dtype): the gradient comes back in the leaf's dtype.

@pytest.mark.parametrize("convert", [
    pytest.param(lambda m, x: (x.to(m.float32).exp() * 2.0).to(m.float64), id="f64_to_f32_and_back"),
    pytest.param(lambda m, x: x.float().tanh(), id="float"),
    pytest.param(lambda m, x: x.to(m.float32) * x.to(m.float32), id="f64_to_f32_twice"),
])
def test_gradient_through_float64_to_float32(rng, convert):
    array = rng.uniform(-2, 2, size=(3, 4))
    (x,) = ember_leaves([array], np.float64)
    (t,) = torch_leaves([array], np.float64)
    out, expected = convert(ember, x), convert(torch, t)
    assert_close(out, expected.detach(), rtol=F32_RTOL, atol=F32_RTOL)
    cotangent = rng.standard_normal(tuple(expected.shape))
    out.backward(ember.from_numpy(cotangent.astype(np.float32 if expected.dtype == torch.float32
                                                  else np.float64)))
    expected.backward(torch.from_numpy(cotangent).to(expected.dtype))
    assert x.grad.dtype == ember.float64
    assert_close(x.grad, t.grad, rtol=F32_RTOL, atol=F32_RTOL)


@pytest.mark.parametrize("convert", [
    pytest.param(lambda m, x: x.to(m.float64).exp(), id="to_float64"),
    pytest.param(lambda m, x: x.double() * x.double(), id="double"),
])
def test_gradient_through_float32_to_float64(rng, convert):
    array = rng.uniform(-2, 2, size=(3, 4)).astype(np.float32)
    (x,) = ember_leaves([array], np.float32)
    (t,) = torch_leaves([array], np.float32)
    out, expected = convert(ember, x), convert(torch, t)
    assert out.dtype == ember.float64
    cotangent = rng.standard_normal(tuple(expected.shape))
    out.backward(ember.from_numpy(cotangent.copy()))
    expected.backward(torch.from_numpy(cotangent.copy()))
    assert x.grad.dtype == ember.float32
    assert_close(x.grad, t.grad, rtol=F32_RTOL, atol=F32_RTOL)


def test_gradient_through_a_cast_matches_finite_differences(rng):
    # A linear function of a float32 round trip: a step of 1e-2 makes the
    # rounding error (~1e-7 relative) small against the difference.
    def fn(m, x):
        return (x.to(m.float32) * 3.0 - 1.0).to(m.float64) * x

    array = rng.uniform(-2, 2, size=(2, 3))
    (x,) = ember_leaves([array], np.float64)
    fn(ember, x).sum().backward()
    step = 1e-2
    numeric = np.zeros_like(array)
    for position in np.ndindex(array.shape):
        plus, minus = array.copy(), array.copy()
        plus[position] += step
        minus[position] -= step
        with ember.no_grad():
            high = fn(ember, ember.from_numpy(plus)).sum().item()
            low = fn(ember, ember.from_numpy(minus)).sum().item()
        numeric[position] = (high - low) / (2 * step)
    np.testing.assert_allclose(x.grad.numpy(), numeric, rtol=1e-4, atol=1e-4)


# Semantics, each against torch doing the same.

def both(rng, *shapes, low=-2.0, high=2.0):
    """Leaves with the same random values: ([ember...], [torch...])."""
    arrays = [rng.uniform(low, high, size=shape).astype(np.float32) for shape in shapes]
    return ember_leaves(arrays, np.float32), torch_leaves(arrays, np.float32)


def close(actual, expected):
    assert_close(actual, expected.detach(), rtol=F32_RTOL, atol=F32_RTOL)


def test_leaves_and_grad_fn(rng):
    (x,), (t,) = both(rng, (3,))
    plain = ember.ones(3)
    y = x * 2.0
    assert x.is_leaf and x.requires_grad and x.grad_fn is None and x.grad is None
    assert plain.is_leaf and not plain.requires_grad and plain.grad_fn is None
    assert not y.is_leaf and y.requires_grad and y.grad_fn is not None
    z = plain * 2.0
    assert z.is_leaf and not z.requires_grad and z.grad_fn is None
    u, w = t * 2.0, torch.ones(3) * 2.0
    assert (t.is_leaf, u.is_leaf, w.is_leaf) == (x.is_leaf, y.is_leaf, z.is_leaf)
    assert (t.grad_fn is None, u.grad_fn is None) == (x.grad_fn is None, y.grad_fn is None)


def test_grad_accumulates_over_two_backwards(rng):
    (x, w), (t, u) = both(rng, (3, 4), (4,))
    for _ in range(2):
        (x * w).tanh().sum().backward()
        (t * u).tanh().sum().backward()
    close(x.grad, t.grad)
    close(w.grad, u.grad)
    (x.exp() * 0.5).mean().backward()
    (t.exp() * 0.5).mean().backward()
    close(x.grad, t.grad)
    close(w.grad, u.grad)


def test_grad_of_a_non_leaf_is_none(rng):
    (x,), _ = both(rng, (3,))
    y = x.exp()
    y.sum().backward()
    assert y.grad is None
    assert x.grad is not None


def test_backward_with_gradient_on_a_non_scalar(rng):
    (x, y), (t, u) = both(rng, (2, 3), (3,))
    seed = rng.standard_normal((2, 3)).astype(np.float32)
    (x * y + x).backward(ember.from_numpy(seed.copy()))
    (t * u + t).backward(torch.from_numpy(seed.copy()))
    close(x.grad, t.grad)
    close(y.grad, u.grad)
    # As a keyword, for a 0-d output too.
    (x.sum() * 3.0).backward(gradient=ember.tensor(0.5))
    (t.sum() * 3.0).backward(gradient=torch.tensor(0.5))
    close(x.grad, t.grad)


def test_retain_graph_allows_a_second_backward_that_accumulates(rng):
    (x,), (t,) = both(rng, (4,))
    y, v = (x * x).exp().sum(), (t * t).exp().sum()
    y.backward(retain_graph=True)
    v.backward(retain_graph=True)
    close(x.grad, t.grad)
    y.backward()
    v.backward()
    close(x.grad, t.grad)
    # The forward value is still readable.
    close(y, v)


def test_no_grad_stops_history(rng):
    (x,), _ = both(rng, (3,))
    with ember.no_grad():
        assert not ember.is_grad_enabled()
        y = x * 2.0
        z = x.exp().sum()
    assert ember.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None and y.is_leaf
    assert not z.requires_grad
    close(y, torch.from_numpy(x.detach().numpy()) * 2.0)


def test_enable_grad_inside_no_grad(rng):
    (x,), (t,) = both(rng, (3,))
    with ember.no_grad():
        with ember.enable_grad():
            assert ember.is_grad_enabled()
            y = (x * x).sum()
        z = x * 3.0
    assert y.requires_grad and y.grad_fn is not None
    assert not z.requires_grad
    y.backward()
    (t * t).sum().backward()
    close(x.grad, t.grad)


def test_no_grad_as_decorator_and_set_grad_enabled(rng):
    (x,), _ = both(rng, (3,))

    @ember.no_grad()
    def doubled(value):
        return value * 2.0

    assert not doubled(x).requires_grad
    assert ember.is_grad_enabled()
    with ember.set_grad_enabled(False):
        assert not (x + 1.0).requires_grad
    assert ember.is_grad_enabled()
    ember.set_grad_enabled(False)
    try:
        assert not ember.is_grad_enabled()
        assert not (x + 1.0).requires_grad
    finally:
        ember.set_grad_enabled(True)
    assert (x + 1.0).requires_grad


def test_detach(rng):
    (x, w), (t, u) = both(rng, (3,), (3,))
    d = x.detach()
    assert d.is_leaf and not d.requires_grad and d.grad_fn is None
    close(d, t)
    # A detached factor is a constant: only w gets a gradient through it.
    (x.detach() * w).sum().backward()
    (t.detach() * u).sum().backward()
    assert x.grad is None
    close(w.grad, u.grad)
    # detach of a non-leaf is a leaf with the value.
    y = (x * 3.0).detach()
    assert y.is_leaf and not y.requires_grad
    close(y, t * 3.0)


def test_requires_grad_(rng):
    array = rng.uniform(-1, 1, size=(3,)).astype(np.float32)
    x = ember.from_numpy(array.copy())
    t = torch.from_numpy(array.copy())
    assert not x.requires_grad
    assert x.requires_grad_() is x
    t.requires_grad_()
    assert x.requires_grad and x.is_leaf
    x.exp().sum().backward()
    t.exp().sum().backward()
    close(x.grad, t.grad)
    x.requires_grad_(False)
    assert not x.requires_grad and not (x * 2.0).requires_grad
    x.requires_grad = True
    assert x.requires_grad
    # A non-leaf that already requires grad accepts requires_grad_(True), as in torch.
    y = x * 2.0
    assert y.requires_grad_() is y
    assert y.requires_grad and not y.is_leaf


def test_tensor_used_twice(rng):
    (x, w), (t, u) = both(rng, (3, 4), (4, 2))
    h, k = x @ w, t @ u
    ((h.tanh() * h).sum() + ((h @ w.T) * x).sum()).backward()
    ((k.tanh() * k).sum() + ((k @ u.T) * t).sum()).backward()
    close(x.grad, t.grad)
    close(w.grad, u.grad)


def test_autograd_grad_with_several_inputs_and_outputs(rng):
    (x, y), (t, u) = both(rng, (3, 4), (4,))
    outs = [(x * y).sum(1), (x.exp() + y).sum()]
    touts = [(t * u).sum(1), (t.exp() + u).sum()]
    seed = rng.standard_normal(3).astype(np.float32)
    gx, gy = ember.autograd.grad(outs, [x, y], grad_outputs=[ember.from_numpy(seed.copy()), None])
    ex, ey = torch.autograd.grad(touts, [t, u], grad_outputs=[torch.from_numpy(seed.copy()), None])
    close(gx, ex)
    close(gy, ey)
    # autograd.grad leaves .grad alone.
    assert x.grad is None and y.grad is None
    assert not gx.requires_grad


def test_autograd_grad_of_an_intermediate(rng):
    (x,), (t,) = both(rng, (3,))
    h, k = x.sigmoid(), t.sigmoid()
    (g,) = ember.autograd.grad((h * h).sum(), h)
    (e,) = torch.autograd.grad((k * k).sum(), k)
    close(g, e)


def test_autograd_grad_allow_unused(rng):
    (x, z), (t, v) = both(rng, (3,), (2,))
    gx, gz = ember.autograd.grad((x * x).sum(), [x, z], allow_unused=True)
    ex, ez = torch.autograd.grad((t * t).sum(), [t, v], allow_unused=True)
    assert ez is None
    assert gz is None
    close(gx, ex)


def test_second_derivative_of_cube(rng):
    (x,), (t,) = both(rng, (5,))
    (g,) = ember.autograd.grad((x ** 3).sum(), x, create_graph=True)
    (e,) = torch.autograd.grad((t ** 3).sum(), t, create_graph=True)
    assert g.requires_grad
    close(g, e)
    (h,) = ember.autograd.grad(g.sum(), x)
    (f2,) = torch.autograd.grad(e.sum(), t)
    close(h, f2)  # 6x
    close(h, t.detach() * 6.0)


def test_second_derivative_of_tanh_through_backward(rng):
    (x,), (t,) = both(rng, (4,))
    x.tanh().sum().backward(create_graph=True)
    t.tanh().sum().backward(create_graph=True)
    close(x.grad, t.grad)
    assert x.grad.requires_grad
    (h,) = ember.autograd.grad(x.grad.sum(), x)
    (e,) = torch.autograd.grad(t.grad.sum(), t)
    close(h, e)


@pytest.mark.parametrize("pending_leaves", [True, False])
def test_gradient_penalty_reaches_every_leaf(rng, pending_leaves):
    """WGAN-GP's pattern: a create_graph gradient with respect to the input,
    then a backward through it that must reach the weights too. Leaves made
    by an op (randn(..., requires_grad=True)) are still pending when both
    gradients are traced; that once crashed the emitter."""
    if pending_leaves:
        ember.manual_seed(0)
        x = ember.randn(3, 4, requires_grad=True)
        w = ember.randn(4, 2, requires_grad=True)
        t = torch.from_numpy(x.detach().numpy()).requires_grad_()
        u = torch.from_numpy(w.detach().numpy()).requires_grad_()
        ember.manual_seed(0)  # the same values again, still pending
        x = ember.randn(3, 4, requires_grad=True)
        w = ember.randn(4, 2, requires_grad=True)
    else:
        (x, w), (t, u) = both(rng, (3, 4), (4, 2))
    for m, inp, weight in ((ember, x, w), (torch, t, u)):
        out = (inp @ weight).tanh().sum()
        (g,) = m.autograd.grad(out, [inp], create_graph=True)
        g.square().sum().backward()
    close(x.grad, t.grad)
    close(w.grad, u.grad)


def test_third_derivative(rng):
    (x,), (t,) = both(rng, (4,))
    results = []
    for m, v in ((ember, x), (torch, t)):
        y = (v.tanh() * v).sum()
        (g1,) = m.autograd.grad(y, v, create_graph=True)
        (g2,) = m.autograd.grad(g1.sum(), v, create_graph=True)
        (g3,) = m.autograd.grad(g2.sum(), v)
        results.append(g3)
    close(*results)


def test_hessian_vector_product_of_an_mlp(rng):
    (x, w1, w2), (t, u1, u2) = both(rng, (5, 3), (3, 4), (4, 1), low=-1.0, high=1.0)
    vector = [rng.standard_normal((3, 4)).astype(np.float32),
              rng.standard_normal((4, 1)).astype(np.float32)]
    products = []
    for m, inp, params in ((ember, x, [w1, w2]), (torch, t, [u1, u2])):
        loss = ((inp @ params[0]).tanh() @ params[1]).pow(2).mean()
        grads = m.autograd.grad(loss, params, create_graph=True)
        dot = sum((g * m.from_numpy(v.copy())).sum() for g, v in zip(grads, vector))
        products.append(m.autograd.grad(dot, params))
    for got, want in zip(*products):
        close(got, want)


def test_update_under_no_grad_then_new_forward(rng):
    (w,), (u,) = both(rng, (4, 2))
    data = rng.uniform(-1, 1, size=(3, 4)).astype(np.float32)
    for _ in range(3):
        loss = (ember.from_numpy(data.copy()) @ w).tanh().pow(2).sum()
        tloss = (torch.from_numpy(data.copy()) @ u).tanh().pow(2).sum()
        loss.backward()
        tloss.backward()
        close(w.grad, u.grad)
        with ember.no_grad():
            w -= 0.3 * w.grad
        with torch.no_grad():
            u -= 0.3 * u.grad
        w.grad = None
        u.grad = None
        assert w.is_leaf and w.requires_grad
        close(w, u)
        assert abs(loss.item() - tloss.item()) <= F32_RTOL * max(1.0, abs(tloss.item()))


# Errors as in torch, raised at the user's call.

def test_second_backward_without_retain_graph_raises(rng):
    (x,), (t,) = both(rng, (3,))
    y = (x * x).sum()
    y.backward()
    v = (t * t).sum()
    v.backward()
    with pytest.raises(RuntimeError):
        v.backward()
    with pytest.raises(RuntimeError) as ei:
        y.backward()  # raises
    assert_raised_here(ei)
    assert "retain_graph" in str(ei.value)


def test_backward_on_a_non_scalar_without_gradient_raises(rng):
    (x,), _ = both(rng, (2, 3))
    y = x * 2.0
    with pytest.raises(RuntimeError) as ei:
        y.backward()  # raises
    assert_raised_here(ei)
    assert "scalar" in str(ei.value)


def test_backward_of_a_tensor_without_grad_raises():
    y = ember.ones(3).sum()
    with pytest.raises(RuntimeError) as ei:
        y.backward()  # raises
    assert_raised_here(ei)
    assert "does not require grad" in str(ei.value)


def test_in_place_op_on_a_leaf_requiring_grad_raises(rng):
    (x,), _ = both(rng, (3,))
    with pytest.raises(RuntimeError) as ei:
        x.add_(1.0)  # raises
    assert_raised_here(ei)
    assert "leaf" in str(ei.value)
    with pytest.raises(RuntimeError) as ei:
        x.mul_(2.0)  # raises
    assert_raised_here(ei)
    with pytest.raises(RuntimeError) as ei:
        x[0] = 5.0  # raises
    assert_raised_here(ei)
    # Under no_grad it is allowed (the optimizer's update).
    before = x.detach().numpy().copy()
    with ember.no_grad():
        x.add_(1.0)
    np.testing.assert_allclose(x.detach().numpy(), before + 1.0, rtol=1e-6)
    assert x.is_leaf and x.requires_grad


def test_requires_grad_on_an_int_tensor_raises():
    x = ember.tensor([1, 2, 3])
    with pytest.raises(RuntimeError) as ei:
        x.requires_grad_()  # raises
    assert_raised_here(ei)
    assert "floating point" in str(ei.value)
    with pytest.raises(RuntimeError) as ei:
        ember.tensor([1, 2, 3], requires_grad=True)  # raises
    assert_raised_here(ei)
    with pytest.raises(RuntimeError) as ei:
        x.requires_grad = True  # raises
    assert_raised_here(ei)


def test_setting_requires_grad_on_a_non_leaf_raises(rng):
    (x,), _ = both(rng, (3,))
    y = x * 2.0
    with pytest.raises(RuntimeError) as ei:
        y.requires_grad = False  # raises
    assert_raised_here(ei)
    assert "leaf" in str(ei.value)
    with pytest.raises(RuntimeError) as ei:
        y.requires_grad_(False)  # raises
    assert_raised_here(ei)


def test_autograd_grad_of_an_unused_input_raises(rng):
    (x, z), _ = both(rng, (3,), (2,))
    with pytest.raises(RuntimeError) as ei:
        ember.autograd.grad((x * x).sum(), [x, z])  # raises
    assert_raised_here(ei)
    assert "allow_unused" in str(ei.value)


def test_autograd_grad_of_an_input_without_grad_raises(rng):
    (x,), _ = both(rng, (3,))
    with pytest.raises(RuntimeError) as ei:
        ember.autograd.grad((x * x).sum(), [x.detach()])  # raises
    assert_raised_here(ei)
    assert "does not require grad" in str(ei.value)


def test_gradient_shape_mismatch_raises(rng):
    (x,), _ = both(rng, (3,))
    y = x * 2.0
    with pytest.raises(RuntimeError) as ei:
        y.backward(ember.ones(4))  # raises
    assert_raised_here(ei)
    assert "[4]" in str(ei.value) and "[3]" in str(ei.value)
    with pytest.raises(RuntimeError) as ei:
        ember.autograd.grad(y, x, grad_outputs=ember.ones(2, 3))  # raises
    assert_raised_here(ei)


# A training step compiles once.

STAT_KEYS = ("compiles", "cache_hits", "graphs_run")


def stats_delta(before):
    after = ember.compile_stats()
    return {key: after[key] - before[key] for key in STAT_KEYS}


def training_step(m, params, x, target, lr=0.1):
    w1, b1, w2, b2 = params
    logits = (x @ w1 + b1).relu() @ w2 + b2
    loss = f(m).cross_entropy(logits, target)
    loss.backward()
    with m.no_grad():
        for p in params:
            p.sub_(p.grad * lr)
    for p in params:
        p.grad = None
    return loss.item()


def test_training_step_compiles_once_and_not_for_a_new_batch_size(rng):
    shapes = [(6, 8), (8,), (8, 3), (3,)]
    ember_params, torch_params = both(rng, *shapes, low=-0.5, high=0.5)
    ember.clear_compile_cache()
    # A sync computes every pending value still alive (e.g. left by earlier
    # tests): flush them so that they do not join the first step's program.
    ember.sync()

    def run(batch):
        data = rng.uniform(-1, 1, size=(batch, 6)).astype(np.float32)
        target = rng.integers(0, 3, size=batch)
        before = ember.compile_stats()
        loss = training_step(ember, ember_params, ember.from_numpy(data.copy()),
                             ember.from_numpy(target.copy()))
        delta = stats_delta(before)
        want = training_step(torch, torch_params, torch.from_numpy(data.copy()),
                             torch.from_numpy(target.copy()))
        assert abs(loss - want) <= F32_RTOL * max(1.0, abs(want)), (loss, want)
        for p, u in zip(ember_params, torch_params):
            close(p, u)
        return delta

    first = run(16)
    later = {"a repeated step": run(16)}
    # Not batch 1: a new pattern of size-1 dims compiles anew, by design
    # (docs/knobs.md, EMBER_LOG_COMPILES).
    for batch in (7, 33, 5):
        later[f"batch {batch}"] = run(batch)
    for step, delta in later.items():
        assert delta["compiles"] == 0, f"{step} compiled {delta['compiles']} programs"
        assert delta["cache_hits"] >= 1
    # Forward, backward and the update are one program.
    assert first["compiles"] == 1, f"the first step compiled {first['compiles']} programs"
