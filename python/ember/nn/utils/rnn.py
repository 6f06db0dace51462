"""``nn.utils.rnn``: PackedSequence and the functions that pack, unpack and
pad batches of sequences of different lengths, as in torch 1.13.

Packing reorders rows (sequences sorted by decreasing length, then time
major: the rows present at step 0, then at step 1, ...); the row order is
computed on the host from the lengths and applied with one gather, so
gradients flow through every function here.
"""

from collections import namedtuple

import numpy as np

import ember


def _index(array, device=None):
    """An int64 index tensor, on `device` (the indexed tensor's) if given."""
    index = ember.from_numpy(np.ascontiguousarray(array, dtype=np.int64))
    return _to_device(index, device)


def _to_device(tensor, device):
    """`tensor` on `device` (None: where it is): the host-computed indices
    and masks follow the data onto a GPU."""
    if tensor is None or device is None or tensor.device == device:
        return tensor
    return tensor.to(device)


def _gather_rows(data, index, fill=0.0):
    """data[index] along dim 0, with `fill` where index is -1. No
    concatenation of a padding row: a concat's program depends on its
    operands' sizes, and these are the batch's total length."""
    index = np.asarray(index, dtype=np.int64)
    valid = index >= 0
    rows = data[_index(np.where(valid, index, 0), data.device)]
    # Also when every row is valid: the same program for every batch.
    keep = _to_device(ember.from_numpy(valid.reshape((-1,) + (1,) * (data.dim() - 1))),
                      data.device)
    return ember.where(keep, rows, fill)


def _lengths_array(lengths):
    if isinstance(lengths, ember.Tensor):
        return np.asarray(lengths.numpy(), dtype=np.int64).reshape(-1)
    return np.asarray(list(lengths), dtype=np.int64).reshape(-1)


def invert_permutation(permutation):
    if permutation is None:
        return None
    order = np.asarray(permutation.numpy(), dtype=np.int64)
    inverse = np.empty_like(order)
    inverse[order] = np.arange(order.size, dtype=np.int64)
    return _index(inverse)


class PackedSequence(namedtuple("PackedSequence",
                                ["data", "batch_sizes", "sorted_indices",
                                 "unsorted_indices"])):
    """Holds the rows of a packed batch (``data``), how many sequences are
    still running at each step (``batch_sizes``, int64) and the sorting
    permutation and its inverse (None when the batch was sorted)."""

    def __new__(cls, data, batch_sizes=None, sorted_indices=None,
                unsorted_indices=None):
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        return super().__new__(cls, data, batch_sizes, sorted_indices,
                               unsorted_indices)

    def _with_data(self, data):
        return type(self)(data, self.batch_sizes, self.sorted_indices,
                          self.unsorted_indices)

    def to(self, *args, **kwargs):
        data = self.data.to(*args, **kwargs)
        return self if data is self.data else self._with_data(data)

    def cpu(self):
        return self.to("cpu")

    def double(self):
        return self.to(dtype=ember.float64)

    def float(self):
        return self.to(dtype=ember.float32)

    @property
    def is_cuda(self):
        return False

    def is_pinned(self):
        return False


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Packs a padded batch [T, B, *] (``batch_first``: [B, T, *]) of
    sequences with the given lengths."""
    lengths = _lengths_array(lengths)
    if enforce_sorted:
        if np.any(lengths[:-1] < lengths[1:]):
            raise RuntimeError(
                "`lengths` array must be sorted in decreasing order when "
                "`enforce_sorted` is True. You can pass `enforce_sorted=False` to "
                "pack_padded_sequence and/or pack_sequence to sidestep this "
                "requirement if you do not need ONNX exportability.")
        sorted_indices = None
        order = np.arange(lengths.size)
    else:
        order = np.argsort(-lengths, kind="stable")
        sorted_indices = _index(order)
    sorted_lengths = lengths[order]
    if sorted_lengths.size and sorted_lengths[-1] <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but "
                           "found an element in 'lengths' that is <= 0")
    if batch_first:
        input = input.transpose(0, 1)
    steps, batch = input.shape[0], input.shape[1]
    if sorted_lengths[0] > steps:
        raise RuntimeError(f"Expected sequence length to be at most {steps}, but "
                           f"got a length of {sorted_lengths[0]}")
    batch_sizes = (np.arange(sorted_lengths[0])[:, None] <
                   sorted_lengths[None, :]).sum(1)
    rows = np.concatenate([t * batch + order[:n] for t, n in enumerate(batch_sizes)])
    flat = input.reshape(steps * batch, *input.shape[2:])
    data = flat[_index(rows, flat.device)]
    return PackedSequence(data, _index(batch_sizes), sorted_indices, None)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0,
                        total_length=None):
    """The inverse of pack_padded_sequence: returns (padded batch, lengths),
    the batch in its original order."""
    data, batch_sizes = sequence.data, sequence.batch_sizes
    sizes = np.asarray(batch_sizes.numpy(), dtype=np.int64)
    steps, batch = len(sizes), int(sizes[0])
    if total_length is not None:
        if total_length < steps:
            raise ValueError("Expected total_length to be at least the length of the "
                             "longest sequence in the input, but got "
                             f"total_length={total_length} and max sequence "
                             f"length being {steps}")
        steps_out = total_length
    else:
        steps_out = steps
    lengths = (np.arange(batch)[None, :] < sizes[:, None]).sum(0)
    # Padded position (t, b) reads packed row offset[t] + b, or a padding row.
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    gather = np.full((steps_out, batch), -1, dtype=np.int64)
    for t in range(steps):
        gather[t, :sizes[t]] = offsets[t] + np.arange(sizes[t])
    order = np.arange(batch)
    if sequence.unsorted_indices is not None:
        order = np.asarray(sequence.unsorted_indices.numpy(), dtype=np.int64)
        gather = gather[:, order]
        lengths = lengths[order]
    rows = _gather_rows(data, gather.reshape(-1), padding_value)
    padded = rows.reshape(steps_out, batch, *data.shape[1:])
    if batch_first:
        padded = padded.transpose(0, 1)
    return padded, _index(lengths)


def pad_sequence(sequences, batch_first=False, padding_value=0.0):
    """Stacks sequences [L_i, *] into [max L, B, *] (``batch_first``:
    [B, max L, *]), padding with ``padding_value``."""
    if isinstance(sequences, ember.Tensor):
        sequences = list(sequences.unbind(0))
    sequences = list(sequences)
    max_len = max(s.shape[0] for s in sequences)
    trailing = tuple(sequences[0].shape[1:])
    # Each sequence written into its window of a filled batch (run-time
    # slice bounds: new lengths run the same program).
    out = ember.full((len(sequences), max_len, *trailing), padding_value,
                     dtype=sequences[0].dtype, device=sequences[0].device)
    for i, s in enumerate(sequences):
        out[i, :s.shape[0]] = s
    return out if batch_first else out.transpose(0, 1)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    return [padded_sequences[i, :int(n)]
            for i, n in enumerate(_lengths_array(lengths))]


def pack_sequence(sequences, enforce_sorted=True):
    """Packs a list of sequences [L_i, *] (pad_sequence, then
    pack_padded_sequence)."""
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths,
                                enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences):
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
