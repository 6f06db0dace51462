"""nn.RNN, nn.LSTM, nn.GRU, their cells and nn.utils.rnn against PyTorch 1.13:
outputs, final states and the gradients of the input, the initial states and
every parameter (torch's weights copied in through state_dict), over layers,
directions, batch_first, proj_size, bias, unbatched input and packed
sequences; dropout between layers; and that a recurrent layer compiles once
for every sequence length (the time loop is one op,
ember.recurrent_sequence)."""

import itertools

import numpy as np
import pytest
import torch

import ember
from ember import nn
from ember.nn.utils import rnn as ember_rnn

TOL = dict(rtol=1e-9, atol=1e-10)


def to_ember_state(module):
    return {k: ember.from_numpy(v.detach().numpy().copy())
            for k, v in module.state_dict().items()}


def numpy(t):
    if isinstance(t, np.ndarray):
        return t
    return t.detach().numpy() if isinstance(t, torch.Tensor) else t.numpy()


def close(actual, expected, **tol):
    np.testing.assert_allclose(numpy(actual), numpy(expected), **(tol or TOL))


def leaves(array):
    """The same float64 values as an ember leaf and a torch leaf."""
    e = ember.from_numpy(array.copy()).requires_grad_()
    t = torch.from_numpy(array.copy()).requires_grad_()
    return e, t


def make_pair(kind, *args, **kwargs):
    """A torch module in float64 and an ember module with its weights."""
    torch.manual_seed(0)
    t = getattr(torch.nn, kind)(*args, **kwargs).double()
    e = getattr(nn, kind)(*args, **kwargs, dtype=ember.float64)
    e.load_state_dict(to_ember_state(t))
    return e, t


def check_grads(e_module, t_module, e_leaves, t_leaves):
    for (name, ep), (tname, tp) in zip(e_module.named_parameters(),
                                       t_module.named_parameters()):
        assert name == tname
        close(ep.grad, tp.grad)
    for el, tl in zip(e_leaves, t_leaves):
        close(el.grad, tl.grad)


# -- parameters --------------------------------------------------------------


@pytest.mark.parametrize("kind,kwargs", [
    ("RNN", dict(num_layers=2, bidirectional=True)),
    ("RNN", dict(nonlinearity="relu", bias=False)),
    ("LSTM", dict(num_layers=2, bidirectional=True, proj_size=3)),
    ("GRU", dict(num_layers=3, batch_first=True)),
])
def test_parameters_match_torch_names_shapes_and_init(kind, kwargs):
    e = getattr(nn, kind)(5, 7, **kwargs)
    t = getattr(torch.nn, kind)(5, 7, **kwargs)
    e_state, t_state = e.state_dict(), t.state_dict()
    assert list(e_state) == list(t_state)
    for name in t_state:
        assert tuple(e_state[name].shape) == tuple(t_state[name].shape), name
        values = e_state[name].numpy()
        # uniform(-1/sqrt(hidden), 1/sqrt(hidden)), not a constant.
        assert np.abs(values).max() <= 1 / np.sqrt(7) + 1e-7
        assert values.std() > 0.05
    # state_dicts move both ways.
    t.load_state_dict({k: torch.from_numpy(v.numpy().copy())
                       for k, v in e_state.items()})
    assert repr(e) == repr(t)


def test_constructor_errors_match_torch():
    with pytest.raises(ValueError, match="proj_size has to be smaller"):
        nn.LSTM(4, 3, proj_size=3)
    with pytest.raises(ValueError, match="only supported for LSTM"):
        nn.GRU(4, 3, proj_size=2)
    with pytest.raises(ValueError, match="Unknown nonlinearity"):
        nn.RNN(4, 3, nonlinearity="sigmoid")
    with pytest.warns(UserWarning, match="non-zero dropout"):
        nn.LSTM(4, 3, dropout=0.5)


# -- forward and backward against torch -----------------------------------


COMBOS = [
    # kind, extra kwargs
    ("RNN", {}),
    ("RNN", dict(nonlinearity="relu")),
    ("LSTM", {}),
    ("LSTM", dict(proj_size=2)),
    ("GRU", {}),
]


@pytest.mark.parametrize("kind,extra", COMBOS)
@pytest.mark.parametrize("num_layers,bidirectional", [(1, False), (2, False), (1, True),
                                                      (2, True)])
@pytest.mark.parametrize("batch_first,with_state", [(False, True), (True, False)])
def test_layer_matches_torch(kind, extra, num_layers, bidirectional, batch_first,
                             with_state):
    rng = np.random.default_rng(1)
    hidden, inputs, steps, batch = 4, 3, 5, 2
    e, t = make_pair(kind, inputs, hidden, num_layers=num_layers,
                     bidirectional=bidirectional, batch_first=batch_first, **extra)
    shape = (batch, steps, inputs) if batch_first else (steps, batch, inputs)
    ex, tx = leaves(rng.standard_normal(shape))
    e_leaves, t_leaves = [ex], [tx]
    directions = 2 if bidirectional else 1
    p = extra.get("proj_size", 0) or hidden
    e_hx = t_hx = None
    if with_state:
        eh, th = leaves(rng.standard_normal((num_layers * directions, batch, p)))
        e_leaves.append(eh)
        t_leaves.append(th)
        e_hx, t_hx = eh, th
        if kind == "LSTM":
            ec, tc = leaves(rng.standard_normal((num_layers * directions, batch,
                                                 hidden)))
            e_leaves.append(ec)
            t_leaves.append(tc)
            e_hx, t_hx = (eh, ec), (th, tc)
    e_out, e_state = e(ex, e_hx)
    t_out, t_state = t(tx, t_hx)
    close(e_out, t_out)
    weights = rng.standard_normal(tuple(t_out.shape))
    e_loss = (e_out * ember.from_numpy(weights)).sum()
    t_loss = (t_out * torch.from_numpy(weights)).sum()
    e_states = e_state if kind == "LSTM" else (e_state,)
    t_states = t_state if kind == "LSTM" else (t_state,)
    for es, ts in zip(e_states, t_states):
        close(es, ts)
        w = rng.standard_normal(tuple(ts.shape))
        e_loss = e_loss + (es * ember.from_numpy(w)).sum()
        t_loss = t_loss + (ts * torch.from_numpy(w)).sum()
    e_loss.backward()
    t_loss.backward()
    check_grads(e, t, e_leaves, t_leaves)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_unbatched_input_matches_torch(kind):
    rng = np.random.default_rng(2)
    e, t = make_pair(kind, 3, 4, num_layers=2, bidirectional=True)
    ex, tx = leaves(rng.standard_normal((6, 3)))
    eh, th = leaves(rng.standard_normal((4, 4)))
    if kind == "LSTM":
        ec, tc = leaves(rng.standard_normal((4, 4)))
        e_out, (e_h, e_c) = e(ex, (eh, ec))
        t_out, (t_h, t_c) = t(tx, (th, tc))
        close(e_c, t_c)
    else:
        e_out, e_h = e(ex, eh)
        t_out, t_h = t(tx, th)
    close(e_out, t_out)
    close(e_h, t_h)
    assert tuple(e_out.shape) == (6, 8) and tuple(e_h.shape) == (4, 4)
    (e_out.sum() + e_h.sum()).backward()
    (t_out.sum() + t_h.sum()).backward()
    check_grads(e, t, [ex, eh], [tx, th])


def test_float32_lstm_matches_torch():
    rng = np.random.default_rng(3)
    torch.manual_seed(0)
    t = torch.nn.LSTM(8, 16, num_layers=2)
    e = nn.LSTM(8, 16, num_layers=2)
    e.load_state_dict(to_ember_state(t))
    x = rng.standard_normal((12, 3, 8)).astype(np.float32)
    e_out, (e_h, e_c) = e(ember.from_numpy(x))
    t_out, (t_h, t_c) = t(torch.from_numpy(x))
    close(e_out, t_out, rtol=1e-5, atol=1e-6)
    close(e_c, t_c, rtol=1e-5, atol=1e-6)



@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_float32_training_packs_each_weight_once_per_loop(kind):
    """f32 recurrent GEMMs read W_hh packed once before each time loop
    (ember-hoist-gemm-packing): one pack per layer for the forward loop and
    one for the backward's; gradients still match torch. Hidden 40 makes
    the gates (160) end inside a GEMM tile."""
    rng = np.random.default_rng(4)
    torch.manual_seed(1)
    t = getattr(torch.nn, kind)(7, 40, num_layers=2)
    e = getattr(nn, kind)(7, 40, num_layers=2)
    e.load_state_dict(to_ember_state(t))
    x = rng.standard_normal((9, 5, 7)).astype(np.float32)
    ex, tx = ember.from_numpy(x.copy()).requires_grad_(), torch.from_numpy(x.copy()).requires_grad_()
    before = ember.compile_stats()["packed_b_calls"]
    e_out, _ = e(ex)
    (e_out ** 2).sum().backward()
    ember.sync()
    assert ember.compile_stats()["packed_b_calls"] - before == 4
    t_out, _ = t(tx)
    (t_out ** 2).sum().backward()
    close(e_out, t_out, rtol=1e-5, atol=1e-5)
    for (name, ep), (_, tp) in zip(e.named_parameters(), t.named_parameters()):
        close(ep.grad, tp.grad, rtol=1e-4, atol=1e-4)
    close(ex.grad, tx.grad, rtol=1e-4, atol=1e-4)


# -- packed sequences -------------------------------------------------------


@pytest.mark.parametrize("kind,extra", COMBOS)
@pytest.mark.parametrize("enforce_sorted", [True, False])
def test_packed_sequences_match_torch(kind, extra, enforce_sorted):
    rng = np.random.default_rng(4)
    hidden, inputs = 4, 3
    lengths = [6, 4, 4, 1] if enforce_sorted else [4, 6, 1, 4]
    e, t = make_pair(kind, inputs, hidden, num_layers=2, bidirectional=True,
                     batch_first=True, **extra)
    ex, tx = leaves(rng.standard_normal((4, 6, inputs)))
    p = extra.get("proj_size", 0) or hidden
    eh, th = leaves(rng.standard_normal((4, 4, p)))
    e_hx, t_hx = eh, th
    e_leaves, t_leaves = [ex, eh], [tx, th]
    if kind == "LSTM":
        ec, tc = leaves(rng.standard_normal((4, 4, hidden)))
        e_hx, t_hx = (eh, ec), (th, tc)
        e_leaves.append(ec)
        t_leaves.append(tc)
    e_packed = ember_rnn.pack_padded_sequence(ex, lengths, batch_first=True,
                                              enforce_sorted=enforce_sorted)
    t_packed = torch.nn.utils.rnn.pack_padded_sequence(
        tx, lengths, batch_first=True, enforce_sorted=enforce_sorted)
    close(e_packed.data, t_packed.data)
    np.testing.assert_array_equal(e_packed.batch_sizes.numpy(),
                                  t_packed.batch_sizes.numpy())
    e_out, e_state = e(e_packed, e_hx)
    t_out, t_state = t(t_packed, t_hx)
    assert isinstance(e_out, ember_rnn.PackedSequence)
    close(e_out.data, t_out.data)
    e_pad, e_len = ember_rnn.pad_packed_sequence(e_out, batch_first=True)
    t_pad, t_len = torch.nn.utils.rnn.pad_packed_sequence(t_out, batch_first=True)
    close(e_pad, t_pad)
    np.testing.assert_array_equal(e_len.numpy(), t_len.numpy())
    weights = rng.standard_normal(tuple(t_pad.shape))
    e_loss = (e_pad * ember.from_numpy(weights)).sum()
    t_loss = (t_pad * torch.from_numpy(weights)).sum()
    for es, ts in zip(e_state if kind == "LSTM" else (e_state,),
                      t_state if kind == "LSTM" else (t_state,)):
        close(es, ts)
        e_loss = e_loss + es.sum()
        t_loss = t_loss + ts.sum()
    e_loss.backward()
    t_loss.backward()
    check_grads(e, t, e_leaves, t_leaves)


def test_pack_sequence_and_pad_sequence_match_torch():
    rng = np.random.default_rng(5)
    arrays = [rng.standard_normal((n, 2)) for n in (3, 5, 1)]
    e_seqs = [ember.from_numpy(a.copy()) for a in arrays]
    t_seqs = [torch.from_numpy(a.copy()) for a in arrays]
    for batch_first in (False, True):
        close(ember_rnn.pad_sequence(e_seqs, batch_first=batch_first, padding_value=-1),
              torch.nn.utils.rnn.pad_sequence(t_seqs, batch_first=batch_first,
                                              padding_value=-1))
    e_packed = ember_rnn.pack_sequence(e_seqs, enforce_sorted=False)
    t_packed = torch.nn.utils.rnn.pack_sequence(t_seqs, enforce_sorted=False)
    close(e_packed.data, t_packed.data)
    for name in ("batch_sizes", "sorted_indices", "unsorted_indices"):
        np.testing.assert_array_equal(getattr(e_packed, name).numpy(),
                                      getattr(t_packed, name).numpy())
    e_pad, e_len = ember_rnn.pad_packed_sequence(e_packed, padding_value=7.0,
                                                 total_length=6)
    t_pad, t_len = torch.nn.utils.rnn.pad_packed_sequence(t_packed, padding_value=7.0,
                                                          total_length=6)
    close(e_pad, t_pad)
    np.testing.assert_array_equal(e_len.numpy(), t_len.numpy())
    with pytest.raises(RuntimeError, match="sorted in decreasing order"):
        ember_rnn.pack_sequence(e_seqs)
    for e_seq, array in zip(ember_rnn.unpack_sequence(e_packed), arrays):
        close(e_seq, array)


# -- dropout ------------------------------------------------------------------


def test_dropout_between_layers_only_in_training():
    rng = np.random.default_rng(6)
    e, t = make_pair("LSTM", 3, 8, num_layers=2, dropout=0.5)
    x = rng.standard_normal((5, 2, 3))
    e.eval()
    t.eval()
    close(e(ember.from_numpy(x))[0], t(torch.from_numpy(x))[0])
    e.train()
    first = e(ember.from_numpy(x))[0].numpy()
    second = e(ember.from_numpy(x))[0].numpy()
    expected = t(torch.from_numpy(x))[0].detach().numpy()
    assert not np.allclose(first, second)
    assert not np.allclose(first, expected)
    # The first layer sees no dropout: its final state equals eval's.
    e_h = e(ember.from_numpy(x))[1][0].numpy()
    np.testing.assert_allclose(e_h[0], t(torch.from_numpy(x))[1][0][0].detach().numpy(),
                               **TOL)


# -- cells ----------------------------------------------------------------------


@pytest.mark.parametrize("kind,kwargs", [("RNNCell", {}),
                                         ("RNNCell", dict(nonlinearity="relu")),
                                         ("LSTMCell", {}), ("GRUCell", {}),
                                         ("GRUCell", dict(bias=False))])
def test_cells_in_a_python_loop_match_torch(kind, kwargs):
    rng = np.random.default_rng(7)
    e, t = make_pair(kind, 3, 5, **kwargs)
    ex, tx = leaves(rng.standard_normal((4, 2, 3)))
    e_state = t_state = None
    e_outs, t_outs = [], []
    for step in range(4):
        e_state = e(ex[step], e_state)
        t_state = t(tx[step], t_state)
        e_outs.append(e_state[0] if kind == "LSTMCell" else e_state)
        t_outs.append(t_state[0] if kind == "LSTMCell" else t_state)
    e_loss = sum((o * (i + 1)).sum() for i, o in enumerate(e_outs))
    t_loss = sum((o * (i + 1)).sum() for i, o in enumerate(t_outs))
    close(e_loss, t_loss)
    e_loss.backward()
    t_loss.backward()
    check_grads(e, t, [ex], [tx])


def test_cells_accept_unbatched_input():
    rng = np.random.default_rng(8)
    e, t = make_pair("LSTMCell", 3, 4)
    x = rng.standard_normal(3)
    eh, ec = e(ember.from_numpy(x))
    th, tc = t(torch.from_numpy(x))
    close(eh, th)
    close(ec, tc)
    assert tuple(eh.shape) == (4,)


# -- compile counts --------------------------------------------------------------


def compiles():
    stats = ember.compile_stats()
    return stats["compiles"] + stats["disk_hits"]


def train_steps(model, head, optimizer, lengths, batch=4, features=3):
    rng = np.random.default_rng(9)
    for steps in lengths:
        x = ember.from_numpy(rng.standard_normal((steps, batch, features)).astype(
            np.float32))
        output, _ = model(x)
        loss = (head(output) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        loss.item()


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_training_compiles_once_for_every_sequence_length(kind):
    model = getattr(nn, kind)(3, 8, num_layers=2, bidirectional=True)
    head = nn.Linear(16, 1)
    optimizer = ember.optim.SGD(list(model.parameters()) + list(head.parameters()),
                                lr=0.01)
    train_steps(model, head, optimizer, [50, 50])
    before = compiles()
    train_steps(model, head, optimizer, [64, 80, 50, 7])
    assert compiles() == before


def test_packed_batches_compile_once_for_every_set_of_lengths():
    model = nn.GRU(3, 8, bidirectional=True)
    rng = np.random.default_rng(10)

    def step(lengths):
        x = ember.from_numpy(rng.standard_normal((max(lengths), len(lengths), 3)).astype(
            np.float32))
        packed = ember_rnn.pack_padded_sequence(x, lengths, enforce_sorted=False)
        out, h = model(packed)
        padded, _ = ember_rnn.pad_packed_sequence(out)
        (padded.sum() + h.sum()).backward()
        ember.sync()

    step([5, 3, 2])
    step([7, 7, 1])
    before = compiles()
    step([9, 2, 4])
    step([12, 11, 3, 6])
    assert compiles() == before


def test_cell_loop_reuses_its_kernels_across_lengths():
    """A Python loop over a cell traces one graph per length: its glue
    compiles per length, and of its 18 fused kernels only the 2 that sum the
    weights' gradients over every step (one operand per step) are new; the
    16 kernels of the steps themselves are reused from the other length."""
    cell = nn.LSTMCell(3, 8)
    rng = np.random.default_rng(11)

    def run(steps):
        x = ember.from_numpy(rng.standard_normal((steps, 2, 3)).astype(np.float32))
        h = c = ember.zeros(2, 8)
        for t in range(steps):
            h, c = cell(x[t], (h, c))
        h.sum().backward()
        ember.sync()

    run(5)
    run(5)
    for steps in (9, 17):
        before = ember.compile_stats()
        run(steps)
        after = ember.compile_stats()
        assert after["kernels_compiled"] - before["kernels_compiled"] <= 2
        assert after["kernels_reused"] - before["kernels_reused"] >= 16

