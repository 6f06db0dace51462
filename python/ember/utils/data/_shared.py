"""How batches travel from DataLoader workers: through shared memory.

A worker stacks each batch tensor straight into a file under /dev/shm that it
creates (``SegmentWriter.allocate``; default_collate stacks into it) and
sends only a ``SharedRef`` (name, shape, dtype) through the result queue. The
main process maps the file, unlinks it at once (the pages live until the
last mapping goes) and wraps the mapping as an ember tensor without copying
(``ember.from_numpy`` shares writable, aligned, dense memory). Files whose
batch never arrived (a worker killed, an iterator dropped mid-epoch) are
removed by the iterator's shutdown: every name starts with that iterator's
prefix.
"""

import collections.abc
import glob
import itertools
import mmap
import os

import numpy as np

import ember

_SHM_DIR = "/dev/shm"


class SharedRef:
    """A tensor that waits in shared memory file ``name``."""

    __slots__ = ("name", "shape", "dtype")

    def __init__(self, name, shape, dtype):
        self.name, self.shape, self.dtype = name, shape, dtype

    def __reduce__(self):
        return SharedRef, (self.name, self.shape, self.dtype)


def _map(path, nbytes, create):
    flags = os.O_RDWR | (os.O_CREAT | os.O_EXCL if create else 0)
    fd = os.open(path, flags, 0o600)
    try:
        if create:
            os.ftruncate(fd, max(nbytes, 1))
        return mmap.mmap(fd, max(nbytes, 1))
    finally:
        os.close(fd)


class SegmentWriter:
    """A worker's side: allocates batch arrays in shared memory files and
    turns a collated batch into a picklable structure of SharedRefs."""

    def __init__(self, prefix):
        self.prefix = prefix
        self._counter = itertools.count()
        self._segments = {}  # address -> (name, shape, dtype)

    def allocate(self, shape, dtype):
        name = f"{self.prefix}-{next(self._counter)}"
        count = int(np.prod(shape, dtype=np.int64))
        mapping = _map(os.path.join(_SHM_DIR, name), count * dtype.itemsize, create=True)
        array = np.frombuffer(mapping, dtype=dtype, count=count).reshape(shape)
        self._segments[array.ctypes.data] = (name, tuple(shape), dtype.str)
        return array

    def _ref(self, tensor):
        tensor = tensor.detach()
        if tensor.is_contiguous():
            known = self._segments.get(tensor.data_ptr())
            if known is not None and known[1] == tuple(tensor.shape) and \
                    np.dtype(known[2]) == tensor.numpy().dtype:
                return SharedRef(*known)
        host = np.ascontiguousarray(tensor.numpy())
        out = self.allocate(host.shape, host.dtype)
        out[...] = host
        return SharedRef(*self._segments[out.ctypes.data])

    def pack(self, data):
        try:
            return _map_tensors(data, self._ref)
        finally:
            self._segments.clear()


def _map_tensors(data, fn):
    """``data`` with every ember tensor (in dicts, lists, tuples, namedtuples)
    replaced by ``fn(tensor)``."""
    if isinstance(data, ember.Tensor):
        return fn(data)
    if isinstance(data, SharedRef):
        return fn(data)
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(_map_tensors(d, fn) for d in data))
    if isinstance(data, (list, tuple)):
        items = [_map_tensors(d, fn) for d in data]
        if type(data) in (list, tuple):
            return type(data)(items)
        try:
            return type(data)(items)
        except TypeError:
            return items
    if isinstance(data, collections.abc.Mapping):
        items = {key: _map_tensors(value, fn) for key, value in data.items()}
        if type(data) is dict:
            return items
        try:
            return type(data)(items)
        except TypeError:
            return items
    return data


def _open_ref(ref):
    path = os.path.join(_SHM_DIR, ref.name)
    dtype = np.dtype(ref.dtype)
    count = int(np.prod(ref.shape, dtype=np.int64))
    mapping = _map(path, count * dtype.itemsize, create=False)
    os.unlink(path)
    return ember.from_numpy(np.frombuffer(mapping, dtype=dtype, count=count).reshape(ref.shape))


def unpack(data):
    """The main process's side: SharedRefs back into ember tensors that share
    the workers' pages."""
    return _map_tensors(data, _open_ref)


def remove_segments(prefix):
    """Removes the files of batches that were never received."""
    for path in glob.glob(os.path.join(_SHM_DIR, glob.escape(prefix) + "-*")):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
