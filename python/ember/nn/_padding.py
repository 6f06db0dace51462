"""``F.pad`` in all of torch's modes: constant, reflect, replicate and
circular, with torch 1.13's rules for which ranks and lengths each accepts.

A constant pad concatenates blocks of the value (a negative amount
narrows); the other modes gather each padded dim through an index table
built on the host once per (length, amounts, mode), so the lazy program is
never cut for its bounds check; their gradient is the gather's adjoint, a
scatter-add that folds the reflected, replicated or wrapped positions back
onto their sources."""

import numpy as np

from ember.nn import _spatial

_MODES = ("constant", "reflect", "replicate", "circular")


def _positions(n, before, after, mode):
    """The source index of every position of one padded dim."""
    positions = np.arange(-before, n + after, dtype=np.int64)
    if mode == "reflect":
        period = 2 * (n - 1)
        if period == 0:
            return np.zeros_like(positions)
        folded = np.mod(positions, period)
        return np.where(folded >= n, period - folded, folded)
    if mode == "replicate":
        return np.clip(positions, 0, n - 1)
    # circular: a negative amount crops first, the rest wraps around what
    # is left (torch's order).
    start = max(-before, 0)
    kept = n - start - max(-after, 0)
    wrapped = np.arange(-max(before, 0), kept + max(after, 0), dtype=np.int64)
    return start + np.mod(wrapped, kept)


def _check_non_constant(input, pad, mode, value):
    if value is not None and value != 0:
        raise RuntimeError(f'Padding mode "{mode}" doesn\'t take in value argument')
    pairs, dims = len(pad) // 2, input.dim()
    if pairs not in (1, 2, 3) or dims not in (pairs + 1, pairs + 2):
        raise NotImplementedError(
            "Only 2D, 3D, 4D, 5D padding with non-constant padding are supported for now")
    if mode == "circular" and len(pad) != 2 * (dims - 2):
        # torch 1.13's circular pad needs the batch dim.
        raise RuntimeError(f"Invalid padding size, expected {2 * (dims - 2)} but got "
                           f"{len(pad)}")
    for i in range(pairs):
        dim = dims - 1 - i
        n = input.shape[dim]
        before, after = pad[2 * i], pad[2 * i + 1]
        if mode == "reflect" and (before >= n or after >= n):
            raise RuntimeError(f"Argument #4: Padding size should be less than the "
                               f"corresponding input dimension, but got: padding ({before}, "
                               f"{after}) at dimension {dim} of input {list(input.shape)}")
        if mode == "circular" and (before > n or after > n):
            raise RuntimeError("Padding value causes wrapping around more than once.")
        if mode == "replicate" and n == 0:
            raise RuntimeError(f"input tensor must have a non-empty dimension {dim} to "
                               f"replicate, got {list(input.shape)}")
        if n + before + after <= 0:
            raise RuntimeError(f"input (shape {list(input.shape)}) is too small for padding "
                               f"({before}, {after}) at dimension {dim}")


def pad(input, pad, mode="constant", value=None):
    """Pads the last ``len(pad) // 2`` dims: ``pad`` lists (before, after)
    amounts from the last dim back. ``constant`` fills with ``value``
    (default 0) and takes any rank (a negative amount crops); ``reflect``
    mirrors about the edge element (amounts below the dim's size),
    ``replicate`` repeats it, ``circular`` wraps around (at most once);
    these pad the last 1, 2 or 3 dims of a batched or unbatched input, as in
    torch 1.13."""
    pad = [int(p) for p in pad]
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    if mode not in _MODES:
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if mode == "constant":
        if len(pad) // 2 > input.dim():
            raise RuntimeError("Padding length too large")
        return _constant(input, pad, 0 if value is None else value)
    _check_non_constant(input, pad, mode, value)
    x = input
    for i in range(len(pad) // 2):
        dim = x.dim() - 1 - i
        before, after = pad[2 * i], pad[2 * i + 1]
        if not before and not after:
            continue
        n = x.shape[dim]
        index = _spatial.table(("pad", mode, n, before, after),
                               lambda: _positions(n, before, after, mode), x)
        x = x.index_select(dim, index)
    return x


def _constant(x, pad, value):
    pads = [(0, 0)] * (len(pad) // 2)
    for i in range(len(pad) // 2):
        dim = x.dim() - 1 - i
        before, after = pad[2 * i], pad[2 * i + 1]
        if before < 0 or after < 0:
            start = max(-before, 0)
            length = x.shape[dim] - start - max(-after, 0)
            if length < 0:
                raise RuntimeError(f"The input size {x.shape[dim]}, plus negative padding "
                                   f"{before} and {after} resulted in a negative output size, "
                                   f"which is invalid. Check dimension {dim} of your input.")
            x = x.narrow(dim, start, length)
        pads[len(pads) - 1 - i] = (max(before, 0), max(after, 0))
    return _spatial.constant_pad(x, pads, value)


_spatial.surface(globals(), __name__)
