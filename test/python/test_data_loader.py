"""ember.utils.data against torch.utils.data (PyTorch 1.13): samplers give
torch's indices for the same seeds, collation gives torch's batches, the
DataLoader's batches (0, 1 and 2 workers) match torch's; workers that raise
or die, timeouts, Ctrl-C and garbage collection end cleanly; batches from
workers arrive in shared memory."""

import collections
import gc
import os
import signal
import threading
import warnings

import numpy as np
import pytest
import torch
import torch.utils.data as tdata

import ember
import ember.utils.data as edata

Point = collections.namedtuple("Point", ["x", "y"])


def host(value):
    """A batch as plain Python/NumPy, tensors as (dtype name, array)."""
    if isinstance(value, (ember.Tensor, torch.Tensor)):
        return ("tensor", str(value.dtype).split(".")[-1], value.numpy().tolist())
    if isinstance(value, dict):
        return {k: host(v) for k, v in value.items()}
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return (type(value).__name__,) + tuple(host(v) for v in value)
    if isinstance(value, (list, tuple)):
        return type(value)(host(v) for v in value)
    return value


def same_batches(ember_loader, torch_loader):
    return [host(b) for b in ember_loader] == [host(b) for b in torch_loader]


class Squares:
    """A map-style dataset usable by both libraries (no base class needed)."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return {"x": np.full((2, 3), i, np.float32), "i": i, "name": f"s{i}"}


# ---------------------------------------------------------------- samplers

@pytest.mark.parametrize("seed", [0, 5, 2 ** 40 + 3])
def test_random_sampler_matches_torch(seed):
    data = range(37)
    for kwargs in [{}, {"num_samples": 80}, {"num_samples": 5},
                   {"replacement": True}, {"replacement": True, "num_samples": 75}]:
        ours = edata.RandomSampler(data, generator=ember.Generator().manual_seed(seed),
                                   **kwargs)
        theirs = tdata.RandomSampler(data, generator=torch.Generator().manual_seed(seed),
                                     **kwargs)
        assert list(ours) == list(theirs) and len(ours) == len(theirs), kwargs
        assert list(ours) == list(theirs), "second pass continues the stream"
    # Without a generator both seed a fresh one from the seeded default.
    ember.manual_seed(seed)
    torch.manual_seed(seed)
    assert list(edata.RandomSampler(data)) == list(tdata.RandomSampler(data))


def test_generator_ops_match_torch():
    """ember.randperm/randint with a generator: torch's numbers."""
    g, tg = ember.Generator().manual_seed(13), torch.Generator().manual_seed(13)
    assert ember.randperm(50, generator=g).tolist() == torch.randperm(50, generator=tg).tolist()
    assert ember.randint(3, 90, (4, 5), generator=g).tolist() == \
        torch.randint(3, 90, (4, 5), generator=tg).tolist()
    assert ember.utils.data.DataLoader is edata.DataLoader  # import ember as torch


def test_subset_and_weighted_samplers_match_torch():
    indices = [3, 9, 4, 40, 12, 7]
    ours = edata.SubsetRandomSampler(indices, generator=ember.Generator().manual_seed(4))
    theirs = tdata.SubsetRandomSampler(indices, generator=torch.Generator().manual_seed(4))
    assert list(ours) == list(theirs) and len(ours) == 6
    weights = [0.1, 0.9, 0.4, 0.7, 3.0, 0.6, 0.0, 2.0]
    for num_samples, replacement in [(20, True), (1, True), (5, False), (1, False)]:
        ours = edata.WeightedRandomSampler(weights, num_samples, replacement,
                                           generator=ember.Generator().manual_seed(11))
        theirs = tdata.WeightedRandomSampler(weights, num_samples, replacement,
                                             generator=torch.Generator().manual_seed(11))
        assert list(ours) == list(theirs) and len(ours) == num_samples
    with pytest.raises(ValueError, match="num_samples should be a positive integer"):
        edata.WeightedRandomSampler(weights, 0)


def test_sequential_and_batch_samplers_match_torch():
    assert list(edata.SequentialSampler(range(5))) == [0, 1, 2, 3, 4]
    for drop_last in (False, True):
        ours = edata.BatchSampler(edata.SequentialSampler(range(10)), 3, drop_last)
        theirs = tdata.BatchSampler(tdata.SequentialSampler(range(10)), 3, drop_last)
        assert list(ours) == list(theirs) and len(ours) == len(theirs)
    with pytest.raises(ValueError, match="batch_size should be a positive integer"):
        edata.BatchSampler(range(3), 0, False)


@pytest.mark.parametrize("shuffle,drop_last", [(True, False), (True, True), (False, False)])
def test_distributed_sampler_matches_torch(shuffle, drop_last):
    data = range(23)
    for rank in range(3):
        ours = edata.DistributedSampler(data, 3, rank, shuffle=shuffle, seed=9,
                                        drop_last=drop_last)
        theirs = tdata.DistributedSampler(data, 3, rank, shuffle=shuffle, seed=9,
                                          drop_last=drop_last)
        for epoch in (0, 4):
            ours.set_epoch(epoch)
            theirs.set_epoch(epoch)
            assert list(ours) == list(theirs) and len(ours) == len(theirs)
    with pytest.raises(ValueError, match="Invalid rank 3"):
        edata.DistributedSampler(data, 3, 3)


def test_distributed_sampler_needs_its_world_without_a_process_group():
    with pytest.raises(RuntimeError, match="num_replicas"):
        edata.DistributedSampler(range(4))


def test_random_split_matches_torch():
    for lengths in ([3, 7], [0.3, 0.3, 0.4], [0.5, 0.5]):
        ours = edata.random_split(range(10), lengths, ember.Generator().manual_seed(42))
        theirs = tdata.random_split(range(10), lengths, torch.Generator().manual_seed(42))
        assert [list(s) for s in ours] == [list(s) for s in theirs]
    with pytest.raises(ValueError, match="Sum of input lengths"):
        edata.random_split(range(10), [3, 3])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        edata.random_split(range(3), [0.0, 1.0])
    assert any("Length of split at index 0 is 0" in str(w.message) for w in caught)


# ---------------------------------------------------------------- datasets

def test_datasets_compose_like_torch():
    x = np.arange(12, dtype=np.float32).reshape(6, 2)
    ours = edata.TensorDataset(ember.tensor(x), ember.arange(6))
    theirs = tdata.TensorDataset(torch.tensor(x), torch.arange(6))
    assert len(ours) == 6 and host(ours[4]) == host(theirs[4])
    with pytest.raises(AssertionError, match="Size mismatch"):
        edata.TensorDataset(ember.zeros(3), ember.zeros(4))
    concat = edata.ConcatDataset([range(3), range(10, 14)])
    assert len(concat) == 7 and [concat[i] for i in range(7)] == list(tdata.ConcatDataset(
        [range(3), range(10, 14)])) and concat[-1] == 13
    assert list(edata.Subset(range(10, 20), [4, 1])) == [14, 11]

    class Stream(edata.IterableDataset):
        def __init__(self, values):
            self.values = values

        def __iter__(self):
            return iter(self.values)

        def __len__(self):
            return len(self.values)

    chain = Stream([1, 2]) + Stream([3])
    assert isinstance(chain, edata.ChainDataset) and list(chain) == [1, 2, 3] and len(chain) == 3
    assert isinstance(edata.Subset(range(2), [0]) + range(3), edata.ConcatDataset)
    # StackDataset (torch 2.x; not in 1.13): samples side by side.
    stacked = edata.StackDataset(range(3), "abc")
    assert stacked[1] == (1, "b") and len(stacked) == 3
    assert edata.StackDataset(n=range(3), s="abc")[2] == {"n": 2, "s": "c"}
    with pytest.raises(ValueError, match="Size mismatch"):
        edata.StackDataset(range(3), "ab")


# ---------------------------------------------------------------- collation

COLLATE_CASES = {
    "float32 arrays": [np.full((2, 3), i, np.float32) for i in range(3)],
    "float64 arrays": [np.arange(4.0) * i for i in range(2)],
    "int64 0-d arrays": [np.array(i) for i in range(3)],
    "numpy scalars": [np.float64(1.5), np.float64(2.5)],
    "numpy int32 scalars": [np.int32(7), np.int32(-1)],
    "floats": [1.0, 2.5, -3.0],
    "ints": [1, 2, 3],
    "bools": [True, False],
    "strings": ["a", "bc"],
    "dicts": [{"a": 1, "b": np.ones(2, np.float32), "c": "x"},
              {"a": 2, "b": np.zeros(2, np.float32), "c": "y"}],
    "namedtuples": [Point(1, 2.0), Point(3, 4.0)],
    "tuples": [(1, "a", np.float32(2)), (2, "b", np.float32(3))],
    "lists": [[1, [2.0, 3.0]], [4, [5.0, 6.0]]],
}


@pytest.mark.parametrize("case", sorted(COLLATE_CASES))
def test_default_collate_matches_torch(case):
    batch = COLLATE_CASES[case]
    assert host(edata.default_collate(batch)) == host(tdata.default_collate(batch))


def test_default_collate_of_tensors_stacks():
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    ours = edata.default_collate([ember.tensor(r) for r in x])
    theirs = tdata.default_collate([torch.tensor(r) for r in x])
    assert host(ours) == host(theirs)
    # Ember has no uint8: images collate to int32 with the same values.
    images = [np.arange(6, dtype=np.uint8).reshape(2, 3) + i for i in range(2)]
    out = edata.default_collate(images)
    assert out.dtype == ember.int32 and out.tolist() == tdata.default_collate(images).tolist()
    with pytest.raises(TypeError, match="default_collate: batch must contain"):
        edata.default_collate([object()])
    with pytest.raises(RuntimeError, match="equal size"):
        edata.default_collate([[1, 2], [3]])


@pytest.mark.parametrize("case", ["float32 arrays", "dicts", "namedtuples", "tuples",
                                  "strings", "ints"])
def test_default_convert_matches_torch(case):
    sample = COLLATE_CASES[case][0]
    assert host(edata.default_convert(sample)) == host(tdata.default_convert(sample))


# ---------------------------------------------------------------- DataLoader

LOADER_CASES = [
    dict(batch_size=4),
    dict(batch_size=4, drop_last=True),
    dict(batch_size=3, shuffle=True),
    dict(batch_size=None),
    dict(batch_size=2, collate_fn=lambda batch: [s["i"] * 10 for s in batch]),
]


@pytest.mark.parametrize("kwargs", LOADER_CASES)
def test_loader_matches_torch_in_process(kwargs):
    extra = {}
    if kwargs.get("shuffle"):
        extra = dict(ember=ember.Generator().manual_seed(3),
                     torch=torch.Generator().manual_seed(3))
    ours = edata.DataLoader(Squares(10), generator=extra.get("ember"), **kwargs)
    theirs = tdata.DataLoader(Squares(10), generator=extra.get("torch"), **kwargs)
    assert len(ours) == len(theirs)
    assert same_batches(ours, theirs)
    assert same_batches(ours, theirs), "a second epoch"


def test_loader_samplers_and_global_seed_match_torch():
    sampler = edata.BatchSampler(edata.SequentialSampler(range(7)), 3, False)
    theirs = tdata.BatchSampler(tdata.SequentialSampler(range(7)), 3, False)
    assert same_batches(edata.DataLoader(Squares(7), batch_sampler=sampler),
                        tdata.DataLoader(Squares(7), batch_sampler=theirs))
    ember.manual_seed(21)
    torch.manual_seed(21)
    assert same_batches(edata.DataLoader(Squares(9), batch_size=4, shuffle=True),
                        tdata.DataLoader(Squares(9), batch_size=4, shuffle=True))
    weights = [1.0, 0.0, 2.0, 5.0]
    ours = edata.DataLoader(Squares(4), batch_size=2, sampler=edata.WeightedRandomSampler(
        weights, 6, generator=ember.Generator().manual_seed(1)))
    theirs = tdata.DataLoader(Squares(4), batch_size=2, sampler=tdata.WeightedRandomSampler(
        weights, 6, generator=torch.Generator().manual_seed(1)))
    assert same_batches(ours, theirs)


def test_loader_rejects_what_torch_rejects():
    sampler = edata.SequentialSampler(range(3))
    with pytest.raises(ValueError, match="mutually exclusive with shuffle"):
        edata.DataLoader(range(3), sampler=sampler, shuffle=True)
    with pytest.raises(ValueError, match="batch_sampler option is mutually exclusive"):
        edata.DataLoader(range(3), batch_sampler=[[0]], batch_size=2)
    with pytest.raises(ValueError, match="mutually exclusive with drop_last"):
        edata.DataLoader(range(3), batch_size=None, drop_last=True)
    with pytest.raises(ValueError, match="num_workers option should be non-negative"):
        edata.DataLoader(range(3), num_workers=-1)
    with pytest.raises(ValueError, match="persistent_workers option needs num_workers > 0"):
        edata.DataLoader(range(3), persistent_workers=True)
    with pytest.raises(ValueError, match="prefetch_factor option could only be specified"):
        edata.DataLoader(range(3), prefetch_factor=4)
    loader = edata.DataLoader(range(3), pin_memory=True)
    with pytest.raises(ValueError, match="batch_size attribute should not be set"):
        loader.batch_size = 2


class StreamBody:
    """0..n-1, split between workers as torch's docs show."""

    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = edata.get_worker_info() or tdata.get_worker_info()
        if info is None:
            return iter(range(self.n))
        return iter(range(info.id, self.n, info.num_workers))

    def __len__(self):
        return self.n


class Stream(StreamBody, edata.IterableDataset):
    pass


class TorchStream(StreamBody, tdata.IterableDataset):
    pass


@pytest.mark.parametrize("num_workers", [0, 2])
def test_iterable_dataset_matches_torch(num_workers):
    for batch_size, drop_last in [(3, False), (3, True), (None, False)]:
        ours = edata.DataLoader(Stream(11), batch_size=batch_size, drop_last=drop_last,
                                num_workers=num_workers)
        theirs = tdata.DataLoader(TorchStream(11), batch_size=batch_size, drop_last=drop_last,
                                  num_workers=num_workers)
        assert same_batches(ours, theirs)
        assert len(ours) == len(theirs)
    with pytest.raises(ValueError, match="expected unspecified shuffle option"):
        edata.DataLoader(Stream(3), shuffle=True)


# ---------------------------------------------------------------- workers

def _seed_record(worker_id):
    info = edata.get_worker_info() or tdata.get_worker_info()
    assert info.id == worker_id
    os.environ["DATA_TEST_SEED"] = str(info.seed)


class SeedEcho(Squares):
    """Each sample carries its worker's id, seed and first NumPy draw."""

    def __getitem__(self, i):
        info = edata.get_worker_info() or tdata.get_worker_info()
        return {"i": i, "worker": info.id, "seed": int(os.environ["DATA_TEST_SEED"]),
                "numpy": float(np.random.random())}


@pytest.mark.parametrize("num_workers", [1, 2])
def test_workers_match_torch(num_workers):
    ours = edata.DataLoader(Squares(13), batch_size=3, shuffle=True, num_workers=num_workers,
                            generator=ember.Generator().manual_seed(8))
    theirs = tdata.DataLoader(Squares(13), batch_size=3, shuffle=True, num_workers=num_workers,
                              generator=torch.Generator().manual_seed(8))
    assert same_batches(ours, theirs)
    # Worker seeds (base seed + id, drawn from the generator) and NumPy's
    # seeding are torch's too.
    ours = edata.DataLoader(SeedEcho(4), batch_size=2, num_workers=num_workers,
                            worker_init_fn=_seed_record,
                            generator=ember.Generator().manual_seed(8))
    theirs = tdata.DataLoader(SeedEcho(4), batch_size=2, num_workers=num_workers,
                              worker_init_fn=_seed_record,
                              generator=torch.Generator().manual_seed(8))
    assert same_batches(ours, theirs)
    assert edata.get_worker_info() is None


def test_persistent_workers_and_prefetch():
    loader = edata.DataLoader(Squares(10), batch_size=4, num_workers=2, prefetch_factor=1,
                              persistent_workers=True)
    first = [host(b) for b in loader]
    iterator = loader._iterator
    pids = [w.pid for w in iterator._workers]
    assert [host(b) for b in loader] == first and loader._iterator is iterator
    assert [w.pid for w in loader._iterator._workers] == pids
    assert first == [host(b) for b in tdata.DataLoader(Squares(10), batch_size=4)]
    iterator._shutdown_workers()


def _mapping_of(address):
    """The line of /proc/self/maps whose range holds ``address``."""
    with open("/proc/self/maps") as maps:
        for line in maps:
            low, high = (int(v, 16) for v in line.split()[0].split("-"))
            if low <= address < high:
                return line
    return ""


def test_worker_batches_arrive_in_shared_memory():
    loader = edata.DataLoader(Squares(8), batch_size=4, num_workers=1)
    batch = next(iter(loader))
    gc.collect()
    # The batch's values are the worker's pages: a memfd mapping, not a copy
    # in this process's heap (ember.multiprocessing's transport).
    assert batch["x"].is_shared() and batch["i"].is_shared()
    assert "/memfd:" in _mapping_of(batch["x"].data_ptr())
    assert batch["x"][3].tolist() == [[3.0] * 3] * 2
    assert batch["i"].tolist() == [0, 1, 2, 3] and batch["name"] == ["s0", "s1", "s2", "s3"]


class Faulty(Squares):
    def __getitem__(self, i):
        if i == 5:
            raise KeyError(f"no sample {i}")
        if i == 6:
            raise ValueError("bad sample")
        return super().__getitem__(i)


def test_worker_exception_names_worker_and_traceback():
    loader = edata.DataLoader(Faulty(8), batch_size=2, num_workers=2)
    batches = []
    with pytest.raises(KeyError) as caught:
        for batch in loader:
            batches.append(batch)
    message = str(caught.value)
    assert len(batches) == 2
    assert "Caught KeyError in DataLoader worker process 0" in message
    assert "Traceback" in message and "no sample 5" in message and \
        "in __getitem__" in message
    loader = edata.DataLoader(Faulty(8), batch_size=None, sampler=[6], num_workers=1)
    with pytest.raises(ValueError, match="Caught ValueError in DataLoader worker process 0"):
        list(loader)


class Killer(Squares):
    def __getitem__(self, i):
        if i == 3 and edata.get_worker_info() is not None:
            os.kill(os.getpid(), signal.SIGKILL)
        return super().__getitem__(i)


def test_killed_worker_raises_not_hangs():
    loader = edata.DataLoader(Killer(8), batch_size=2, num_workers=1)
    with pytest.raises(RuntimeError, match=r"DataLoader worker \(pid \d+ killed by signal "
                                           r"SIGKILL\) exited unexpectedly"):
        list(loader)


class Slow(Squares):
    def __getitem__(self, i):
        if edata.get_worker_info() is not None:
            threading.Event().wait(1.5)
        return super().__getitem__(i)


def test_timeout_interrupt_and_garbage_collection_stop_workers():
    with pytest.raises(RuntimeError, match="DataLoader timed out after 0.3 seconds"):
        next(iter(edata.DataLoader(Slow(2), num_workers=1, timeout=0.3)))
    iterator = iter(edata.DataLoader(Slow(4), num_workers=2))
    workers = list(iterator._workers)
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        next(iterator)
    timer.join()
    del iterator
    gc.collect()
    for worker in workers:
        worker.join(timeout=5)
        assert not worker.is_alive()


def test_tqdm_style_wrapping():
    loader = edata.DataLoader(Squares(10), batch_size=4, num_workers=0)

    def progress(iterable):  # what tqdm needs: len() and iteration
        total = len(iterable)
        for count, item in enumerate(iterable, 1):
            assert count <= total
            yield item

    assert len(list(progress(loader))) == 3


def test_spawned_workers_match_fork():
    """Workers started by spawn (the dataset pickled, ember imported anew)."""
    ours = edata.DataLoader(Squares(6), batch_size=4, num_workers=1,
                            multiprocessing_context="spawn")
    assert same_batches(ours, tdata.DataLoader(Squares(6), batch_size=4))
