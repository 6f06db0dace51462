"""Helpers shared by the convolutional-net layers written as compositions
(pooling, padding, resizing, fold/unfold, normalization): torch's argument
expansion (``kernel_size=3`` -> ``(3, 3)``) and index or weight tables built
on the host once per shape and kept, so that a training loop passes the same
computed tensors to every step's program (an index table made from pending
ops would have to be computed for the gather's bounds check, which ends the
lazy program in the middle of the forward)."""

import collections

import numpy as np

import ember

# (what the table is, its shape arguments, device, dtype) -> computed tensor.
_TABLES = collections.OrderedDict()
_TABLE_LIMIT = 512


def ntuple(value, n, name):
    """``value`` as an n-tuple of ints: an int repeats, a 1-sequence
    repeats, an n-sequence is taken as is (torch's ``_pair``/``_single``)."""
    if isinstance(value, (list, tuple)):
        if len(value) == 1:
            return (int(value[0]),) * n
        if len(value) != n:
            raise RuntimeError(f"{name} must either be a single int, or a tuple of {n} "
                               f"ints")
        return tuple(int(v) for v in value)
    return (int(value),) * n


def table(key, make, like, dtype=None):
    """The tensor ``make()`` (a NumPy array) returns, on ``like``'s device
    and in ``dtype`` (default: the array's), built once per ``key``."""
    device = like.device
    full_key = (key, str(device), str(dtype))
    tensor = _TABLES.get(full_key)
    if tensor is not None:
        _TABLES.move_to_end(full_key)
        return tensor
    tensor = ember.from_numpy(np.ascontiguousarray(make()))
    if dtype is not None and tensor.dtype != dtype:
        tensor = tensor.to(dtype)
    if device.type != "cpu":
        tensor = tensor.to(device)
    _TABLES[full_key] = tensor
    while len(_TABLES) > _TABLE_LIMIT:
        _TABLES.popitem(last=False)
    return tensor


def constant_pad(x, pads, value):
    """``x`` with ``pads[i] = (before, after)`` elements of ``value`` added
    around its last ``len(pads)`` dims (non-negative amounts), as one
    ``cat`` per padded dim. The blocks of ``value`` are made with size 1 in
    the dims before the padded one and broadcast, so no constant's shape
    depends on the batch size (``ember.export`` with a symbolic batch)."""
    first = x.dim() - len(pads)
    for i, (before, after) in enumerate(pads):
        if not before and not after:
            continue
        dim = first + i
        parts = []
        shape = list(x.shape)
        if before:
            shape[dim] = before
            parts.append(_full(shape, value, x, dim))
        parts.append(x)
        if after:
            shape[dim] = after
            parts.append(_full(shape, value, x, dim))
        x = ember.cat(parts, dim)
    return x


def windows(x, kernel, stride, padding, dilation, out, fill):
    """Yields (kernel offset tuple, strided slice of the padded ``x`` of the
    output's shape), offsets in row-major order."""
    nd = len(kernel)
    sizes = tuple(x.shape[x.dim() - nd:])
    pads = []
    for n, k, s, p, d, o in zip(sizes, kernel, stride, padding, dilation, out):
        needed = (o - 1) * s + d * (k - 1) + 1
        pads.append((p, max(0, needed - n - p)))
    if any(before or after for before, after in pads):
        x = constant_pad(x, pads, fill)
    lead = [slice(None)] * (x.dim() - nd)
    for offsets in np.ndindex(*kernel):
        index = list(lead)
        for k, s, d, o in zip(offsets, stride, dilation, out):
            start = int(k) * d
            index.append(slice(start, start + (o - 1) * s + 1, s))
        yield tuple(int(k) for k in offsets), x[tuple(index)]



def stacked_windows(x, kernel, stride, padding, dilation, out, fill):
    """Every window of the padded ``x`` as a trailing dim: (lead..., *out,
    prod(kernel)), kernel offsets row-major. Windows that tile the input
    (stride = kernel, no padding or dilation) are a reshape and a permute;
    others one gather through an index table. This keeps a large kernel to
    a few operands (a kernel per offset slice would bind one buffer per
    offset, beyond a GPU's limit)."""
    nd = len(kernel)
    lead = x.dim() - nd
    count = int(np.prod(kernel))
    if tuple(stride) == tuple(kernel) and not any(padding) and all(d == 1 for d in dilation):
        for i, (k, o) in enumerate(zip(kernel, out)):
            if x.shape[lead + i] != k * o:
                x = x.narrow(lead + i, 0, k * o)
        split = list(x.shape[:lead])
        for k, o in zip(kernel, out):
            split += [o, k]
        x = x.reshape(split)
        order = list(range(lead)) + [lead + 2 * i for i in range(nd)] + \
            [lead + 2 * i + 1 for i in range(nd)]
        return x.permute(order).reshape(list(x.shape[:lead]) + list(out) + [count])
    sizes = tuple(x.shape[lead:])
    pads = []
    for n, k, s, p, d, o in zip(sizes, kernel, stride, padding, dilation, out):
        needed = (o - 1) * s + d * (k - 1) + 1
        pads.append((p, max(0, needed - n - p)))
    if any(before or after for before, after in pads):
        x = constant_pad(x, pads, fill)
    padded = tuple(x.shape[lead:])

    def make():
        strides = [int(np.prod(padded[i + 1:])) for i in range(nd)]
        starts = np.meshgrid(*[np.arange(o, dtype=np.int64) * s * st
                               for o, s, st in zip(out, stride, strides)], indexing="ij")
        offsets = np.meshgrid(*[np.arange(k, dtype=np.int64) * d * st
                                for k, d, st in zip(kernel, dilation, strides)], indexing="ij")
        start = sum(starts).reshape(-1, 1)
        offset = sum(offsets).reshape(1, -1)
        return (start + offset).reshape(-1)
    index = table(("windows", padded, tuple(kernel), tuple(stride), tuple(dilation),
                   tuple(out)), make, x)
    flat = x.reshape(list(x.shape[:lead]) + [int(np.prod(padded))])
    return flat.index_select(lead, index).reshape(list(x.shape[:lead]) + list(out) + [count])

def _full(shape, value, like, dim):
    full = ember.full([1] * dim + list(shape[dim:]), value, dtype=like.dtype)
    full = full if like.device.type == "cpu" else full.to(like.device)
    return full.expand(shape)


def surface(namespace, module_name):
    """Wraps the public functions of a module so that their errors surface
    at the user's line (the package's frames dropped), as ops bound from
    C++ do."""
    for name, fn in list(namespace.items()):
        if (callable(fn) and not name.startswith("_") and not isinstance(fn, type)
                and getattr(fn, "__module__", None) == module_name):
            namespace[name] = ember._ember._surface(fn, name)
