"""Views read in place: slices, transposes, splits and the reshapes of them
feed element-wise ops, reductions and matmuls without being copied first.

Values are checked against PyTorch 1.13 on random inputs, for views of
graph inputs (materialized tensors) and of values computed in the same
graph, views of views, and gradients through views. That no copy is made is
counted: a graph allocates its outputs and its temporaries through the
host allocator (`ember.memory_stats()["allocations"]`), and a view that is
made dense first costs one allocation more than the same op on a dense
tensor of the view's shape. Moving a slice's window compiles nothing new."""

import numpy as np
import pytest
import torch

import ember

SHAPE = (3, 4, 6, 8)

# name -> view of a (3, 4, 6, 8) tensor, spelled alike for ember and torch.
VIEWS = {
    "index": lambda x: x[1],
    "slice": lambda x: x[:, 1:3],
    "step_slice": lambda x: x[..., ::2],
    "transpose": lambda x: x.transpose(2, 3),
    "permute": lambda x: x.permute(0, 2, 1, 3),
    "select": lambda x: x.select(2, 4),
    "narrow": lambda x: x.narrow(3, 2, 5),
    "chunk": lambda x: x.chunk(2, -1)[1],
    "split": lambda x: x.split(3, 1)[1],
    "unbind": lambda x: x.unbind(0)[2],
    "heads": lambda x: x.split(4, -1)[1].reshape(3, 4, 6, 2, 2).transpose(2, 3),
    "view_of_view": lambda x: x[1:][:, 2][..., 1:, ::3],
    "slice_of_transpose": lambda x: x.transpose(1, 3)[:, 2:6],
    "unsqueeze_of_slice": lambda x: x[2, :, 1:].unsqueeze(1),
    "flatten_leading": lambda x: x[1:].flatten(0, 1),
    "merge_after_slice": lambda x: x[:, 1:].reshape(3, -1, 8),
}

# name -> consumer of a view; each reads every element of it.
CONSUMERS = {
    "elementwise": lambda v: v * 2.5 + 1,
    "sum_last": lambda v: v.sum(-1),
    "mean_first": lambda v: v.mean(0),
    "matmul": lambda v: v @ v.transpose(-2, -1),
}


def pair(rng, shape=SHAPE):
    values = rng.standard_normal(shape).astype(np.float32)
    return ember.from_numpy(values.copy()), torch.from_numpy(values.copy())


def check(got, want):
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("consumer", CONSUMERS)
@pytest.mark.parametrize("view", VIEWS)
def test_view_of_input(view, consumer):
    x, tx = pair(np.random.default_rng(0))
    x.numpy()  # materialized: the view reads a graph input
    f, g = VIEWS[view], CONSUMERS[consumer]
    check(g(f(x)), g(f(tx)))


@pytest.mark.parametrize("consumer", CONSUMERS)
@pytest.mark.parametrize("view", VIEWS)
def test_view_of_intermediate(view, consumer):
    x, tx = pair(np.random.default_rng(1))
    f, g = VIEWS[view], CONSUMERS[consumer]
    check(g(f((x + 1).exp())), g(f((tx + 1).exp())))


def test_split_parts_together():
    # q, k, v of one projection, each a strided third of it, in one kernel.
    rng = np.random.default_rng(2)
    qkv, tqkv = pair(rng, (2, 5, 12))
    q, k, v = qkv.split(4, -1)
    tq, tk, tv = tqkv.split(4, -1)
    check(q * k + v.exp(), tq * tk + tv.exp())
    a, b, c = qkv.unbind(1)[:3]
    ta, tb, tc = tqkv.unbind(1)[:3]
    check(a.sigmoid() - b * c, ta.sigmoid() - tb * tc)


@pytest.mark.parametrize("view", VIEWS)
def test_gradient_through_view(view):
    x, tx = pair(np.random.default_rng(3))
    x.requires_grad_(True)
    tx.requires_grad_(True)
    f = VIEWS[view]
    (f(x).tanh() * 3).sum().backward()
    (f(tx).tanh() * 3).sum().backward()
    check(x.grad, tx.grad)


def test_attention_heads_gradient():
    rng = np.random.default_rng(4)
    x, tx = pair(rng, (2, 5, 12))
    x.requires_grad_(True)
    tx.requires_grad_(True)

    def attention(x):
        q, k, v = x.split(4, -1)
        q, k, v = (t.reshape(2, 5, 2, 2).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)).softmax(-1)
        return (att @ v).transpose(1, 2).reshape(2, 5, 4)

    out, tout = attention(x), attention(tx)
    check(out, tout)
    (out * out).sum().backward()
    (tout * tout).sum().backward()
    check(x.grad, tx.grad)


def test_write_through_view_after_read():
    # Reading a view in place must not see a later write to its storage.
    x, tx = pair(np.random.default_rng(5))
    y, ty = x[1] * 2, tx[1] * 2
    x[1] = 0
    tx[1] = 0
    check(y, ty)
    check(x, tx)


def allocations_per_call(fn):
    """Host allocations of one call of `fn` (after a first call compiled it)."""
    fn().numpy()
    before = ember.memory_stats()["allocations"]
    fn().numpy()
    return ember.memory_stats()["allocations"] - before


# Views whose consumer reads them in place: the same allocations as the op
# on a dense tensor of the view's shape.
IN_PLACE = ["index", "slice", "step_slice", "transpose", "permute", "select",
            "narrow", "chunk", "split", "unbind", "heads", "view_of_view",
            "slice_of_transpose", "unsqueeze_of_slice", "flatten_leading",
            "merge_after_slice"]
# A batched matmul merges its batch dims, which a 4-d slice's strides do not
# allow (torch copies those too); 3-d views go to the GEMM as they are.
MATMUL_IN_PLACE = ["index", "select", "unbind"]

CASES = ([(view, consumer) for view in IN_PLACE
          for consumer in ("elementwise", "sum_last")] +
         [(view, "matmul") for view in MATMUL_IN_PLACE])


def dense_like(t):
    return ember.from_numpy(np.ascontiguousarray(t.numpy()))


@pytest.mark.parametrize("view,consumer", CASES)
def test_view_is_not_copied(view, consumer):
    x, _ = pair(np.random.default_rng(6))
    x.numpy()
    f, g = VIEWS[view], CONSUMERS[consumer]
    dense = dense_like(f(x))
    assert allocations_per_call(lambda: g(f(x))) == allocations_per_call(lambda: g(dense))


# x.exp()[1] computes the exp of x[1] only, but the reshape that drops the
# unit dim stops the fusion: one temporary of the view's size remains.
@pytest.mark.parametrize("view", ["slice", "chunk", "narrow", "slice_of_transpose"])
def test_view_of_intermediate_computes_only_the_view(view):
    # (x.exp())[:, 1:3] * 2, summed: the exp runs on the slice only, fused
    # with the multiply and the sum; no buffer for the whole exp.
    x, _ = pair(np.random.default_rng(9))
    x.numpy()
    f = VIEWS[view]
    dense = dense_like(f(x))
    assert (allocations_per_call(lambda: (f(x.exp()) * 2).sum(-1)) ==
            allocations_per_call(lambda: (dense.exp() * 2).sum(-1)))


def test_split_parts_are_not_copied():
    qkv, _ = pair(np.random.default_rng(7), (2, 5, 12))
    qkv.numpy()
    q, k, v = (dense_like(t) for t in qkv.split(4, -1))

    def parts():
        a, b, c = qkv.split(4, -1)
        return a * b + c

    assert allocations_per_call(parts) == allocations_per_call(lambda: q * k + v)


def test_window_position_compiles_once():
    x, tx = pair(np.random.default_rng(8))
    x.numpy()
    (x[0] * 1.5).numpy()
    before = ember.compile_stats()["compiles"]
    for i in range(1, 3):
        check(x[i] * 1.5, tx[i] * 1.5)
        check(x[:, i:i + 2].reshape(3, 2, 6, 2, 4) * 1.5,
              tx[:, i:i + 2].reshape(3, 2, 6, 2, 4) * 1.5)
    # x[1] and x[2] reuse x[0]'s program; the slice+reshape compiles once.
    assert ember.compile_stats()["compiles"] - before == 1
