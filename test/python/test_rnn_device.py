"""nn.RNN, nn.LSTM, nn.GRU and their cells on the suite's device (EMBER_TEST_DEVICE; the
*_on_vulkan target runs them on lavapipe) against PyTorch 1.13 in float32:
outputs, final states and the gradients of the input, the initial states
and every parameter, and that training on a GPU compiles once for every
sequence length (the time loop is a loop of the launch plan around the
step's kernels, not a program per step or per length). test_rnn.py covers
the layers' options in depth on the CPU."""

import numpy as np
import pytest
import torch

import ember
from ember import nn
from ember.nn.utils import rnn as ember_rnn
from ember_testing import DEVICE, assert_close, from_array

# The GPU's GEMM sums in another order than torch's CPU one.
TOL = dict(rtol=2e-4, atol=2e-5)


def make_pair(kind, *args, **kwargs):
    """A torch module and an ember module with its weights, on DEVICE."""
    torch.manual_seed(0)
    t = getattr(torch.nn, kind)(*args, **kwargs)
    e = getattr(nn, kind)(*args, **kwargs)
    e.load_state_dict({k: ember.from_numpy(v.detach().numpy().copy())
                       for k, v in t.state_dict().items()})
    return (e.to(DEVICE) if DEVICE != "cpu" else e), t


def leaves(array):
    return (from_array(array).requires_grad_(),
            torch.from_numpy(array.copy()).requires_grad_())


def check_grads(e_module, t_module, e_leaves, t_leaves):
    for (name, ep), (_, tp) in zip(e_module.named_parameters(),
                                   t_module.named_parameters()):
        assert ep.grad is not None, name
        assert_close(ep.grad, tp.grad, **TOL)
    for el, tl in zip(e_leaves, t_leaves):
        assert_close(el.grad, tl.grad, **TOL)


@pytest.mark.parametrize("kind,kwargs", [
    ("RNN", dict(bidirectional=True)),
    ("LSTM", dict(proj_size=3, batch_first=True)),
    ("GRU", dict(num_layers=2)),
])
def test_layer_and_gradients_match_torch(kind, kwargs):
    rng = np.random.default_rng(1)
    inputs, hidden, steps, batch = 3, 5, 4, 2
    e, t = make_pair(kind, inputs, hidden, **kwargs)
    directions = 2 if kwargs.get("bidirectional") else 1
    layers = kwargs.get("num_layers", 1) * directions
    p = kwargs.get("proj_size") or hidden
    shape = (batch, steps, inputs) if kwargs.get("batch_first") else (steps, batch, inputs)
    ex, tx = leaves(rng.standard_normal(shape).astype(np.float32))
    eh, th = leaves(rng.standard_normal((layers, batch, p)).astype(np.float32))
    e_leaves, t_leaves = [ex, eh], [tx, th]
    e_hx, t_hx = eh, th
    if kind == "LSTM":
        ec, tc = leaves(rng.standard_normal((layers, batch, hidden)).astype(np.float32))
        e_leaves.append(ec)
        t_leaves.append(tc)
        e_hx, t_hx = (eh, ec), (th, tc)
    e_out, e_state = e(ex, e_hx)
    t_out, t_state = t(tx, t_hx)
    assert e_out.device.type == DEVICE
    assert_close(e_out, t_out, **TOL)
    e_states = e_state if kind == "LSTM" else (e_state,)
    t_states = t_state if kind == "LSTM" else (t_state,)
    weights = rng.standard_normal(tuple(t_out.shape)).astype(np.float32)
    e_loss = (e_out * from_array(weights)).sum()
    t_loss = (t_out * torch.from_numpy(weights)).sum()
    for es, ts in zip(e_states, t_states):
        assert_close(es, ts, **TOL)
        e_loss = e_loss + es.sum()
        t_loss = t_loss + ts.sum()
    e_loss.backward()
    t_loss.backward()
    check_grads(e, t, e_leaves, t_leaves)


@pytest.mark.parametrize("kind", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cells_with_their_default_state_match_torch(kind):
    """A cell without hx starts from zeros on its input's device."""
    rng = np.random.default_rng(4)
    e, t = make_pair(kind, 3, 4)
    ex, tx = leaves(rng.standard_normal((2, 3)).astype(np.float32))
    e_out, t_out = e(ex), t(tx)
    if kind == "LSTMCell":
        e_out, t_out = e_out[0] + e_out[1], t_out[0] + t_out[1]
    assert_close(e_out, t_out, **TOL)
    e_out.sum().backward()
    t_out.sum().backward()
    check_grads(e, t, [ex], [tx])


def test_packed_lstm_matches_torch():
    """Shorter sequences of a packed batch: the step loop's mask."""
    rng = np.random.default_rng(2)
    e, t = make_pair("LSTM", 3, 4, bidirectional=True)
    lengths = [4, 2, 3]
    array = rng.standard_normal((4, 3, 3)).astype(np.float32)
    ex, tx = leaves(array)
    e_packed = ember_rnn.pack_padded_sequence(ex, lengths, enforce_sorted=False)
    t_packed = torch.nn.utils.rnn.pack_padded_sequence(tx, lengths, enforce_sorted=False)
    e_out, (e_h, e_c) = e(e_packed)
    t_out, (t_h, t_c) = t(t_packed)
    e_pad, _ = ember_rnn.pad_packed_sequence(e_out)
    t_pad, _ = torch.nn.utils.rnn.pad_packed_sequence(t_out)
    assert_close(e_pad, t_pad, **TOL)
    assert_close(e_h, t_h, **TOL)
    assert_close(e_c, t_c, **TOL)
    (e_pad.sum() + e_c.sum()).backward()
    (t_pad.sum() + t_c.sum()).backward()
    check_grads(e, t, [ex], [tx])


def test_training_compiles_once_for_every_sequence_length():
    model = nn.GRU(3, 4)
    model = model.to(DEVICE) if DEVICE != "cpu" else model
    optimizer = ember.optim.SGD(model.parameters(), lr=0.01)
    rng = np.random.default_rng(3)

    def step(steps):
        x = from_array(rng.standard_normal((steps, 2, 3)).astype(np.float32))
        output, h = model(x)
        loss = (output ** 2).mean() + h.sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.item()

    step(3)
    step(3)
    stats = ember.compile_stats()
    before = stats["compiles"] + stats["disk_hits"]
    for steps in (5, 9):
        assert np.isfinite(step(steps))
    stats = ember.compile_stats()
    assert stats["compiles"] + stats["disk_hits"] == before
