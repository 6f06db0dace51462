"""DataLoader: batches from a dataset, in the main process or in worker
processes, with torch.utils.data.DataLoader's arguments and behaviour.

Workers receive (task index, batch indices) on their own index queue and put
(task index, batch) on one result queue; the main process hands batches out
in sampler order, keeping ``prefetch_factor`` tasks per worker in flight.
The queues are ``ember.multiprocessing``'s, so batch tensors come back as
shared memory (a memfd descriptor; the main process maps the worker's pages,
nothing is copied). A worker that raises
re-raises in the main process as the same exception type naming the worker,
with the worker's traceback text; a worker that dies makes the next wait
raise RuntimeError within ~0.5 s; the iterator's shutdown (end of the epoch,
garbage collection, an exception such as KeyboardInterrupt propagating out
of the loop) stops and joins the workers; their shared memory goes with the
last process that maps it.
"""

import itertools
import multiprocessing
import queue
import signal
import time

import ember
from ember import _torch_random
from ember.utils.data import _collate, _worker
from ember.utils.data.dataset import IterableDataset
from ember.utils.data.sampler import (BatchSampler, RandomSampler, Sampler,
                                      SequentialSampler)

default_collate = _collate.default_collate
default_convert = _collate.default_convert
get_worker_info = _worker.get_worker_info

# How long one wait for a batch lasts before the workers' health is checked.
_POLL_INTERVAL = 0.5
# How long a failed receive waits for its worker's death to show.
_DEATH_GRACE = 2.0


class _InfiniteConstantSampler(Sampler):
    """The sampler of an IterableDataset: None forever (workers ignore it)."""

    def __iter__(self):
        while True:
            yield None


class DataLoader:
    """Combines a dataset and a sampler and iterates over batches."""

    __initialized = False

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None,
                 batch_sampler=None, num_workers=0, collate_fn=None, pin_memory=False,
                 drop_last=False, timeout=0, worker_init_fn=None,
                 multiprocessing_context=None, generator=None, *, prefetch_factor=None,
                 persistent_workers=False, pin_memory_device=""):
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; "
                             "use num_workers=0 to disable multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor not in (None, 2):
            raise ValueError("prefetch_factor option could only be specified in "
                             "multiprocessing.let num_workers > 0 to enable multiprocessing.")
        if prefetch_factor is None:
            prefetch_factor = 2
        if prefetch_factor < 0:
            raise ValueError("prefetch_factor option should be non-negative")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context

        if isinstance(dataset, IterableDataset):
            self._dataset_kind = "iterable"
            if shuffle not in (False, None):
                raise ValueError("DataLoader with IterableDataset: expected unspecified "
                                 "shuffle option, but got shuffle={}".format(shuffle))
            if sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified "
                                 "sampler option, but got sampler={}".format(sampler))
            if batch_sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified "
                                 "batch_sampler option, but got batch_sampler={}"
                                 .format(batch_sampler))
        else:
            shuffle = bool(shuffle)
            self._dataset_kind = "map"
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with "
                                 "batch_size, shuffle, sampler, and drop_last")
            batch_size = None
            drop_last = False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching "
                             "and is mutually exclusive with drop_last")
        if sampler is None:
            if self._dataset_kind == "iterable":
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self.persistent_workers = persistent_workers
        self.__initialized = True
        self._IterableDataset_len_called = None
        self._iterator = None

    def __setattr__(self, attr, value):
        if self.__initialized and attr in (
                "batch_size", "batch_sampler", "sampler", "drop_last", "dataset",
                "persistent_workers"):
            raise ValueError(f"{attr} attribute should not be set after "
                             f"{self.__class__.__name__} is initialized")
        super().__setattr__(attr, value)

    @property
    def multiprocessing_context(self):
        return self.__multiprocessing_context

    @multiprocessing_context.setter
    def multiprocessing_context(self, context):
        if context is not None:
            if self.num_workers == 0:
                raise ValueError("multiprocessing_context can only be used with "
                                 "multi-process loading (num_workers > 0), but got "
                                 "num_workers={}".format(self.num_workers))
            if isinstance(context, str):
                valid = multiprocessing.get_all_start_methods()
                if context not in valid:
                    raise ValueError("multiprocessing_context option should specify a "
                                     "valid start method in {!r}, but got "
                                     "multiprocessing_context={!r}".format(valid, context))
                context = multiprocessing.get_context(context)
            elif not isinstance(context, multiprocessing.context.BaseContext):
                raise TypeError("multiprocessing_context option should be a valid context "
                                "object or a string specifying the start method, but got "
                                "multiprocessing_context={}".format(context))
        self.__multiprocessing_context = context

    @property
    def _auto_collation(self):
        return self.batch_sampler is not None

    @property
    def _index_sampler(self):
        return self.batch_sampler if self._auto_collation else self.sampler

    def _get_iterator(self):
        if self.num_workers == 0:
            return _SingleProcessDataLoaderIter(self)
        return _MultiProcessingDataLoaderIter(self)

    def __iter__(self):
        if self.persistent_workers and self.num_workers > 0:
            if self._iterator is None or self._iterator._shutdown:
                # The first epoch, or the workers stopped after an error.
                self._iterator = self._get_iterator()
            else:
                self._iterator._reset(self)
            return self._iterator
        return self._get_iterator()

    def __len__(self):
        if self._dataset_kind == "iterable":
            length = self._IterableDataset_len_called = len(self.dataset)
            if self.batch_size is not None:
                from math import ceil
                length = length // self.batch_size if self.drop_last else \
                    ceil(length / self.batch_size)
            return length
        return len(self._index_sampler)


class _BaseDataLoaderIter:
    def __init__(self, loader):
        self._dataset = loader.dataset
        self._is_iterable = loader._dataset_kind == "iterable"
        self._auto_collation = loader._auto_collation
        self._drop_last = loader.drop_last
        self._index_sampler = loader._index_sampler
        self._num_workers = loader.num_workers
        self._prefetch_factor = loader.prefetch_factor
        self._timeout = loader.timeout
        self._collate_fn = loader.collate_fn
        self._persistent_workers = loader.persistent_workers
        self._sampler_iter = iter(self._index_sampler)
        # As torch: one int64 drawn per iterator (the workers' seeds), before
        # the sampler's first draw.
        generator = loader.generator if loader.generator is not None else \
            ember.default_generator
        self._base_seed = _torch_random.int64_seed(generator)
        self._num_yielded = 0

    def __iter__(self):
        return self

    def _reset(self, loader, first_iter=False):
        self._sampler_iter = iter(self._index_sampler)
        self._num_yielded = 0

    def _next_index(self):
        return next(self._sampler_iter)

    def __next__(self):
        if self._sampler_iter is None:
            self._reset(None)
        data = self._next_data()
        self._num_yielded += 1
        return data

    def __len__(self):
        return len(self._index_sampler)


class _SingleProcessDataLoaderIter(_BaseDataLoaderIter):
    def __init__(self, loader):
        super().__init__(loader)
        self._fetcher = _worker.create_fetcher(self._is_iterable, self._dataset,
                                               self._auto_collation, self._collate_fn,
                                               self._drop_last)

    def _next_data(self):
        index = self._next_index()
        return self._fetcher.fetch(index)


class _MultiProcessingDataLoaderIter(_BaseDataLoaderIter):
    def __init__(self, loader):
        super().__init__(loader)
        assert self._num_workers > 0 and self._prefetch_factor > 0
        import ember.multiprocessing
        context = loader.multiprocessing_context or ember.multiprocessing
        self._worker_init_fn = loader.worker_init_fn
        self._shutdown = False
        self._data_queue = context.Queue()
        self._workers_done_event = context.Event()
        self._index_queues = []
        self._workers = []
        for worker_id in range(self._num_workers):
            index_queue = context.Queue()
            index_queue.cancel_join_thread()
            process = context.Process(
                target=_worker.worker_loop,
                args=(self._is_iterable, self._dataset, index_queue, self._data_queue,
                      self._workers_done_event, self._auto_collation, self._collate_fn,
                      self._drop_last, self._base_seed, self._worker_init_fn, worker_id,
                      self._num_workers, self._persistent_workers),
                daemon=True)
            process.start()
            self._index_queues.append(index_queue)
            self._workers.append(process)
        self._reset(loader, first_iter=True)

    def _reset(self, loader, first_iter=False):
        super()._reset(loader, first_iter)
        self._send_idx = 0
        self._rcvd_idx = 0
        self._task_info = {}  # task index -> (worker,) waiting, (worker, data) arrived
        self._tasks_outstanding = 0
        self._workers_status = [True] * self._num_workers
        self._worker_queue_idx_cycle = itertools.cycle(range(self._num_workers))
        if not first_iter:
            for index_queue in self._index_queues:
                index_queue.put(_worker.ResumeIteration())
            resumed = self._num_workers
            while resumed > 0:
                task_index, _ = self._get_data()
                if isinstance(task_index, _worker.ResumeIteration):
                    resumed -= 1
        for _ in range(self._prefetch_factor * self._num_workers):
            self._try_put_index()

    def _check_workers(self):
        dead = [w for w in self._workers if not w.is_alive() and w.exitcode not in (None, 0)]
        dead += [w for i, w in enumerate(self._workers)
                 if self._workers_status[i] and w.exitcode == 0 and not self._shutdown]
        if dead:
            details = []
            for process in dead:
                code = process.exitcode
                if code is not None and code < 0:
                    details.append(f"pid {process.pid} killed by signal "
                                   f"{signal.Signals(-code).name}")
                else:
                    details.append(f"pid {process.pid} exited with code {code}")
            self._shutdown_workers()
            raise RuntimeError("DataLoader worker ({}) exited unexpectedly".format(
                ", ".join(details)))

    def _get_data(self):
        """The next (task index, data) from any worker, checking the workers'
        health between short waits; honours ``timeout``."""
        waited = 0.0
        while True:
            wait = _POLL_INTERVAL if self._timeout <= 0 else \
                min(_POLL_INTERVAL, self._timeout - waited)
            try:
                return self._data_queue.get(timeout=wait)
            except queue.Empty:
                waited += wait
                self._check_workers()
                if self._timeout > 0 and waited >= self._timeout:
                    raise RuntimeError(
                        f"DataLoader timed out after {self._timeout} seconds")
            except Exception as error:
                # A batch whose sender died cannot be fetched (the sender
                # serves its memory's descriptor): name the worker that died.
                self._raise_if_a_worker_died(error)
                raise

    def _raise_if_a_worker_died(self, error):
        deadline = time.monotonic() + _DEATH_GRACE
        while True:
            try:
                self._check_workers()
            except RuntimeError as died:
                raise died from error
            if time.monotonic() > deadline:
                return
            time.sleep(0.05)

    def _next_data(self):
        while True:
            # Skip tasks of workers whose IterableDataset ended.
            while self._rcvd_idx < self._send_idx:
                info = self._task_info[self._rcvd_idx]
                if len(info) == 2 or self._workers_status[info[0]]:
                    break
                del self._task_info[self._rcvd_idx]
                self._rcvd_idx += 1
            else:
                if not self._persistent_workers:
                    self._shutdown_workers()
                raise StopIteration
            if len(self._task_info[self._rcvd_idx]) == 2:
                data = self._task_info.pop(self._rcvd_idx)[1]
                return self._process_data(data)
            task_index, data = self._get_data()
            self._tasks_outstanding -= 1
            if isinstance(data, _worker.IterableDatasetStopIteration):
                if self._persistent_workers:
                    self._workers_status[data.worker_id] = False
                else:
                    self._mark_worker_as_unavailable(data.worker_id)
                self._try_put_index()
                continue
            if task_index != self._rcvd_idx:
                self._task_info[task_index] += (data,)
            else:
                del self._task_info[task_index]
                return self._process_data(data)

    def _try_put_index(self):
        assert self._tasks_outstanding < self._prefetch_factor * self._num_workers
        try:
            index = self._next_index()
        except StopIteration:
            return
        for _ in range(self._num_workers):
            worker_queue_idx = next(self._worker_queue_idx_cycle)
            if self._workers_status[worker_queue_idx]:
                break
        else:
            return
        self._index_queues[worker_queue_idx].put((self._send_idx, index))
        self._task_info[self._send_idx] = (worker_queue_idx,)
        self._tasks_outstanding += 1
        self._send_idx += 1

    def _process_data(self, data):
        self._rcvd_idx += 1
        self._try_put_index()
        if isinstance(data, _worker.ExceptionWrapper):
            self._shutdown_workers()
            data.reraise()
        return data

    def _mark_worker_as_unavailable(self, worker_id, shutdown=False):
        """Tells a worker whose IterableDataset ended (or all, at shutdown) to
        exit, and waits for it unless shutting down."""
        self._workers_status[worker_id] = False
        self._index_queues[worker_id].put(None)

    def _shutdown_workers(self):
        if self._shutdown:
            return
        self._shutdown = True
        self._workers_done_event.set()
        for worker_id, process in enumerate(self._workers):
            if process.is_alive():
                try:
                    self._index_queues[worker_id].put(None)
                except (OSError, ValueError):
                    pass
        for process in self._workers:
            process.join(timeout=1.0)
            if process.is_alive():
                process.kill()
                process.join()
        for index_queue in self._index_queues:
            index_queue.cancel_join_thread()
            index_queue.close()
        self._data_queue.cancel_join_thread()
        self._data_queue.close()

    def __del__(self):
        try:
            self._shutdown_workers()
        except Exception:
            pass


class _DatasetKind:
    """torch's constants for a dataset's kind."""
    Map = 0
    Iterable = 1
