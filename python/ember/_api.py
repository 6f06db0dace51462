"""The API surface PyTorch users type without thinking: random sampling and
``Generator``, the legacy ``FloatTensor``-style constructors, ``Tensor(...)``,
``Tensor.data``/``.type()``/``__format__``, seeding.

Random ops draw from Ember's global generator (``ember.manual_seed``); with
``generator=g`` they draw from ``g``'s own stream (NumPy's PCG64 seeded by
``g.manual_seed``), so both are reproducible across runs.
"""

import builtins
import math

import numpy as np

from ember import _ember as _C
from ember import _torch_random
from ember._decomp import decomposition, _dev, _host, _from_host, _size_args
from ember._ember import Tensor

_default_float = _C.get_default_dtype
_int64 = _C.int64

def _mt19937(seed):
    """A NumPy generator on the Mersenne Twister seeded as torch seeds its CPU
    generator (the low 32 bits, MT's init_genrand), so that code drawing
    torch's way from its raw 32-bit words (``ember._torch_random``: randperm,
    randint, the DataLoader's samplers) yields torch's numbers."""
    bits = np.random.MT19937()
    bits._legacy_seeding(int(seed) & 0xFFFFFFFF)
    return np.random.Generator(bits)


class Generator:
    """torch.Generator: an independent, seedable random stream (torch's
    Mersenne Twister, seeded as torch seeds it)."""

    def __init__(self, device="cpu"):
        self.device = device
        self._seed = 67280421310721
        self._rng = _mt19937(self._seed)

    def manual_seed(self, seed):
        self._seed = int(seed)
        self._rng = _mt19937(self._seed)
        return self

    def seed(self):
        self.manual_seed(int.from_bytes(np.random.bytes(8), "little") >> 1)
        return self._seed

    def initial_seed(self):
        return self._seed

    def get_state(self):
        import pickle
        return _C.tensor(np.frombuffer(pickle.dumps(self._rng.bit_generator.state),
                                       dtype=np.uint8).astype(np.int32))

    def set_state(self, state):
        import pickle
        self._rng.bit_generator.state = pickle.loads(
            _host(state).astype(np.uint8).tobytes())
        return self


default_generator = Generator()


def _uniform(shape, generator, dtype=None):
    """U[0, 1) of `shape`, from `generator` or Ember's global stream."""
    dtype = dtype or _default_float()
    if generator is None:
        return _C.rand(*shape, dtype=dtype) if dtype.is_floating_point else \
            _C.rand(*shape).to(dtype)
    return _from_host(generator._rng.random(tuple(shape)).astype(np.float64)).to(dtype)


def _wrap_factory(name, sample):
    primitive = getattr(_C, name)

    def factory(*size, generator=None, dtype=None, device=None, requires_grad=False,
                out=None, layout=None, pin_memory=False):
        if generator is None:
            result = primitive(*size, dtype=dtype, device=device,
                               requires_grad=requires_grad)
        else:
            shape = _size_args(size)
            result = _from_host(sample(generator._rng, tuple(shape))).to(
                dtype or _default_float())
            if device is not None:
                result = result.to(device)
            if requires_grad:
                result.requires_grad_(True)
        if out is not None:
            out.copy_(result)
            return out
        return result
    factory.__name__ = name
    factory.__doc__ = primitive.__doc__
    return factory


rand = _wrap_factory("rand", lambda rng, shape: rng.random(shape))
randn = _wrap_factory("randn", lambda rng, shape: rng.standard_normal(shape))

_randint_primitive = _C.randint


def randint(*args, generator=None, dtype=None, device=None, requires_grad=False,
            size=None, low=None, high=None):
    if size is not None:
        args = tuple(a for a in (low, high) if a is not None) + args + (size,)
    if generator is None:
        return _randint_primitive(*args, dtype=dtype, device=device,
                                  requires_grad=requires_grad)
    lo, hi = (0, args[0]) if len(args) == 2 else (args[0], args[1])
    shape = tuple(args[-1])
    values = _torch_random.randint(generator, lo, hi, int(np.prod(shape, dtype=np.int64)))
    return _from_host(values.reshape(shape)).to(dtype or _int64)


@decomposition("randperm", method=False)
def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False,
             out=None):
    if generator is None:
        keys = _host(_C.rand(n, dtype=_C.float64))
        perm = np.argsort(keys, kind="stable")
    else:
        perm = np.array(_torch_random.randperm(generator, n), dtype=np.int64)
    result = _from_host(perm.astype(np.int64)).to(dtype or _int64)
    if out is not None:
        out.copy_(result)
        return out
    return result


@decomposition("normal", method=False)
def normal(mean=0.0, std=1.0, size=None, *, generator=None, out=None, dtype=None):
    if size is not None:
        shape = list(size)
    else:
        shapes = [tuple(t.shape) for t in (mean, std) if isinstance(t, Tensor)]
        shape = list(np.broadcast_shapes(*shapes)) if shapes else []
    float_dtype = next((t.dtype for t in (mean, std) if isinstance(t, Tensor)),
                       dtype or _default_float())
    noise = randn(*shape, generator=generator, dtype=float_dtype) if shape else \
        randn(1, generator=generator, dtype=float_dtype).reshape([])
    like = next((t for t in (mean, std) if isinstance(t, Tensor)), None)
    if like is not None:
        noise = _dev(noise, like)
    result = mean + std * noise
    if out is not None:
        out.copy_(result)
        return out
    return result


@decomposition("bernoulli")
def bernoulli(input, p=None, *, generator=None, out=None):
    probs = input if p is None else _C.full_like(input, p)
    u = _dev(_uniform(list(probs.shape), generator, probs.dtype if
                      probs.is_floating_point() else _default_float()), probs)
    result = (u < probs).to(input.dtype)
    if out is not None:
        out.copy_(result)
        return out
    return result


@decomposition("multinomial")
def multinomial(input, num_samples, replacement=False, *, generator=None, out=None):
    probs = _host(input.to(_C.float64))
    if probs.ndim not in (1, 2):
        raise RuntimeError("prob_dist must be 1 or 2 dim")
    rows = probs.reshape(-1, probs.shape[-1])
    if (rows < 0).any() or not np.isfinite(rows).all():
        raise RuntimeError("probability tensor contains either `inf`, `nan` or "
                           "element < 0")
    if (rows.sum(-1) <= 0).any():
        raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
    if not replacement and num_samples > rows.shape[-1]:
        raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples "
                           "without replacement")
    u = _host(_uniform([rows.shape[0], num_samples if replacement else rows.shape[-1]],
                       generator, _C.float64))
    if replacement:
        cdf = np.cumsum(rows, -1)
        cdf /= cdf[:, -1:]
        picks = np.stack([np.searchsorted(cdf[r], u[r], side="right")
                          for r in range(rows.shape[0])])
        picks = np.minimum(picks, rows.shape[-1] - 1)
    else:
        # Gumbel top-k: the order of log(p) + Gumbel noise is a draw without
        # replacement in proportion to p.
        with np.errstate(divide="ignore"):
            keys = np.log(rows) - np.log(-np.log(np.clip(u, 1e-300, 1.0)))
        picks = np.argsort(-keys, axis=-1, kind="stable")[:, :num_samples]
    result = _from_host(picks.reshape(probs.shape[:-1] + (num_samples,)).astype(np.int64))
    if out is not None:
        out.copy_(result)
        return out
    return result


@decomposition("poisson")
def poisson(input, generator=None):
    rates = _host(input.to(_C.float64))
    seed = int(_host(_randint_primitive(0, 2 ** 62, [1]))[0]) if generator is None \
        else int(generator._rng.integers(0, 2 ** 62))
    samples = np.random.Generator(np.random.PCG64(seed)).poisson(rates)
    return _from_host(samples.astype(np.float64)).to(input.dtype)


# In-place samplers: torch's Tensor.uniform_ and friends.

def _fill_(self, values):
    self.copy_(values.to(self.dtype))
    return self


def _uniform_(self, a=0.0, b=1.0, *, generator=None, **_):
    return _fill_(self, a + (b - a) * _uniform(list(self.shape), generator, _C.float64))


def _normal_(self, mean=0.0, std=1.0, *, generator=None):
    return _fill_(self, mean + std * randn(*self.shape, generator=generator,
                                           dtype=_C.float64))


def _exponential_(self, lambd=1.0, *, generator=None):
    u = _uniform(list(self.shape), generator, _C.float64)
    return _fill_(self, -_C.log1p(-u) / lambd)


def _random_(self, *args, generator=None):
    if len(args) == 0:
        low, high = 0, 2 ** 24 if self.is_floating_point() else 2 ** 31
    elif len(args) == 1:
        low, high = 0, args[0]
    else:
        low, high = args
    return _fill_(self, randint(low, high, list(self.shape), generator=generator))


def _bernoulli_(self, p=0.5, *, generator=None):
    probs = p if isinstance(p, Tensor) else _C.full(list(self.shape), p, dtype=_C.float64)
    return _fill_(self, (_uniform(list(self.shape), generator, _C.float64) < probs))


def _geometric_(self, p, *, generator=None):
    u = _uniform(list(self.shape), generator, _C.float64)
    return _fill_(self, _C.ceil(_C.log1p(-u) / math.log1p(-p)))


def _cauchy_(self, median=0.0, sigma=1.0, *, generator=None):
    u = _uniform(list(self.shape), generator, _C.float64)
    return _fill_(self, median + sigma * _C.tan(math.pi * (u - 0.5)))


def _log_normal_(self, mean=1.0, std=2.0, *, generator=None):
    return _fill_(self, _C.exp(mean + std * randn(*self.shape, generator=generator,
                                                  dtype=_C.float64)))


for _name, _fn in [("uniform_", _uniform_), ("normal_", _normal_),
                   ("exponential_", _exponential_), ("random_", _random_),
                   ("bernoulli_", _bernoulli_), ("geometric_", _geometric_),
                   ("cauchy_", _cauchy_), ("log_normal_", _log_normal_)]:
    setattr(Tensor, _name, _fn)


# ---------------------------------------------------------------------------
# Tensor surface
# ---------------------------------------------------------------------------

_TYPE_NAMES = {"float32": "FloatTensor", "float64": "DoubleTensor",
               "float16": "HalfTensor", "bfloat16": "BFloat16Tensor",
               "int32": "IntTensor", "int64": "LongTensor", "bool": "BoolTensor"}
_DTYPE_BY_TYPE = {v: k for k, v in _TYPE_NAMES.items()}


def _dtype_of(name):
    return getattr(_C, name)


def _type(self, dtype=None, non_blocking=False, **kwargs):
    if dtype is None:
        return "torch." + _TYPE_NAMES[str(self.dtype).split(".")[-1]]
    if isinstance(dtype, str):
        short = dtype.split(".")[-1]
        if short not in _DTYPE_BY_TYPE:
            raise ValueError(f"invalid type: '{dtype}'")
        dtype = _dtype_of(_DTYPE_BY_TYPE[short])
    elif isinstance(dtype, type) and hasattr(dtype, "_dtype"):
        dtype = dtype._dtype
    return self.to(dtype)


Tensor.type = _type


def _get_data(self):
    return self.detach()


def _set_data(self, value):
    if tuple(value.shape) != tuple(self.shape) or value.dtype != self.dtype:
        raise RuntimeError(f"Ember's Tensor.data = ... needs the same shape and dtype "
                           f"(have {tuple(self.shape)} {self.dtype}, got "
                           f"{tuple(value.shape)} {value.dtype}); use a new tensor "
                           f"instead")
    self.detach().copy_(value)


Tensor.data = property(_get_data, _set_data)


def _format(self, spec):
    if self.dim() == 0:
        return format(self.item(), spec)
    if spec:
        raise TypeError("unsupported format string passed to Tensor.__format__")
    return str(self)


Tensor.__format__ = _format

# As torch: a NumPy scalar or array on the left defers to the tensor's
# reflected operator (`np.float32(2) + t` is a tensor, not an ndarray).
Tensor.__array_priority__ = 1000


_tensor_init = Tensor.__init__


def _init(self, *args, **kwargs):
    """Tensor(other) shares other's storage (nn.Parameter); Tensor(data),
    Tensor(*sizes) and Tensor() build a float32 tensor, as torch.Tensor."""
    if len(args) == 1 and isinstance(args[0], Tensor) and not kwargs:
        return _tensor_init(self, args[0])
    if args and builtins.all(isinstance(a, int) for a in args):
        return _tensor_init(self, _C.empty(*args, dtype=_default_float()))
    if not args:
        return _tensor_init(self, _C.empty(0, dtype=_default_float()))
    if len(args) == 1 and isinstance(args[0], (tuple, list)) and len(args[0]) == 0:
        return _tensor_init(self, _C.empty(0, dtype=_default_float()))
    return _tensor_init(self, _C.tensor(args[0], dtype=_default_float()))


Tensor.__init__ = _init


class _LegacyTensorType(type):
    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor) and obj.dtype == cls._dtype


def _legacy(name, dtype_name):
    dtype = _dtype_of(dtype_name)

    def __new__(cls, *args):
        if args and builtins.all(isinstance(a, int) for a in args):
            return _C.empty(*args, dtype=dtype)
        if not args:
            return _C.empty(0, dtype=dtype)
        if isinstance(args[0], Tensor):
            return args[0].to(dtype)
        if isinstance(args[0], (list, tuple)) and len(args[0]) == 0:
            return _C.empty(0, dtype=dtype)
        return _C.tensor(args[0], dtype=dtype)
    return _LegacyTensorType(name, (), {"__new__": __new__, "_dtype": dtype,
                                        "__doc__": f"torch.{name}: a {dtype_name} tensor"})


LEGACY_TYPES = {name: _legacy(name, dtype) for dtype, name in _TYPE_NAMES.items()}
LEGACY_TYPES["ByteTensor"] = LEGACY_TYPES["IntTensor"]
LEGACY_TYPES["ShortTensor"] = LEGACY_TYPES["IntTensor"]
LEGACY_TYPES["CharTensor"] = LEGACY_TYPES["IntTensor"]


# ---------------------------------------------------------------------------
# Modes and defaults
# ---------------------------------------------------------------------------

def is_inference_mode_enabled():
    return not _C.is_grad_enabled()


def is_floating_point(input):
    return input.is_floating_point()


def is_nonzero(input):
    if input.numel() != 1:
        raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
    return bool(input.item())


def seed():
    s = int.from_bytes(np.random.bytes(8), "little") >> 1
    _C.manual_seed(s)
    return s


_initial_seed = [67280421310721]
_manual_seed_primitive = _C.manual_seed


def manual_seed(seed):
    """Seeds Ember's global generator (and returns the default Generator)."""
    _initial_seed[0] = int(seed)
    _manual_seed_primitive(int(seed))
    default_generator.manual_seed(seed)
    return default_generator


def initial_seed():
    return _initial_seed[0]


class Variable:
    """autograd.Variable: since PyTorch 0.4 a Variable is a Tensor."""

    def __new__(cls, data, requires_grad=False, volatile=False):
        if requires_grad:
            data = data.detach().requires_grad_(True) if not data.is_leaf else \
                data.requires_grad_(True)
        return data
