"""Samplers: the order in which a DataLoader visits a map-style dataset.

Random samplers draw exactly as torch 1.13's do from an ``ember.Generator``
(torch's Mersenne Twister and formulas, ``ember._torch_random``), so the
same seed gives torch's indices. Without a generator a sampler seeds a fresh
one from ``ember.default_generator`` (seeded by ``ember.manual_seed``), as
torch seeds one from its default generator.
"""

import ember
from ember import _torch_random


class Sampler:
    """Base class: ``__iter__`` yields indices (or lists of them); samplers
    that know their length define ``__len__``."""

    def __init__(self, data_source=None):
        pass

    def __iter__(self):
        raise NotImplementedError


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1."""

    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


def _fresh_generator():
    seed = _torch_random.int64_seed(ember.default_generator)
    return ember.Generator().manual_seed(seed)


class RandomSampler(Sampler):
    """A random permutation per pass (``num_samples`` beyond the dataset's
    length takes further permutations), or ``num_samples`` uniform draws with
    ``replacement=True`` (in chunks of 32, as torch draws them)."""

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if not isinstance(self.replacement, bool):
            raise TypeError("replacement should be a boolean value, but got "
                            "replacement={}".format(self.replacement))
        if not isinstance(self.num_samples, int) or self.num_samples <= 0:
            raise ValueError("num_samples should be a positive integer "
                             "value, but got num_samples={}".format(self.num_samples))

    @property
    def num_samples(self):
        if self._num_samples is None:
            return len(self.data_source)
        return self._num_samples

    def __iter__(self):
        n = len(self.data_source)
        generator = self.generator if self.generator is not None else _fresh_generator()
        if self.replacement:
            for _ in range(self.num_samples // 32):
                yield from _torch_random.randint(generator, 0, n, 32).tolist()
            yield from _torch_random.randint(generator, 0, n, self.num_samples % 32).tolist()
        else:
            for _ in range(self.num_samples // n):
                yield from _torch_random.randperm(generator, n)
            yield from _torch_random.randperm(generator, n)[:self.num_samples % n]

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices in a random order, without replacement."""

    def __init__(self, indices, generator=None):
        self.indices = indices
        self.generator = generator

    def __iter__(self):
        generator = self.generator if self.generator is not None else ember.default_generator
        for i in _torch_random.randperm(generator, len(self.indices)):
            yield self.indices[i]

    def __len__(self):
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices drawn in proportion to ``weights`` (which need
    not sum to one), with or without replacement."""

    def __init__(self, weights, num_samples, replacement=True, generator=None):
        import numpy as np
        if not isinstance(num_samples, int) or isinstance(num_samples, bool) or \
                num_samples <= 0:
            raise ValueError("num_samples should be a positive integer "
                             "value, but got num_samples={}".format(num_samples))
        if not isinstance(replacement, bool):
            raise ValueError("replacement should be a boolean value, but got "
                             "replacement={}".format(replacement))
        host = weights.numpy() if isinstance(weights, ember.Tensor) else weights
        host = np.asarray(host, dtype=np.float64)
        if host.ndim != 1:
            raise ValueError("weights should be a 1d sequence but given "
                             "weights have shape {}".format(tuple(host.shape)))
        if not replacement and num_samples > host.shape[0]:
            raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples "
                               "without replacement")
        if (host < 0).any() or not np.isfinite(host).all() or host.sum() <= 0:
            raise RuntimeError("invalid multinomial distribution (weights must be "
                               "finite, non-negative and not all zero)")
        self._weights = host
        self.weights = ember.tensor(host, dtype=ember.float64)
        self.num_samples = num_samples
        self.replacement = replacement
        self.generator = generator

    def __iter__(self):
        generator = self.generator if self.generator is not None else ember.default_generator
        yield from _torch_random.multinomial(generator, self._weights, self.num_samples,
                                             self.replacement)

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler):
    """Groups another sampler's indices into lists of ``batch_size``; the
    last, shorter one is dropped with ``drop_last``."""

    def __init__(self, sampler, batch_size, drop_last):
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or \
                batch_size <= 0:
            raise ValueError("batch_size should be a positive integer value, "
                             "but got batch_size={}".format(batch_size))
        if not isinstance(drop_last, bool):
            raise ValueError("drop_last should be a boolean value, but got "
                             "drop_last={}".format(drop_last))
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self):
        batch = []
        for index in self.sampler:
            batch.append(index)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self):
        if self.drop_last:
            return len(self.sampler) // self.batch_size
        return (len(self.sampler) + self.batch_size - 1) // self.batch_size
