"""The DataLoader's worker processes: the loop each runs, its seeding, and
``get_worker_info``."""

import importlib
import os
import queue
import random
import signal
import sys
import traceback

import ember
from ember.utils.data import _collate

# How often a waiting worker checks that the main process still lives.
_STATUS_CHECK_INTERVAL = 2.0


class WorkerInfo:
    """What ``get_worker_info()`` returns inside a worker: ``id``,
    ``num_workers``, ``seed`` and this worker's copy of ``dataset``."""

    __initialized = False

    def __init__(self, **kwargs):
        for key, value in kwargs.items():
            setattr(self, key, value)
        self.__keys = tuple(kwargs.keys())
        self.__initialized = True

    def __setattr__(self, key, value):
        if self.__initialized:
            raise RuntimeError(f"Cannot assign attributes to {self.__class__.__name__} objects")
        return super().__setattr__(key, value)

    def __repr__(self):
        items = [f"{k}={getattr(self, k)}" for k in self.__keys]
        return "{}({})".format(self.__class__.__name__, ", ".join(items))


_worker_info = None


def get_worker_info():
    """This worker's WorkerInfo in a DataLoader worker, None in the main
    process."""
    return _worker_info


class KeyErrorMessage(str):
    """KeyError prints its argument's repr; this one prints as the text."""

    def __repr__(self):
        return self


class ExceptionWrapper:
    """An exception raised in a worker, with its traceback as text."""

    def __init__(self, exc_info, where):
        self.exc_type = exc_info[0]
        self.exc_msg = "".join(traceback.format_exception(*exc_info))
        self.where = where

    def reraise(self):
        message = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.exc_msg}"
        if self.exc_type is KeyError:
            message = KeyErrorMessage(message)
        try:
            exception = self.exc_type(message)
        except Exception:
            raise RuntimeError(message) from None
        raise exception


class IterableDatasetStopIteration:
    """A worker's IterableDataset is exhausted."""

    def __init__(self, worker_id):
        self.worker_id = worker_id


class ResumeIteration:
    """A persistent worker's cue that a new epoch starts."""


def generate_numpy_state(base_seed, worker_id):
    """torch's _generate_state: NumPy's seed for a worker, a SeedSequence
    hash of (worker_id, base_seed)."""
    init_a, mult_a, init_b, mult_b = 0x43b0d7e5, 0x931e8875, 0x8b51f9dd, 0x58f38ded
    mix_mult_l, mix_mult_r, xshift, mask32 = 0xca01f9dd, 0x4973f715, 16, 0xFFFFFFFF
    entropy = [worker_id, base_seed & mask32, base_seed >> 32, 0]
    pool = [0] * 4
    hash_const_a = init_a

    def hash_value(value):
        nonlocal hash_const_a
        value = (value ^ hash_const_a) & mask32
        hash_const_a = (hash_const_a * mult_a) & mask32
        value = (value * hash_const_a) & mask32
        return (value ^ (value >> xshift)) & mask32

    def mix(x, y):
        result = ((mix_mult_l * x) & mask32) - ((mix_mult_r * y) & mask32)
        result &= mask32
        return (result ^ (result >> xshift)) & mask32

    for i in range(4):
        pool[i] = hash_value(entropy[i])
    for i_src in range(4):
        for i_dst in range(4):
            if i_src != i_dst:
                pool[i_dst] = mix(pool[i_dst], hash_value(pool[i_src]))
    hash_const_b = init_b
    state = []
    for i_dst in range(4):
        value = (pool[i_dst] ^ hash_const_b) & mask32
        hash_const_b = (hash_const_b * mult_b) & mask32
        value = (value * hash_const_b) & mask32
        state.append((value ^ (value >> xshift)) & mask32)
    return state


class MapFetcher:
    def __init__(self, dataset, auto_collation, collate_fn, drop_last):
        self.dataset, self.auto_collation = dataset, auto_collation
        self.collate_fn, self.drop_last = collate_fn, drop_last

    def fetch(self, possibly_batched_index):
        if self.auto_collation:
            getitems = getattr(self.dataset, "__getitems__", None)
            if getitems:
                data = getitems(possibly_batched_index)
            else:
                data = [self.dataset[idx] for idx in possibly_batched_index]
        else:
            data = self.dataset[possibly_batched_index]
        return self.collate_fn(data)


class IterableFetcher:
    def __init__(self, dataset, auto_collation, collate_fn, drop_last):
        self.dataset_iter = iter(dataset)
        self.auto_collation = auto_collation
        self.collate_fn, self.drop_last = collate_fn, drop_last
        self.ended = False

    def fetch(self, possibly_batched_index):
        if self.ended:
            raise StopIteration
        if self.auto_collation:
            data = []
            for _ in possibly_batched_index:
                try:
                    data.append(next(self.dataset_iter))
                except StopIteration:
                    self.ended = True
                    break
            if not data or (self.drop_last and len(data) < len(possibly_batched_index)):
                raise StopIteration
        else:
            data = next(self.dataset_iter)
        return self.collate_fn(data)


def create_fetcher(is_iterable, dataset, auto_collation, collate_fn, drop_last):
    kind = IterableFetcher if is_iterable else MapFetcher
    return kind(dataset, auto_collation, collate_fn, drop_last)


def seed_process(seed, base_seed, worker_id):
    """Seeds Python's, Ember's and NumPy's generators as torch's workers do."""
    import numpy as np
    random.seed(seed)
    ember.manual_seed(seed)
    np.random.seed(generate_numpy_state(base_seed, worker_id))


def worker_loop(is_iterable, dataset, index_queue, data_queue, done_event, auto_collation,
                collate_fn, drop_last, base_seed, init_fn, worker_id, num_workers,
                persistent_workers):
    """Serves (task index, batch indices) from ``index_queue`` until told to
    stop, putting (task index, batch | ExceptionWrapper) on ``data_queue``."""
    global _worker_info
    # Ctrl-C reaches the whole process group; the main process decides and
    # shuts the workers down.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = os.getppid()
    try:
        ember.set_num_threads(1)
        seed = base_seed + worker_id
        seed_process(seed, base_seed, worker_id)
        _worker_info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed,
                                  dataset=dataset)
        # Tensors put on data_queue travel as shared memory (its import
        # registers the reductions).
        importlib.import_module("ember.multiprocessing")
        _collate._in_worker = True
        init_exception = None
        try:
            if init_fn is not None:
                init_fn(worker_id)
            fetcher = create_fetcher(is_iterable, dataset, auto_collation, collate_fn,
                                     drop_last)
        except Exception:
            init_exception = ExceptionWrapper(
                sys.exc_info(), where=f"in DataLoader worker process {worker_id}")
        iteration_end = False
        while True:
            try:
                task = index_queue.get(timeout=_STATUS_CHECK_INTERVAL)
            except queue.Empty:
                if os.getppid() != parent:
                    break  # the main process is gone
                continue
            if isinstance(task, ResumeIteration):
                data_queue.put((task, None))
                iteration_end = False
                if is_iterable:
                    fetcher = create_fetcher(is_iterable, dataset, auto_collation,
                                             collate_fn, drop_last)
                continue
            if task is None:
                break
            if done_event.is_set() or iteration_end:
                continue
            task_index, indices = task
            if init_exception is not None:
                data, init_exception = init_exception, None
            else:
                try:
                    data = fetcher.fetch(indices)
                except Exception as error:
                    if isinstance(error, StopIteration) and is_iterable:
                        data = IterableDatasetStopIteration(worker_id)
                        iteration_end = True
                    else:
                        data = ExceptionWrapper(
                            sys.exc_info(), where=f"in DataLoader worker process {worker_id}")
            data_queue.put((task_index, data))
            del data, task, indices
    except KeyboardInterrupt:
        pass
    if done_event.is_set():
        data_queue.cancel_join_thread()
        data_queue.close()
