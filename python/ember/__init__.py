"""Ember: a tensor library whose eager ops are traced into MLIR and JIT-compiled.

The API follows PyTorch: ``ember.tensor``, ``ember.zeros``, tensor methods and
operators, indexing, in-place ops. Ops are recorded lazily and run as one
compiled program when a value is needed (``.numpy()``, ``.item()``, ``print``)
or on ``ember.sync()``; compiled programs are cached by structure, so a new
batch size does not recompile. ``ember.compile_stats()`` reports the cache.
"""

import os as _os

from ember import _ember
from ember._ember import *  # noqa: F401,F403 (the op functions and dtypes)
from ember._ember import Tensor, dtype  # noqa: F401
from ember._size import Size, ValuesIndices, device  # noqa: F401

# Frames inside this package are skipped when ops record the user's line.
_ember._set_package_dir(_os.path.dirname(_os.path.abspath(__file__)) + _os.sep)

# torch's aliases.
float = float32  # noqa: A001
double = float64
half = float16
int = int32  # noqa: A001
long = int64
bool = _ember.bool  # noqa: A001

__all__ = [name for name in dir(_ember) if not name.startswith("_")] + [
    "Size", "device", "float", "double", "half", "int", "long"]


def _dtype_by_name(name):
    """Unpickles a dtype."""
    return getattr(_ember, name)


def is_tensor(obj):
    """Whether ``obj`` is an ember Tensor."""
    return isinstance(obj, Tensor)


def numel(input):
    """The number of elements of ``input``."""
    return input.numel()



class no_grad:
    """Context manager (and decorator) that stops recording autograd history."""

    def __enter__(self):
        self._previous = _ember.is_grad_enabled()
        _ember._set_grad_enabled(False)

    def __exit__(self, *exc):
        _ember._set_grad_enabled(self._previous)
        return False

    def __call__(self, function):
        import functools

        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return function(*args, **kwargs)
        return wrapper


class enable_grad(no_grad):
    """Context manager (and decorator) that records autograd history."""

    def __enter__(self):
        self._previous = _ember.is_grad_enabled()
        _ember._set_grad_enabled(True)


class inference_mode(no_grad):
    """Like no_grad (Ember has no separate inference tensors); ``mode=False``
    leaves recording as it is."""

    def __init__(self, mode=True):
        self._mode = mode

    def __enter__(self):
        self._previous = _ember.is_grad_enabled()
        if self._mode:
            _ember._set_grad_enabled(False)

    def __call__(self, function):
        import functools

        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            with inference_mode(self._mode):
                return function(*args, **kwargs)
        return wrapper


class set_grad_enabled(no_grad):
    """Turns history recording on or off, now and as a context manager."""

    def __init__(self, mode):
        self._previous = _ember.is_grad_enabled()
        self._mode = mode
        _ember._set_grad_enabled(mode)

    def __enter__(self):
        pass

    def __call__(self, function):
        raise TypeError("set_grad_enabled is not a decorator")


# Composite ops (one table of decompositions into primitives) and the API
# surface around them; these replace a few primitives' bindings with
# torch-complete signatures (div's rounding_mode, round's decimals, the
# generator= of the random factories).
from ember import _decomp, _api  # noqa: E402
globals().update(_decomp.functions())
globals().update(_api.LEGACY_TYPES)
from ember import linalg  # noqa: E402 (LAPACK-backed; torch.det, torch.svd, ...)
globals().update(linalg.TORCH_FUNCTIONS)
for _name in linalg.TENSOR_METHODS:
    setattr(Tensor, _name, linalg.TORCH_FUNCTIONS[_name])
from ember._api import (Generator, default_generator,  # noqa: E402,F401
                        initial_seed, is_floating_point,
                        is_inference_mode_enabled, is_nonzero, manual_seed,
                        rand, randint, randn, seed)
__all__ = sorted(set(__all__) | set(_decomp.functions()) | set(_api.LEGACY_TYPES) |
                 set(linalg.TORCH_FUNCTIONS) | {"linalg"} | {
    "Generator", "default_generator", "inference_mode",
    "initial_seed", "is_inference_mode_enabled", "is_nonzero", "seed"})

# The pure-Python layers on top of the tensor core.
from ember import autograd, nn, optim  # noqa: E402,F401
from ember import _pickle  # noqa: E402 (pickle.dumps(tensor) copies its values)
_pickle.install()
# Tensors on multiprocessing's queues and pipes travel as shared memory.
from ember import multiprocessing  # noqa: E402,F401
from ember import distributed  # noqa: E402,F401 (torch.distributed)
from ember import utils  # noqa: E402,F401 (ember.utils.data)
from ember.serialization import load, save  # noqa: E402,F401
from ember._export import (ExportedProgram, LoadedModel, export,  # noqa: E402,F401
                           load_model)
from ember._devices import cuda, devices, rocm, vulkan, xpu  # noqa: E402,F401
