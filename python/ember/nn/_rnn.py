"""Recurrent layers: ``nn.RNN``, ``nn.LSTM``, ``nn.GRU`` and their cells, with
torch 1.13's arguments, parameter names, shapes, initialisation and
semantics.

A layer's loop over the time steps is one op, ``ember.recurrent_sequence``
(one direction of one layer; the CPU lowering is an ``scf.for`` over the
run-time step count with one GEMM and one fused gate kernel per step), so a
model compiles once for every sequence length. Around it, per layer and
direction: the input projection of every step as one GEMM, a gather that
reverses each sequence within its length for the reverse direction, and
slices of the op's workspace for the outputs (row t + 1 holds h after step
t, so ``h_n`` is the last row: masked steps of shorter packed sequences
carry their state to it).

The cells (``RNNCell``, ``LSTMCell``, ``GRUCell``) are one step written in
primitives: a Python loop over a cell traces one graph per sequence length
whose fused kernels are the same for every length (the per-kernel cache
reuses them).
"""

import math
import warnings

import numpy as np

import ember
from ember import _ember
from ember.nn import functional as F
from ember.nn import init
from ember.nn.module import Module
from ember.nn.parameter import Parameter
from ember.nn.utils.rnn import PackedSequence, _gather_rows, _to_device

# ember::RecurrentCell (ember/Dialect/Recurrent.h).
_CELLS = {"RNN_TANH": 0, "RNN_RELU": 1, "LSTM": 2, "GRU": 3}
_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _reject_projection(mode, proj_size):
    """torch's error for ``proj_size`` on a mode other than LSTM."""
    if mode != "LSTM" and proj_size:
        raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")


def _check_input_size(got, expected, message):
    """torch's error for an input whose last dim is not ``input_size``."""
    if got != expected:
        raise RuntimeError(message.format(got=got, expected=expected))


_LAYER_INPUT_SIZE = "input.size(-1) must be equal to input_size. Expected {expected}, got {got}"
_CELL_INPUT_SIZE = "input has inconsistent input_size: got {got} expected {expected}"


def _empty(*shape, device=None, dtype=None):
    return ember.empty(*shape, device=device, dtype=dtype)


def _index(array, device=None):
    return _to_device(ember.from_numpy(np.ascontiguousarray(array, dtype=np.int64)), device)


class RNNBase(Module):
    """What RNN, LSTM and GRU share (torch.nn.RNNBase)."""

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, proj_size=0,
                 device=None, dtype=None):
        super().__init__()
        factory_kwargs = {"device": device, "dtype": dtype}
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        num_directions = 2 if bidirectional else 1

        if (not isinstance(dropout, (int, float)) or isinstance(dropout, bool)
                or not 0 <= dropout <= 1):
            raise ValueError("dropout should be a number in range [0, 1] "
                             "representing the probability of an element being "
                             "zeroed")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last "
                          "recurrent layer, so non-zero dropout expects "
                          f"num_layers greater than 1, but got dropout={dropout} and "
                          f"num_layers={num_layers}")
        if not isinstance(hidden_size, int) or isinstance(hidden_size, bool):
            raise TypeError(f"hidden_size should be of type int, got: "
                            f"{type(hidden_size).__name__}")
        if hidden_size <= 0:
            raise ValueError("hidden_size must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to "
                             "disable projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if mode not in _CELLS:
            raise ValueError(f"Unrecognized RNN mode: {mode}")
        _reject_projection(mode, proj_size)

        gate_size = _GATES[mode] * hidden_size
        real_hidden_size = proj_size if proj_size > 0 else hidden_size
        self._flat_weights_names = []
        self._all_weights = []
        for layer in range(num_layers):
            for direction in range(num_directions):
                layer_input_size = (input_size if layer == 0
                                    else real_hidden_size * num_directions)
                suffix = "_reverse" if direction == 1 else ""
                params = [
                    ("weight_ih", (gate_size, layer_input_size)),
                    ("weight_hh", (gate_size, real_hidden_size)),
                ]
                if bias:
                    params += [("bias_ih", (gate_size,)), ("bias_hh", (gate_size,))]
                if proj_size > 0:
                    params += [("weight_hr", (proj_size, hidden_size))]
                names = []
                for kind, shape in params:
                    name = f"{kind}_l{layer}{suffix}"
                    setattr(self, name, Parameter(_empty(*shape, **factory_kwargs)))
                    names.append(name)
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    @property
    def _flat_weights(self):
        return [getattr(self, name) for name in self._flat_weights_names]

    @property
    def all_weights(self):
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def flatten_parameters(self):
        """A no-op (cuDNN's packed weights do not exist here)."""

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def extra_repr(self):
        s = "{input_size}, {hidden_size}"
        if self.proj_size != 0:
            s += ", proj_size={proj_size}"
        if self.num_layers != 1:
            s += ", num_layers={num_layers}"
        if self.bias is not True:
            s += ", bias={bias}"
        if self.batch_first is not False:
            s += ", batch_first={batch_first}"
        if self.dropout != 0:
            s += ", dropout={dropout}"
        if self.bidirectional is not False:
            s += ", bidirectional={bidirectional}"
        return s.format(**self.__dict__)

    # -- forward -----------------------------------------------------------

    def _layer_weights(self, layer, direction):
        suffix = "_reverse" if direction == 1 else ""
        get = lambda kind: getattr(self, f"{kind}_l{layer}{suffix}")  # noqa: E731
        w_ih, w_hh = get("weight_ih"), get("weight_hh")
        b_ih = get("bias_ih") if self.bias else None
        b_hh = get("bias_hh") if self.bias else None
        w_hr = get("weight_hr") if self.proj_size > 0 else None
        return w_ih, w_hh, b_ih, b_hh, w_hr

    def _run(self, x, h0, c0, lengths):
        """x: [T, B, I] time-major; h0, c0: [L * D, B, *] or None;
        lengths: per-sequence lengths (NumPy) or None for full sequences.
        Returns (output [T, B, D * P], h_n, c_n or None)."""
        steps, batch = x.shape[0], x.shape[1]
        num_directions = 2 if self.bidirectional else 1
        lstm = self.mode == "LSTM"
        cell = _CELLS[self.mode]
        p = self.proj_size if self.proj_size > 0 else self.hidden_size
        hidden = self.hidden_size
        dtype = x.dtype
        if h0 is None:
            h0 = ember.zeros(self.num_layers * num_directions, batch, p, dtype=dtype,
                             device=x.device)
        if lstm and c0 is None:
            c0 = ember.zeros(self.num_layers * num_directions, batch, hidden,
                             dtype=dtype, device=x.device)
        mask = None
        reverse = None
        if lengths is not None:
            # Packed input always has a mask (one program whether or not
            # the lengths differ).
            valid = np.arange(steps)[:, None] < lengths[None, :]
            mask = _to_device(ember.from_numpy(valid.astype(np.float64)).to(dtype), x.device)
        if num_directions == 2:
            # Step t of the reverse direction reads position len - 1 - t of
            # its sequence; positions past the end stay (masked) in place.
            t = np.arange(steps)[:, None]
            length = (lengths if lengths is not None
                      else np.full(batch, steps))[None, :]
            source = np.where(t < length, length - 1 - t, t)
            reverse = _index((source * batch + np.arange(batch)[None, :]).reshape(-1),
                             x.device)

        def flip(v):
            flat = v.reshape(steps * batch, v.shape[2])
            return flat[reverse].reshape(steps, batch, v.shape[2])

        h_n, c_n = [], []
        layer_input = x
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(num_directions):
                w_ih, w_hh, b_ih, b_hh, w_hr = self._layer_weights(layer, direction)
                inp = flip(layer_input) if direction == 1 else layer_input
                proj = ember.matmul(inp, w_ih.t())
                gru_bias = None
                if b_ih is not None:
                    if self.mode == "GRU":
                        proj = proj + b_ih
                        gru_bias = b_hh
                    else:
                        proj = proj + (b_ih + b_hh)
                index = layer * num_directions + direction
                ws = _ember._recurrent_sequence(
                    cell, proj, h0[index], c0[index] if lstm else None, w_hh, gru_bias,
                    w_hr, mask)
                out = ws[1:, :, :p]
                outputs.append(flip(out) if direction == 1 else out)
                h_n.append(ws[steps, :, :p])
                if lstm:
                    c_n.append(ws[steps, :, p:p + hidden])
            layer_input = outputs[0] if num_directions == 1 else ember.cat(outputs, 2)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, True)
        h_n = ember.stack(h_n, 0)
        c_n = ember.stack(c_n, 0) if lstm else None
        return layer_input, h_n, c_n

    def _check_hidden(self, hx, expected, name="hidden"):
        if tuple(hx.shape) != tuple(expected):
            raise RuntimeError(f"Expected {name} size {tuple(expected)}, got "
                               f"{list(hx.shape)}")

    def forward(self, input, hx=None):
        lstm = self.mode == "LSTM"
        num_directions = 2 if self.bidirectional else 1
        p = self.proj_size if self.proj_size > 0 else self.hidden_size
        packed = isinstance(input, PackedSequence)
        batched = True
        lengths = None
        if packed:
            data, batch_sizes = input.data, input.batch_sizes
            sizes = np.asarray(batch_sizes.numpy(), dtype=np.int64)
            steps, batch = len(sizes), int(sizes[0])
            lengths = (np.arange(batch)[None, :] < sizes[:, None]).sum(0)
            # Packed rows -> a padded [T, B, I] (a zero row where absent).
            offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
            gather = np.full((steps, batch), -1, dtype=np.int64)
            for t in range(steps):
                gather[t, :sizes[t]] = offsets[t] + np.arange(sizes[t])
            x = _gather_rows(data, gather.reshape(-1)).reshape(steps, batch,
                                                               data.shape[1])
            _check_input_size(data.shape[-1], self.input_size, _LAYER_INPUT_SIZE)
        else:
            if input.dim() not in (2, 3):
                raise ValueError(f"{type(self).__name__}: Expected input to be 2D or "
                                 f"3D, got {input.dim()}D instead")
            _check_input_size(input.shape[-1], self.input_size, _LAYER_INPUT_SIZE)
            batched = input.dim() == 3
            if not batched:
                x = input.unsqueeze(1)
            else:
                x = input.transpose(0, 1) if self.batch_first else input
            batch = x.shape[1]

        h0 = c0 = None
        if hx is not None:
            if lstm:
                if not isinstance(hx, tuple) or len(hx) != 2:
                    raise RuntimeError("LSTM expects hx to be a tuple (h_0, c_0)")
                h0, c0 = hx
            else:
                h0 = hx
            hx_dims = 3 if batched else 2
            for name, t in (("h", h0), ("c", c0)):
                if t is not None and t.dim() != hx_dims:
                    kind = "batched" if batched else "unbatched"
                    raise RuntimeError(f"For {kind} {hx_dims - 1}-D input, hx"
                                       f"{'' if not lstm else ' and cx'} should also "
                                       f"be {hx_dims}-D but got {t.dim()}-D tensor")
            if not batched:
                h0 = h0.unsqueeze(1)
                c0 = c0.unsqueeze(1) if c0 is not None else None
            if packed and input.sorted_indices is not None:
                order = _to_device(input.sorted_indices, h0.device)
                h0 = h0.index_select(1, order)
                c0 = c0.index_select(1, order) if c0 is not None else None
            layers = self.num_layers * num_directions
            self._check_hidden(h0, (layers, batch, p),
                               "hidden" if not lstm else "hidden[0]")
            if lstm:
                self._check_hidden(c0, (layers, batch, self.hidden_size), "hidden[1]")

        output, h_n, c_n = self._run(x, h0, c0, lengths)

        if packed:
            steps = output.shape[0]
            rows = np.concatenate([t * batch + np.arange(sizes[t]) for t in range(steps)])
            data_out = output.reshape(steps * batch, output.shape[2])[_index(rows, output.device)]
            output = PackedSequence(data_out, input.batch_sizes, input.sorted_indices,
                                    input.unsorted_indices)
            if input.unsorted_indices is not None:
                order = _to_device(input.unsorted_indices, h_n.device)
                h_n = h_n.index_select(1, order)
                c_n = c_n.index_select(1, order) if lstm else None
        elif not batched:
            output = output.squeeze(1)
            h_n = h_n.squeeze(1)
            c_n = c_n.squeeze(1) if lstm else None
        elif self.batch_first:
            output = output.transpose(0, 1)
        return (output, (h_n, c_n)) if lstm else (output, h_n)


class RNN(RNNBase):
    """Elman RNN: ``h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)``
    (``nonlinearity='relu'`` for relu; a keyword argument, as in torch
    1.13, whose positional arguments are RNNBase's)."""

    def __init__(self, *args, **kwargs):
        _reject_projection("RNN", "proj_size" in kwargs)
        self.nonlinearity = kwargs.pop("nonlinearity", "tanh")
        if self.nonlinearity == "tanh":
            mode = "RNN_TANH"
        elif self.nonlinearity == "relu":
            mode = "RNN_RELU"
        else:
            raise ValueError(f"Unknown nonlinearity '{self.nonlinearity}'")
        super().__init__(mode, *args, **kwargs)


class LSTM(RNNBase):
    """LSTM with torch's gate order (i, f, g, o) and ``proj_size``."""

    def __init__(self, *args, **kwargs):
        super().__init__("LSTM", *args, **kwargs)


class GRU(RNNBase):
    """GRU with torch's gate order (r, z, n):
    ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``."""

    def __init__(self, *args, **kwargs):
        _reject_projection("GRU", "proj_size" in kwargs)
        super().__init__("GRU", *args, **kwargs)


# -- cells -------------------------------------------------------------------


class RNNCellBase(Module):
    def __init__(self, input_size, hidden_size, bias, num_chunks, device=None,
                 dtype=None):
        super().__init__()
        factory_kwargs = {"device": device, "dtype": dtype}
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        self.weight_ih = Parameter(_empty(num_chunks * hidden_size, input_size,
                                          **factory_kwargs))
        self.weight_hh = Parameter(_empty(num_chunks * hidden_size, hidden_size,
                                          **factory_kwargs))
        if bias:
            self.bias_ih = Parameter(_empty(num_chunks * hidden_size, **factory_kwargs))
            self.bias_hh = Parameter(_empty(num_chunks * hidden_size, **factory_kwargs))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def extra_repr(self):
        s = "{input_size}, {hidden_size}"
        if "bias" in self.__dict__ and self.bias is not True:
            s += ", bias={bias}"
        if "nonlinearity" in self.__dict__ and self.nonlinearity != "tanh":
            s += ", nonlinearity={nonlinearity}"
        return s.format(**self.__dict__)

    def _prepare(self, input, hx, name, states=1):
        """torch's checks of a cell's input, and the batched input and
        state: ``states`` tensors (LSTM: h and c, as a tuple), zeros when
        ``hx`` is None, a batch dim added to an unbatched one."""
        if input.dim() not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got "
                             f"{input.dim()}D instead")
        _check_input_size(input.shape[-1], self.input_size, _CELL_INPUT_SIZE)
        batched = input.dim() == 2
        if not batched:
            input = input.unsqueeze(0)
        if hx is None:
            zeros = ember.zeros(input.shape[0], self.hidden_size, dtype=input.dtype,
                                device=input.device)
            hx = (zeros,) * states if states > 1 else zeros
        elif not batched:
            hx = tuple(h.unsqueeze(0) for h in hx) if states > 1 else hx.unsqueeze(0)
        return input, hx, batched

    def _gates(self, input, h):
        gi = F.linear(input, self.weight_ih, self.bias_ih)
        gh = F.linear(h, self.weight_hh, self.bias_hh)
        return gi, gh


class RNNCell(RNNCellBase):
    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh",
                 device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=1, device=device,
                         dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        input, hx, batched = self._prepare(input, hx, "RNNCell")
        gi, gh = self._gates(input, hx)
        if self.nonlinearity == "tanh":
            h = ember.tanh(gi + gh)
        elif self.nonlinearity == "relu":
            h = ember.relu(gi + gh)
        else:
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        return h if batched else h.squeeze(0)


class LSTMCell(RNNCellBase):
    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=4, device=device,
                         dtype=dtype)

    def forward(self, input, hx=None):
        input, (h, c), batched = self._prepare(input, hx, "LSTMCell", states=2)
        gi, gh = self._gates(input, h)
        i, f, g, o = (gi + gh).chunk(4, 1)
        c = ember.sigmoid(f) * c + ember.sigmoid(i) * ember.tanh(g)
        h = ember.sigmoid(o) * ember.tanh(c)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=3, device=device,
                         dtype=dtype)

    def forward(self, input, hx=None):
        input, hx, batched = self._prepare(input, hx, "GRUCell")
        gi, gh = self._gates(input, hx)
        ir, iz, in_ = gi.chunk(3, 1)
        hr, hz, hn = gh.chunk(3, 1)
        r = ember.sigmoid(ir + hr)
        z = ember.sigmoid(iz + hz)
        n = ember.tanh(in_ + r * hn)
        h = (1 - z) * n + z * hx
        return h if batched else h.squeeze(0)
