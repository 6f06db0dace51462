"""Shape ops (reshape view flatten transpose permute T unsqueeze squeeze expand
contiguous), cat, stack and where."""

import numpy as np
import pytest
import torch

import ember
from ember_testing import ALL_DTYPES, assert_close, pair


@pytest.mark.parametrize("shape,new", [
    ((2, 3, 4), (6, 4)),
    ((2, 3, 4), (4, -1)),
    ((2, 3, 4), (-1,)),
    ((2, 3, 4), (2, 1, 12, 1)),
    ((6,), (1, 6)),
    ((1,), ()),
    ((), (1, 1)),
    ((0, 4), (4, 0)),
])
def test_reshape_and_view(rng, shape, new):
    x, t = pair(rng, shape)
    assert_close(x.reshape(new), t.reshape(new))
    if new:
        assert_close(x.reshape(*new), t.reshape(*new))
        assert_close(x.view(*new), t.view(*new))
    assert_close(ember.reshape(x, new), torch.reshape(t, new))
    assert_close(x.view(new), t.view(new))


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_reshape_every_dtype(rng, dtype):
    x, t = pair(rng, (3, 4), dtype)
    assert_close(x.reshape(2, 6), t.reshape(2, 6))
    assert_close(x.T.reshape(12), t.T.reshape(12))


def test_reshape_of_non_contiguous_copies(rng):
    x, t = pair(rng, (4, 6))
    assert_close(x.T.reshape(3, 8), t.T.reshape(3, 8))
    assert_close(x[:, ::2].reshape(-1), t[:, ::2].reshape(-1))


@pytest.mark.parametrize("args", [(), (0,), (1,), (-2,), (0, 1), (1, -1), (2, 2), (0, -1)])
def test_flatten(rng, args):
    x, t = pair(rng, (2, 3, 4, 5))
    assert_close(x.flatten(*args), t.flatten(*args))
    assert_close(ember.flatten(x, *args), torch.flatten(t, *args))


def test_flatten_keywords_and_0d(rng):
    x, t = pair(rng, (2, 3, 4))
    assert_close(x.flatten(start_dim=1), t.flatten(start_dim=1))
    assert_close(x.flatten(end_dim=-2), t.flatten(end_dim=-2))
    assert_close(ember.tensor(5.0).flatten(), torch.tensor(5.0).flatten())


@pytest.mark.parametrize("d0,d1", [(0, 1), (1, 0), (0, 2), (-1, -3), (1, 1), (2, -2)])
def test_transpose(rng, d0, d1):
    x, t = pair(rng, (2, 3, 4))
    assert_close(x.transpose(d0, d1), t.transpose(d0, d1))
    assert_close(ember.transpose(x, d0, d1), torch.transpose(t, d0, d1))


@pytest.mark.parametrize("dims", [(0, 1, 2), (2, 0, 1), (1, 2, 0), (-1, -2, -3), (0, 2, 1)])
def test_permute(rng, dims):
    x, t = pair(rng, (2, 3, 4))
    assert_close(x.permute(*dims), t.permute(*dims))
    assert_close(x.permute(dims), t.permute(dims))
    assert_close(ember.permute(x, dims), torch.permute(t, dims))


@pytest.mark.filterwarnings("ignore:The use of `x.T`")
def test_T(rng):
    for shape in [(3, 5), (4,), ()]:
        x, t = pair(rng, shape)
        assert_close(x.T, t.T)
    x, t = pair(rng, (3, 5), "int32")
    assert_close(x.T.T, t)


@pytest.mark.parametrize("dim", [0, 1, 2, -1, -3])
def test_unsqueeze(rng, dim):
    x, t = pair(rng, (3, 4))
    assert_close(x.unsqueeze(dim), t.unsqueeze(dim))
    assert_close(ember.unsqueeze(x, dim), torch.unsqueeze(t, dim))


def test_unsqueeze_0d(rng):
    x, t = pair(rng, ())
    assert_close(x.unsqueeze(0), t.unsqueeze(0))
    assert_close(x.unsqueeze(-1), t.unsqueeze(-1))


@pytest.mark.parametrize("dim", [None, 0, 1, 2, 3, -1, -4])
def test_squeeze(rng, dim):
    x, t = pair(rng, (1, 3, 1, 2))
    if dim is None:
        assert_close(x.squeeze(), t.squeeze())
        assert_close(ember.squeeze(x), torch.squeeze(t))
    else:
        assert_close(x.squeeze(dim), t.squeeze(dim))
        assert_close(ember.squeeze(x, dim), torch.squeeze(t, dim))


def test_squeeze_all_ones_and_0d(rng):
    x, t = pair(rng, (1, 1))
    assert_close(x.squeeze(), t.squeeze())
    y, u = pair(rng, ())
    assert_close(y.squeeze(), u.squeeze())
    assert_close(y.squeeze(0), u.squeeze(0))


@pytest.mark.parametrize("shape,sizes", [
    ((3, 1), (3, 4)),
    ((1, 4), (5, 4)),
    ((3, 1), (-1, 4)),
    ((4,), (2, 3, 4)),
    ((2, 1, 3), (2, 5, 3)),
    ((), (3, 2)),
    ((2, 3), (2, 3)),
    ((1,), (0,)),
])
def test_expand(rng, shape, sizes):
    x, t = pair(rng, shape)
    assert_close(x.expand(*sizes), t.expand(*sizes))
    assert_close(x.expand(sizes), t.expand(sizes))


def test_expanded_tensors_compute(rng):
    x, t = pair(rng, (3, 1))
    y, u = pair(rng, (1, 4))
    assert_close(x.expand(3, 4) * y.expand(3, 4), t.expand(3, 4) * u.expand(3, 4))
    assert_close(x.expand(2, 3, 4).sum(0), t.expand(2, 3, 4).sum(0))


def test_contiguous(rng):
    x, t = pair(rng, (3, 4))
    c = x.T.contiguous()
    assert c.is_contiguous()
    assert tuple(c.stride()) == t.T.contiguous().stride()
    assert_close(c, t.T.contiguous())
    assert_close(x[:, 1::2].contiguous(), t[:, 1::2].contiguous())


@pytest.mark.parametrize("dim", [0, 1, -1, -2])
def test_cat(rng, dim):
    shapes = [(2, 3), (2, 3), (2, 3)]
    shapes = [tuple(s if i != dim % 2 else s + k for i, s in enumerate(shape))
              for k, shape in enumerate(shapes)]
    pairs = [pair(rng, shape) for shape in shapes]
    xs, ts = [p[0] for p in pairs], [p[1] for p in pairs]
    assert_close(ember.cat(xs, dim), torch.cat(ts, dim))
    assert_close(ember.cat(xs, dim=dim), torch.cat(ts, dim=dim))
    assert_close(ember.cat(tuple(xs[:2]), dim), torch.cat(tuple(ts[:2]), dim))


def test_cat_default_dim_single_and_empty_parts(rng):
    x, t = pair(rng, (2, 4))
    y, u = pair(rng, (0, 4))
    z, w = pair(rng, (3, 4))
    assert_close(ember.cat([x, y, z]), torch.cat([t, u, w]))
    assert_close(ember.cat([x]), torch.cat([t]))


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_cat_and_stack_dtypes(rng, dtype):
    x, t = pair(rng, (2, 3), dtype)
    y, u = pair(rng, (1, 3), dtype)
    assert_close(ember.cat([x, y]), torch.cat([t, u]))
    assert_close(ember.stack([x, x]), torch.stack([t, t]))


def test_cat_of_views(rng):
    x, t = pair(rng, (4, 6))
    assert_close(ember.cat([x.T, x[:, ::2].T], 0), torch.cat([t.T, t[:, ::2].T], 0))
    assert_close(ember.cat([x[1], x[3]]), torch.cat([t[1], t[3]]))


@pytest.mark.parametrize("dim", [0, 1, 2, -1, -3])
def test_stack(rng, dim):
    pairs = [pair(rng, (2, 3)) for _ in range(3)]
    xs, ts = [p[0] for p in pairs], [p[1] for p in pairs]
    assert_close(ember.stack(xs, dim), torch.stack(ts, dim))
    assert_close(ember.stack(xs, dim=dim), torch.stack(ts, dim=dim))


def test_stack_of_0d_and_views(rng):
    pairs = [pair(rng, ()) for _ in range(4)]
    assert_close(ember.stack([p[0] for p in pairs]), torch.stack([p[1] for p in pairs]))
    x, t = pair(rng, (3, 4))
    assert_close(ember.stack([x.T, x.T * 2.0], 1), torch.stack([t.T, t.T * 2.0], 1))
    assert_close(ember.stack([x]), torch.stack([t]))


@pytest.mark.parametrize("shapes", [
    ((3, 4), (3, 4), (3, 4)),
    ((3, 4), (4,), (3, 1)),
    ((3, 1), (1, 4), ()),
    ((2, 1, 4), (3, 1), (4,)),
])
def test_where_broadcasts(rng, shapes):
    c, tc = pair(rng, shapes[0], "bool")
    x, t = pair(rng, shapes[1])
    y, u = pair(rng, shapes[2])
    assert_close(ember.where(c, x, y), torch.where(tc, t, u))


@pytest.mark.parametrize("dtypes", [
    ("float32", "float32"), ("int64", "float32"), ("int32", "int64"),
    ("float16", "float64"), ("bool", "bool"), ("bfloat16", "bfloat16"), ("int32", "bool"),
])
def test_where_promotes(rng, dtypes):
    c, tc = pair(rng, (5,), "bool")
    x, t = pair(rng, (5,), dtypes[0])
    y, u = pair(rng, (5,), dtypes[1])
    assert_close(ember.where(c, x, y), torch.where(tc, t, u))


def test_where_with_scalars(rng):
    x, t = pair(rng, (4, 5))
    assert_close(ember.where(x > 0, x, 0.0), torch.where(t > 0, t, 0.0))
    assert_close(ember.where(x > 0, 1.5, x), torch.where(t > 0, 1.5, t))
    assert_close(ember.where(x > 0, 1.0, -1.0), torch.where(t > 0, 1.0, -1.0))
    y, u = pair(rng, (4,), "int32")
    assert_close(ember.where(y > 0, y, 2), torch.where(u > 0, u, 2))
    assert_close(ember.where(y > 0, y, 2.5), torch.where(u > 0, u, 2.5))


def test_where_with_views(rng):
    x, t = pair(rng, (4, 6))
    assert_close(ember.where(x.T > 0, x.T, x[:, ::2].T.sum(0) * 2.0),
                 torch.where(t.T > 0, t.T, t[:, ::2].T.sum(0) * 2.0))


def test_a_graph_output_that_is_a_reshape_of_a_computation(rng):
    # The compiled graph returns a reshape of an element-wise result: the
    # result must be written with the reshaped layout (a regression: the
    # destination buffer was handed to the producer with the wrong shape).
    a = rng.standard_normal((2, 6)).astype(np.float32)
    x = ember.tensor(a)
    out = (x * 2).view(4, 3).clone()
    np.testing.assert_allclose(out.numpy(), (a * 2).reshape(4, 3), rtol=1e-6)
    out = (x + 1).reshape(3, 2, 2).clone()
    np.testing.assert_allclose(out.numpy(), (a + 1).reshape(3, 2, 2), rtol=1e-6)
