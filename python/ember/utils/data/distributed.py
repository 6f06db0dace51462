"""DistributedSampler: each of ``num_replicas`` processes takes every
``num_replicas``-th index of one shared (seed + epoch)-seeded permutation."""

import math

import ember
from ember import _torch_random
from ember.utils.data.sampler import Sampler


def _distributed_default(what):
    """The world size or rank from ``ember.distributed`` when Ember has it."""
    try:
        import ember.distributed as dist
    except ImportError:
        dist = None
    if dist is None or not getattr(dist, "is_available", lambda: False)():
        raise RuntimeError(
            f"DistributedSampler: {what} was not given and Ember has no "
            f"distributed package to ask; pass num_replicas= and rank= explicitly")
    if not dist.is_initialized():
        raise RuntimeError(
            f"DistributedSampler: {what} was not given and the default process "
            f"group is not initialized (call ember.distributed.init_process_group "
            f"or pass num_replicas= and rank=)")
    return dist.get_world_size() if what == "num_replicas" else dist.get_rank()


class DistributedSampler(Sampler):
    """Restricts loading to this rank's share of the dataset. The shuffle is
    torch's for the same ``seed + epoch``; call ``set_epoch`` each epoch.
    Without ``drop_last`` the indices wrap around so that every rank gets
    the same count."""

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0,
                 drop_last=False):
        if num_replicas is None:
            num_replicas = _distributed_default("num_replicas")
        if rank is None:
            rank = _distributed_default("rank")
        if rank >= num_replicas or rank < 0:
            raise ValueError("Invalid rank {}, rank should be in the interval"
                             " [0, {}]".format(rank, num_replicas - 1))
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.drop_last = drop_last
        if self.drop_last and len(self.dataset) % self.num_replicas != 0:
            self.num_samples = math.ceil((len(self.dataset) - self.num_replicas) /
                                         self.num_replicas)
        else:
            self.num_samples = math.ceil(len(self.dataset) / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas
        self.shuffle = shuffle
        self.seed = seed

    def __iter__(self):
        if self.shuffle:
            generator = ember.Generator().manual_seed(self.seed + self.epoch)
            indices = _torch_random.randperm(generator, len(self.dataset))
        else:
            indices = list(range(len(self.dataset)))
        if not self.drop_last:
            padding_size = self.total_size - len(indices)
            if padding_size <= len(indices):
                indices += indices[:padding_size]
            else:
                indices += (indices * math.ceil(padding_size / len(indices)))[:padding_size]
        else:
            indices = indices[:self.total_size]
        assert len(indices) == self.total_size
        indices = indices[self.rank:self.total_size:self.num_replicas]
        assert len(indices) == self.num_samples
        return iter(indices)

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch):
        """Seeds the next pass's shuffle with ``seed + epoch``."""
        self.epoch = epoch
