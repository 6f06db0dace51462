"""default_collate and default_convert: torch's rules for turning a list of
samples into a batch.

Tensors are stacked, NumPy arrays and scalars become tensors (stacked), Python
floats a float64 tensor, ints an int64 tensor, strings stay a list; dicts,
namedtuples and sequences are collated field by field (a tuple of fields
becomes a list, as in torch). Ember has no 8- or 16-bit integer dtypes: such
arrays become int32 tensors (uint32 int64), values unchanged.

Inside a DataLoader worker, NumPy samples are stacked straight into a shared
memory tensor (``share_memory_()``), so that the batch reaches the main
process through ``ember.multiprocessing`` without another copy, as torch
stacks into shared storage.
"""

import collections.abc
import re

import numpy as np

import ember

np_str_obj_array_pattern = re.compile(r"[SaUO]")

default_collate_err_msg_format = (
    "default_collate: batch must contain tensors, numpy arrays, numbers, "
    "dicts or lists; found {}")

# Widened on the way in: Ember's integer dtypes are int32 and int64.
_WIDEN = {np.dtype(np.uint8): np.int32, np.dtype(np.int8): np.int32,
          np.dtype(np.int16): np.int32, np.dtype(np.uint16): np.int32,
          np.dtype(np.uint32): np.int64}

# True in a DataLoader worker process: batches are built in shared memory.
_in_worker = False

_EMBER_DTYPES = {np.dtype(np.float32): ember.float32, np.dtype(np.float64): ember.float64,
                 np.dtype(np.float16): ember.float16, np.dtype(np.int32): ember.int32,
                 np.dtype(np.int64): ember.int64, np.dtype(np.bool_): ember.bool}


def _ember_dtype_array(array):
    widened = _WIDEN.get(array.dtype)
    return array if widened is None else array.astype(widened)


def _empty(shape, dtype):
    """A new batch tensor and a writable NumPy view of its memory: shared
    memory in a worker, NumPy's own in the main process."""
    if _in_worker:
        tensor = ember.empty(list(shape), dtype=_EMBER_DTYPES[np.dtype(dtype)])
        tensor.share_memory_()
        return tensor, tensor.numpy()
    array = np.empty(shape, dtype)
    return ember.from_numpy(array), array


def _from_host(array):
    """An ember tensor over ``array`` (shared, not copied, when it can be)."""
    array = _ember_dtype_array(np.asarray(array))
    if not array.flags.c_contiguous or not array.flags.writeable:
        array = np.ascontiguousarray(array).copy()
    return ember.from_numpy(array)


def _stack_arrays(arrays):
    first = _ember_dtype_array(np.asarray(arrays[0]))
    tensor, out = _empty((len(arrays),) + first.shape, first.dtype)
    np.stack(arrays, out=out)
    return tensor


def collate_tensor_fn(batch, *, collate_fn_map=None):
    # In a worker the result queue moves the stacked tensor into shared
    # memory (one copy, in place).
    return ember.stack(list(batch), 0)


def collate_numpy_array_fn(batch, *, collate_fn_map=None):
    elem = batch[0]
    if np_str_obj_array_pattern.search(elem.dtype.str) is not None:
        raise TypeError(default_collate_err_msg_format.format(elem.dtype))
    return _stack_arrays(batch)


def collate_numpy_scalar_fn(batch, *, collate_fn_map=None):
    return _from_host(np.array(batch))


def collate_float_fn(batch, *, collate_fn_map=None):
    return ember.tensor(list(batch), dtype=ember.float64)


def collate_int_fn(batch, *, collate_fn_map=None):
    return ember.tensor(list(batch))


def collate_str_fn(batch, *, collate_fn_map=None):
    return batch


default_collate_fn_map = {
    ember.Tensor: collate_tensor_fn,
    np.ndarray: collate_numpy_array_fn,
    np.memmap: collate_numpy_array_fn,
    np.bool_: collate_numpy_scalar_fn,
    np.number: collate_numpy_scalar_fn,
    float: collate_float_fn,
    int: collate_int_fn,
    str: collate_str_fn,
    bytes: collate_str_fn,
}


def collate(batch, *, collate_fn_map=None):
    """Collates ``batch`` with ``collate_fn_map`` (type -> function) for the
    leaves and torch's rules for containers."""
    elem = batch[0]
    elem_type = type(elem)
    if collate_fn_map is not None:
        if elem_type in collate_fn_map:
            return collate_fn_map[elem_type](batch, collate_fn_map=collate_fn_map)
        for collate_type in collate_fn_map:
            if isinstance(elem, collate_type):
                return collate_fn_map[collate_type](batch, collate_fn_map=collate_fn_map)
    if isinstance(elem, collections.abc.Mapping):
        try:
            return elem_type({key: collate([d[key] for d in batch],
                                           collate_fn_map=collate_fn_map) for key in elem})
        except TypeError:
            return {key: collate([d[key] for d in batch], collate_fn_map=collate_fn_map)
                    for key in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return elem_type(*(collate(samples, collate_fn_map=collate_fn_map)
                           for samples in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        it = iter(batch)
        elem_size = len(next(it))
        if not all(len(e) == elem_size for e in it):
            raise RuntimeError("each element in list of batch should be of equal size")
        transposed = list(zip(*batch))
        if isinstance(elem, tuple):
            return [collate(samples, collate_fn_map=collate_fn_map) for samples in transposed]
        try:
            return elem_type([collate(samples, collate_fn_map=collate_fn_map)
                              for samples in transposed])
        except TypeError:
            return [collate(samples, collate_fn_map=collate_fn_map) for samples in transposed]
    raise TypeError(default_collate_err_msg_format.format(elem_type))


def default_collate(batch):
    """Stacks a list of samples into a batch by torch's rules (module doc)."""
    return collate(batch, collate_fn_map=default_collate_fn_map)


def default_convert(data):
    """Turns NumPy arrays and scalars (also inside dicts, namedtuples and
    sequences) into tensors and leaves everything else: the DataLoader's
    collate_fn when automatic batching is off."""
    elem_type = type(data)
    if isinstance(data, ember.Tensor):
        return data
    if elem_type.__module__ == "numpy" and elem_type.__name__ not in ("str_", "string_"):
        if elem_type.__name__ == "ndarray" and \
                np_str_obj_array_pattern.search(data.dtype.str) is not None:
            return data
        return _from_host(data)
    if isinstance(data, collections.abc.Mapping):
        try:
            return elem_type({key: default_convert(data[key]) for key in data})
        except TypeError:
            return {key: default_convert(data[key]) for key in data}
    if isinstance(data, tuple) and hasattr(data, "_fields"):  # namedtuple
        return elem_type(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        try:
            return elem_type([default_convert(d) for d in data])
        except TypeError:
            return [default_convert(d) for d in data]
    return data
