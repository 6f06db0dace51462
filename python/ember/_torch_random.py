"""torch 1.13's CPU sampling algorithms on an ``ember.Generator``.

``ember.Generator`` runs the Mersenne Twister seeded as torch seeds its CPU
generator, so drawing the raw 32-bit words in torch's order and transforming
them with torch's formulas gives torch's numbers for the same seed: the same
``randperm``, ``randint``, multinomial draws and int64 seeds, hence the same
shuffles in ``ember.utils.data``. Each function names the ATen kernel it
follows.
"""

import numpy as np

_MASK32 = 0xFFFFFFFF


def _bits(generator):
    return generator._rng.bit_generator


def random32(generator, count):
    """``count`` of CPUGeneratorImpl::random(): raw 32-bit words (uint64)."""
    return _bits(generator).random_raw(count) if count else np.zeros(0, np.uint64)


def random64(generator, count):
    """``count`` of CPUGeneratorImpl::random64(): two words, the first high."""
    words = random32(generator, 2 * count)
    return (words[0::2] << np.uint64(32)) | words[1::2]


def int64_seed(generator):
    """``torch.empty((), dtype=torch.int64).random_(generator=g).item()``:
    uniform_int over int64's full positive range."""
    return int(random64(generator, 1)[0] % np.uint64(2 ** 63))


def uniform_double(generator, count):
    """uniform_real_distribution<double>(0, 1): 53 bits of random64()."""
    return (random64(generator, count) & np.uint64((1 << 53) - 1)).astype(
        np.float64) * (2.0 ** -53)


def randperm(generator, n):
    """randperm_cpu: Fisher-Yates swapping i with i + random() % (n - i)."""
    perm = list(range(n))
    if n > 1:
        offsets = (random32(generator, n - 1) %
                   np.arange(n, 1, -1, dtype=np.uint64)).tolist()
        for i, offset in enumerate(offsets):
            j = i + offset
            perm[i], perm[j] = perm[j], perm[i]
    return perm


def randint(generator, low, high, count):
    """random_from_to: (random() % range) + low, random64() when the range
    needs more than 32 bits."""
    span = high - low
    if span <= 0:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got "
                           f"from={low} >= to={high}")
    words = random64(generator, count) if span >= 1 << 32 else random32(generator, count)
    return (words % np.uint64(span)).astype(np.int64) + low


def multinomial(generator, weights, num_samples, replacement):
    """torch.multinomial on a 1-D float64 ``weights``: with replacement a
    binary search of the normalized cumulative sum per
    uniform double; otherwise argmax/top-k of p / Exp(1) (its exponentials
    -log1p(-u) from the same uniforms)."""
    weights = np.asarray(weights, dtype=np.float64)
    if replacement:
        cumulative = np.cumsum(weights)
        total = cumulative[-1]
        if total > 0:
            cumulative = cumulative / total
        cumulative[-1] = 1.0
        return np.searchsorted(cumulative, uniform_double(generator, num_samples),
                               side="left").tolist()
    keys = weights / -np.log1p(-uniform_double(generator, weights.shape[0]))
    return np.argsort(-keys, kind="stable")[:num_samples].tolist()
