"""Composite ops, each written once in terms of Ember's primitive ops.

This is the one table of decompositions (torch._refs plays the same role for
PyTorch): every function here is built only from ops of the `ember` dialect
(element-wise ops, reductions, gather/scatter_add, matmul, shape ops), so it
gets autograd, CPU and GPU code, fusion and the compile cache from them. An op
is a primitive in the dialect instead only where a decomposition would be
slower.

A few ops need a data-dependent result shape or an ordering (``sort``,
``unique``, ``nonzero``, ``multinomial``...). Those compute their *indices*
on the host after one sync, and pick the values with ``gather``, so their
values still carry gradients.

``@decomposition("name", ...)`` registers a function as ``ember.name``
and, unless ``method=False``, as ``Tensor.name``; ``DECOMPOSITIONS`` maps
each name to its function (docs/ops.md is generated from it).
"""

import builtins
import math

import numpy as np

from ember import _ember as _C
from ember._ember import Tensor

_default_float = _C.get_default_dtype
_int64 = _C.int64
_bool = _C.bool

DECOMPOSITIONS = {}
METHODS = set()
_FUNCTIONS = {}


def decomposition(*names, method=True, function=True):
    """Registers ``fn`` as ember.<name> and Tensor.<name> for each name.

    Both go through a C++ trampoline (``_ember._surface``) that drops this
    package's frames from an error's traceback: a shape error inside a
    decomposition ends at the user's line, as for ops bound from C++."""
    def register(fn):
        for name in names:
            DECOMPOSITIONS[name] = fn
            if function:
                _FUNCTIONS[name] = _C._surface(_with_out(fn), name)
            if method:
                METHODS.add(name)
                setattr(Tensor, name, _C._surface(fn, name, Tensor))
        return fn
    return register


def _with_out(fn):
    """`fn` taking torch's `out=` (results copied into it) if it does not
    already: every ember.* function accepts it."""
    import inspect
    try:
        if "out" in inspect.signature(fn).parameters:
            return fn
    except (TypeError, ValueError):
        return fn

    def function(*args, out=None, **kwargs):
        return _out(fn(*args, **kwargs), out)
    function.__doc__ = fn.__doc__
    return function


def functions():
    """The module-level functions this table defines (for ember/__init__)."""
    return dict(_FUNCTIONS)


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

def _wrap(dim, ndim):
    n = builtins.max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of "
                         f"[{-n}, {n - 1}], but got {dim})")
    return dim % n


def _dims(dim, ndim):
    if dim is None:
        return list(range(ndim))
    if isinstance(dim, int):
        return [_wrap(dim, ndim)]
    return [_wrap(d, ndim) for d in dim]


def _tensor(value, like=None):
    if isinstance(value, Tensor):
        return value
    dtype = like.dtype if like is not None and isinstance(value, (int, float, bool)) \
        and like.is_floating_point() else None
    return _C.tensor(value, dtype=dtype)


def _is_float(x):
    return x.is_floating_point()


def _float(x):
    return x if _is_float(x) else x.to(_default_float())


def _out(result, out):
    """torch's out=: `result` written into `out` (each of a tuple's parts into
    the matching tensor of `out`), which is returned."""
    if out is None:
        return result
    if isinstance(result, tuple):
        for target, value in zip(out, result):
            target.copy_(value)
        return out
    out.copy_(result)
    return out


def _dev(t, like):
    """`t` (a helper tensor built on the CPU) on `like`'s device."""
    device = like.device
    return t if device.type == "cpu" else t.to(device)


def _arange(n, like):
    return _dev(_C.arange(n), like)


def _along(n, dim, ndim, like):
    """arange(n) shaped to broadcast along `dim` of an ndim-tensor."""
    shape = [1] * ndim
    shape[dim] = n
    return _arange(n, like).reshape(shape)


def _host(x):
    """x's values as a NumPy array (one sync; a copy for a GPU tensor)."""
    if x.device.type != "cpu":
        x = x.cpu()
    return np.asarray(x.numpy())


def _from_host(array, dtype=None):
    # np.require keeps a 0-d array 0-d (ascontiguousarray would make it 1-d).
    t = _C.tensor(np.require(array, requirements="C"))
    return t if dtype is None else t.to(dtype)


def _gather_any(x, dim, index):
    """torch.gather: out[..i.., j, ..k..] = x[..i.., index[..i.., j, ..k..], ..k..]."""
    ndim = x.dim()
    if ndim == 0:
        return x.reshape(1)[index.reshape(-1)].reshape(index.shape)
    dim = _wrap(dim, ndim)
    if index.dim() != ndim:
        raise RuntimeError(f"Index tensor must have the same number of dimensions "
                           f"as input tensor (input {tuple(x.shape)}, index "
                           f"{tuple(index.shape)})")
    for d in range(ndim):
        if d != dim and index.shape[d] > x.shape[d]:
            raise RuntimeError(f"Size does not match at dimension {d} expected "
                               f"index {tuple(index.shape)} to be smaller than "
                               f"self {tuple(x.shape)} apart from dimension {dim}")
    if index.numel() == 0:
        return _C.zeros(list(index.shape), dtype=x.dtype)
    strides = x.contiguous().stride()
    index = index.to(_int64)
    n = x.shape[dim]
    _check_bounds(index, dim, n)
    index = _C.where(index < 0, index + n, index)
    linear = index * strides[dim]
    for d in range(ndim):
        if d != dim:
            linear = linear + _along(index.shape[d], d, ndim, index) * strides[d]
    flat = x.reshape(-1)
    return _C.index_select(flat, 0, linear.reshape(-1)).reshape(list(index.shape))


def _check_bounds(index, dim, size):
    """torch's IndexError for an index outside [-size, size) (one sync)."""
    if index.numel() == 0:
        return
    values = _host(index)
    low, high = int(values.min()), int(values.max())
    bad = high if high >= size else (low if low < -size else None)
    if bad is not None:
        raise IndexError(f"index {bad} is out of bounds for dimension {dim} with size "
                         f"{size}")


def _linear_index(shape, dim, index):
    """The flat positions in a tensor of `shape` that torch.scatter's `index`
    addresses along `dim`."""
    ndim = len(shape)
    strides = [1] * ndim
    for d in range(ndim - 2, -1, -1):
        strides[d] = strides[d + 1] * shape[d + 1]
    index = index.to(_int64)
    index = _C.where(index < 0, index + shape[dim], index)
    linear = index * strides[dim]
    for d in range(ndim):
        if d != dim:
            linear = linear + _along(index.shape[d], d, ndim, index) * strides[d]
    return linear.reshape(-1)


def _narrow_to(src, shape):
    index = tuple(slice(0, s) for s in shape)
    return src[index] if tuple(src.shape) != tuple(shape) else src


# ---------------------------------------------------------------------------
# Element-wise composites
# ---------------------------------------------------------------------------

@decomposition("square")
def square(input):
    if input.dtype == _bool:
        input = input.to(_int64)
    return input * input


@decomposition("reciprocal")
def reciprocal(input):
    return 1.0 / _float(input)


@decomposition("frac")
def frac(input):
    if not _is_float(input):
        raise RuntimeError(f"\"frac_cpu\" not implemented for '{_torch_name(input.dtype)}'")
    return input - _C.trunc(input)


@decomposition("hypot")
def hypot(input, other, *, out=None):
    return _out(_C.sqrt(input * input + other * other), out)


@decomposition("lerp")
def lerp(input, end, weight, *, out=None):
    return _out(input + weight * (end - input), out)


@decomposition("addcmul")
def addcmul(input, tensor1, tensor2, *, value=1, out=None):
    if not _is_float(input) and not _is_float(tensor1):
        value = int(value)
    return _out(input + value * tensor1 * tensor2, out)


@decomposition("addcdiv")
def addcdiv(input, tensor1, tensor2, *, value=1, out=None):
    return _out(input + value * (tensor1 / tensor2), out)


@decomposition("clamp_min")
def clamp_min(input, min):
    return _C.clamp(input, min, None)


@decomposition("clamp_max")
def clamp_max(input, max):
    return _C.clamp(input, None, max)


@decomposition("isnan")
def isnan(input):
    return input != input


@decomposition("isinf")
def isinf(input):
    if not _is_float(input):
        return _C.zeros_like(input, dtype=_bool)
    return _C.abs(input) == math.inf


@decomposition("isposinf")
def isposinf(input):
    return input == math.inf if _is_float(input) else _C.zeros_like(input, dtype=_bool)


@decomposition("isneginf")
def isneginf(input):
    return input == -math.inf if _is_float(input) else _C.zeros_like(input, dtype=_bool)


@decomposition("isfinite")
def isfinite(input):
    if not _is_float(input):
        return _C.ones_like(input, dtype=_bool)
    return _C.abs(input) < math.inf


@decomposition("isreal")
def isreal(input):
    return _C.ones_like(input, dtype=_bool)


_FINFO = {"float32": (3.4028234663852886e38, 1.1754943508222875e-38, 1.1920928955078125e-07),
          "float64": (1.7976931348623157e308, 2.2250738585072014e-308, 2.220446049250313e-16),
          "float16": (65504.0, 6.103515625e-05, 0.0009765625),
          "bfloat16": (3.3895313892515355e38, 1.1754943508222875e-38, 0.0078125)}


@decomposition("nan_to_num")
def nan_to_num(input, nan=0.0, posinf=None, neginf=None, *, out=None):
    if not _is_float(input):
        return _out(input.clone(), out)
    big = _FINFO[str(input.dtype).split(".")[-1]][0]
    posinf = big if posinf is None else posinf
    neginf = -big if neginf is None else neginf
    result = _C.where(input != input, nan, input)
    result = _C.where(result == math.inf, posinf, result)
    result = _C.where(result == -math.inf, neginf, result)
    return _out(result, out)


@decomposition("xlogy")
def xlogy(input, other):
    x, y = _float(_tensor(input)), _float(_tensor(other))
    result = x * _C.log(y)
    return _C.where(x == 0, _C.where(y != y, y, 0.0), result)


@decomposition("logaddexp")
def logaddexp(input, other):
    m = _C.maximum(input, other)
    m = _C.where(_C.abs(m) == math.inf, 0.0, m)
    return _C.log(_C.exp(input - m) + _C.exp(other - m)) + m


@decomposition("logaddexp2")
def logaddexp2(input, other):
    m = _C.maximum(input, other)
    m = _C.where(_C.abs(m) == math.inf, 0.0, m)
    return _C.log2(_C.exp2(input - m) + _C.exp2(other - m)) + m


@decomposition("deg2rad")
def deg2rad(input):
    return _float(input) * (math.pi / 180.0)


@decomposition("rad2deg")
def rad2deg(input):
    return _float(input) * (180.0 / math.pi)


@decomposition("logit")
def logit(input, eps=None):
    x = _float(input)
    if eps is not None:
        x = _C.clamp(x, eps, 1.0 - eps)
    return _C.log(x / (1.0 - x))


@decomposition("sinc")
def sinc(input):
    x = _float(input) * math.pi
    safe = _C.where(x == 0, 1.0, x)
    return _C.where(x == 0, 1.0, _C.sin(safe) / safe)


@decomposition("copysign")
def copysign(input, other):
    x = _float(_tensor(input))
    other = _tensor(other, x)
    # signbit: negative, or -0.0 (1 / -0.0 = -inf).
    negative = (other < 0) | ((other == 0) & (1.0 / _float(other) < 0))
    return _C.where(negative, -_C.abs(x), _C.abs(x))


@decomposition("float_power")
def float_power(input, exponent):
    base = _tensor(input).to(_C.float64)
    if isinstance(exponent, Tensor):
        exponent = exponent.to(_C.float64)
    return _C.pow(base, exponent)


@decomposition("floor_divide")
def floor_divide(input, other, *, out=None):
    x = _tensor(input)
    if isinstance(other, Tensor) and (_is_float(x) or _is_float(other)) or \
            _is_float(x) or isinstance(other, float):
        return _out(_div_floor_float(x, other), out)
    # Integers: the truncated quotient, one less where the signs differ and
    # the division is inexact.
    dtype = _C.result_type(input, other)  # a number input counts as one
    if dtype == _C.bool:
        raise RuntimeError("\"div_floor_cpu\" not implemented for 'Bool'")
    x = x.to(dtype)
    remainder = _C.remainder(x, other)  # raises ZeroDivisionError as torch's
    return _out(_round_primitive((x - remainder) / other).to(remainder.dtype), out)


def _div_floor_float(a, b):
    """torch's floating floor division (c10 div_floor_floating): through
    fmod, so that inf // x is nan and the quotient is rounded as torch's."""
    dtype = _C.result_type(a, b)
    a = _tensor(a).to(dtype)
    if isinstance(b, Tensor):
        b = b.to(dtype)
    quotient = a / b
    mod = _C.fmod(a, b)
    div = (a - mod) / b
    div = _C.where((mod != 0) & ((_tensor(b, like=quotient) < 0) != (mod < 0)), div - 1, div)
    floor = _C.floor(div)
    floor = _C.where(div - floor > 0.5, floor + 1, floor)
    zero = _C.where(quotient < 0, -0.0, 0.0)
    result = _C.where(div != 0, floor, zero)
    return _C.where(_tensor(b, like=quotient) == 0, quotient, result)


def _check_integer_divisor(input, other):
    """torch's integer division raises on a zero divisor (of a non-empty
    result)."""
    shape = np.broadcast_shapes(tuple(_tensor(input).shape),
                                tuple(other.shape) if isinstance(other, Tensor) else ())
    if 0 in shape:
        return
    if isinstance(other, Tensor):
        if not _is_float(other) and not _is_float(_tensor(input)) and \
                bool((other == 0).any()):
            raise RuntimeError("ZeroDivisionError")
    elif not isinstance(other, float) and not _is_float(_tensor(input)) and other == 0:
        raise RuntimeError("ZeroDivisionError")


def _floordiv_operator(self, other):
    if not isinstance(other, (Tensor, int, float, bool)):
        return NotImplemented
    return floor_divide(self, other)


def _rfloordiv_operator(self, other):
    if not isinstance(other, (int, float, bool)):
        return NotImplemented
    return floor_divide(other, self)


def _ifloordiv_operator(self, other):
    if not isinstance(other, (Tensor, int, float, bool)):
        return NotImplemented
    result = floor_divide(self, other)
    if not _C.can_cast(result.dtype, self.dtype):
        raise RuntimeError(f"result type {_torch_name(result.dtype)} can't be cast to "
                           f"the desired output type {_torch_name(self.dtype)}")
    return self.copy_(result)


def _torch_name(dtype):
    return {"float32": "Float", "float64": "Double", "int64": "Long", "int32": "Int",
            "bool": "Bool", "float16": "Half", "bfloat16": "BFloat16"}[str(dtype).split(".")[-1]]


Tensor.__floordiv__ = _floordiv_operator
Tensor.__rfloordiv__ = _rfloordiv_operator
Tensor.__ifloordiv__ = _ifloordiv_operator


_div_primitive = _C.div


@decomposition("div", "divide")
def div(input, other, *, rounding_mode=None, out=None):
    if rounding_mode is None:
        return _out(_div_primitive(input, other), out)
    if rounding_mode in ("trunc", "floor"):
        _check_integer_divisor(input, other)
    if rounding_mode == "trunc":
        if not _is_float(_tensor(input)) and not (isinstance(other, Tensor) and _is_float(other)) \
                and not isinstance(other, float):
            quotient = _C.trunc(_div_primitive(input, other))
            return _out(quotient.to(_tensor(input).dtype), out)
        return _out(_C.trunc(_div_primitive(input, other)), out)
    if rounding_mode == "floor":
        result = _C.floor(_div_primitive(input, other))
        if _is_float(_tensor(input)) or isinstance(other, float) or \
                (isinstance(other, Tensor) and _is_float(other)):
            return _out(_div_floor_float(_tensor(input), other), out)
        if not _is_float(_tensor(input)) and not (isinstance(other, Tensor) and _is_float(other)) \
                and not isinstance(other, float):
            result = result.to(_tensor(input).dtype)
        return _out(result, out)
    raise ValueError(f"div expected rounding_mode to be one of None, 'trunc', or "
                     f"'floor' but found '{rounding_mode}'")


_round_primitive = _C.round


@decomposition("round")
def round(input, *, decimals=0, out=None):
    if decimals == 0:
        return _out(_round_primitive(input), out)
    scale = 10.0 ** decimals
    return _out(_round_primitive(input * scale) / scale, out)


@decomposition("heaviside")
def heaviside(input, values):
    return _C.where(input == 0, values, (input > 0).to(input.dtype))


# ---------------------------------------------------------------------------
# Reductions and scans
# ---------------------------------------------------------------------------

def _count(x, dims):
    n = 1
    for d in dims:
        n *= x.shape[d]
    return n


@decomposition("var")
def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None, out=None):
    if isinstance(dim, bool):  # var(input, unbiased)
        unbiased, dim = dim, None
    if correction is None:
        correction = 0 if unbiased is False else 1
    x = input
    if not _is_float(x):
        raise RuntimeError("std and var only support floating point and complex dtypes")
    dims = _dims(dim, x.dim())
    mean = x.mean(dims if dims else None, keepdim=True) if x.dim() else x
    centred = x - mean
    total = (centred * centred).sum(dims if dims else None, keepdim=keepdim) \
        if x.dim() else centred * centred
    n = _count(x, dims) if x.dim() else 1
    return _out(total / builtins.max(n - correction, 0), out)


@decomposition("std")
def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None, out=None):
    return _out(_C.sqrt(var(input, dim, unbiased, keepdim, correction=correction)), out)


@decomposition("var_mean")
def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    if isinstance(dim, bool):
        unbiased, dim = dim, None
    dims = _dims(dim, input.dim())
    mean = input.mean(dims if dims else None, keepdim=keepdim) if input.dim() else input
    return var(input, dim, unbiased, keepdim, correction=correction), mean


@decomposition("std_mean")
def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    v, m = var_mean(input, dim, unbiased, keepdim, correction=correction)
    return _C.sqrt(v), m


def _sum_dims(x, dims, keepdim):
    if x.dim() == 0:
        return x
    return x.sum(dims, keepdim=keepdim)


@decomposition("norm")
def norm(input, p="fro", dim=None, keepdim=False, dtype=None, *, out=None):
    x = _float(input) if dtype is None else input.to(dtype)
    dims = _dims(dim, x.dim())
    if p in ("fro", 2, 2.0) or p is None:
        result = _C.sqrt(_sum_dims(x * x, dims, keepdim))
    elif p == "nuc":
        from ember import linalg
        result = linalg.matrix_norm(x, "nuc", dims if len(dims) == 2 else (-2, -1), keepdim)
    elif p == math.inf:
        result = _C.abs(x).amax(dims, keepdim=keepdim) if x.dim() else _C.abs(x)
    elif p == -math.inf:
        result = _C.abs(x).amin(dims, keepdim=keepdim) if x.dim() else _C.abs(x)
    elif p == 0:
        result = _sum_dims((x != 0).to(x.dtype), dims, keepdim)
    elif p == 1:
        result = _sum_dims(_C.abs(x), dims, keepdim)
    else:
        result = _C.pow(_sum_dims(_C.pow(_C.abs(x), p), dims, keepdim), 1.0 / p)
    return _out(result, out)


@decomposition("logsumexp")
def logsumexp(input, dim=None, keepdim=False, *, out=None):
    x = _float(input)
    if x.dim() == 0:
        return _out(x.clone(), out)
    dims = _dims(dim, x.dim())
    if 0 in [x.shape[d] for d in dims]:
        # An empty sum: log(0) = -inf (amax has no value to shift by).
        result = _C.log(_C.exp(x).sum(dims, keepdim=True))
    else:
        m = x.amax(dims, keepdim=True)
        m = _C.where(_C.abs(m) == math.inf, 0.0, m)
        result = _C.log(_C.exp(x - m).sum(dims, keepdim=True)) + m
    if not keepdim:
        result = result.squeeze(dims[0]) if len(dims) == 1 else result.reshape(
            [s for d, s in enumerate(x.shape) if d not in dims])
    return _out(result, out)


@decomposition("any")
def any(input, dim=None, keepdim=False, *, out=None):
    nonzero = (input != 0).to(_C.int32)
    if input.dim() == 0:
        return _out(nonzero != 0, out)
    return _out(nonzero.sum(dim, keepdim=keepdim) > 0, out)


@decomposition("all")
def all(input, dim=None, keepdim=False, *, out=None):
    zero = (input == 0).to(_C.int32)
    if input.dim() == 0:
        return _out(zero == 0, out)
    return _out(zero.sum(dim, keepdim=keepdim) == 0, out)


@decomposition("count_nonzero")
def count_nonzero(input, dim=None):
    nonzero = (input != 0).to(_int64)
    return nonzero.sum(dim) if input.dim() else nonzero


@decomposition("prod")
def prod(input, dim=None, keepdim=False, *, dtype=None):
    # Pairwise products, halving the reduced elements each step: exact (with
    # torch's wrap-around) for integers, gradients through zeros.
    x = input if dtype is None else input.to(dtype)
    out_dtype = x.dtype if x.dtype not in (_bool, _C.int32) else _int64
    x = x.to(out_dtype)
    if x.dim() == 0:
        return x.clone()
    dims = _dims(dim, x.dim())
    kept = [d for d in range(x.dim()) if d not in dims]
    lead = [x.shape[d] for d in kept]
    n = 1
    for d in dims:
        n *= x.shape[d]
    flat = x.permute(kept + dims).reshape(lead + [n])
    single = n == 1
    if n == 0:
        flat = flat.sum(-1, keepdim=True) + 1  # the empty product
        n = 1
    while n > 1:
        if n % 2:
            flat = _C.cat([flat, _C.ones_like(flat[..., :1])], -1)
            n += 1
        pairs = flat.reshape(lead + [n // 2, 2])
        flat = pairs[..., 0] * pairs[..., 1]
        n //= 2
    result = flat.reshape(lead)
    if keepdim:
        result = result.reshape([1 if d in dims else x.shape[d] for d in range(x.dim())])
    # A product of one element per row is still a view of the input.
    return result.clone() if single else result


def _scan_matrix(n, dtype, like):
    i = _arange(n, like)
    return (i.reshape(n, 1) <= i.reshape(1, n)).to(dtype)  # [j, i]: j <= i


@decomposition("cumsum")
def cumsum(input, dim, *, dtype=None, out=None):
    x = input if dtype is None else input.to(dtype)
    if x.dim() == 0:
        return _out(x.clone(), out)
    dim = _wrap(dim, x.dim())
    result_dtype = x.dtype if _is_float(x) else _int64
    work = x if _is_float(x) else x.to(_C.float64)
    moved = work.movedim(dim, -1)
    n = moved.shape[-1]
    result = (moved @ _scan_matrix(n, work.dtype, work)).movedim(-1, dim)
    return _out(result.to(result_dtype) if not _is_float(x) else result, out)


@decomposition("cumprod")
def cumprod(input, dim, *, dtype=None, out=None):
    x = input if dtype is None else input.to(dtype)
    if x.dim() == 0:
        return _out(x.clone(), out)
    result_dtype = x.dtype if _is_float(x) else _int64
    wide = x.to(_C.float64)
    # Zeros are counted apart: log(0) = -inf would meet the scan matrix's
    # zeros (-inf * 0 = NaN) and poison the row.
    is_zero = wide == 0
    magnitude = _C.exp(cumsum(_C.log(_C.abs(_C.where(is_zero, 1.0, wide))), dim))
    negatives = cumsum((wide < 0).to(_C.float64), dim)
    result = (1.0 - 2.0 * _C.remainder(negatives, 2.0)) * magnitude
    result = _C.where(cumsum(is_zero.to(_C.float64), dim) > 0, 0.0, result)
    if not _is_float(x):
        result = _C.round(result)
    return _out(result.to(result_dtype), out)


@decomposition("logcumsumexp")
def logcumsumexp(input, dim, *, out=None):
    x = _float(input)
    if x.dim() == 0:
        return _out(x.clone(), out)
    m = x.amax(dim, keepdim=True)
    m = _C.where(_C.abs(m) == math.inf, 0.0, m)
    return _out(_C.log(cumsum(_C.exp(x - m), dim)) + m, out)


def _cumulative_extreme(input, dim, largest):
    x = input
    dim = _wrap(dim, x.dim())
    if x.dim() == 0:
        return _values_indices(x.clone(), _C.zeros([], dtype=_int64))
    moved = x.movedim(dim, -1)
    n = moved.shape[-1]
    j = _arange(n, x)
    later = j.reshape(1, n) > j.reshape(n, 1)  # [i, j]: j > i
    rows = moved.unsqueeze(-2)  # [..., 1(i), n(j)]
    if _is_float(x):
        fill = -math.inf if largest else math.inf
        # NaN wins, as in torch: put it above everything.
        nan = rows != rows
        key = _C.where(nan, math.inf if largest else -math.inf, rows)
    else:
        fill = -(2 ** 62) if largest else 2 ** 62
        nan = None
        key = rows.to(_int64)
    masked = _C.where(later, fill, key)
    best = masked.amax(-1) if largest else masked.amin(-1)  # [..., n(i)]
    hit = (masked == best.unsqueeze(-1)) & ~later
    index = _C.where(hit, j.reshape(1, n), -1).amax(-1)
    values = _C.index_select(moved.reshape(-1), 0,
                             (index + _arange(moved.numel() // builtins.max(n, 1), x).reshape(
                                 list(index.shape[:-1]) + [1]) * n).reshape(-1)
                             ).reshape(list(index.shape)) if n else moved
    return _values_indices(values.movedim(-1, dim), index.movedim(-1, dim))


@decomposition("cummax")
def cummax(input, dim):
    return _cumulative_extreme(input, dim, True)


@decomposition("cummin")
def cummin(input, dim):
    return _cumulative_extreme(input, dim, False)


@decomposition("aminmax")
def aminmax(input, *, dim=None, keepdim=False):
    from collections import namedtuple
    result = namedtuple("aminmax", ["min", "max"])
    if dim is None:
        return result(input.amin(), input.amax())
    return result(input.amin(dim, keepdim=keepdim), input.amax(dim, keepdim=keepdim))


# --- Orderings: indices on the host, values gathered (differentiable) -----

def _values_indices(values, indices):
    from ember._size import ValuesIndices
    return ValuesIndices(values, indices)


def _host_order(x, dim, descending, stable=True):
    a = _host(x.to(_C.float64) if x.dtype in (_C.float16, _C.bfloat16) else x)
    if descending:
        # NaN first, then descending; stable among equals.
        key = np.where(np.isnan(a), -np.inf, -a.astype(np.float64)) \
            if a.dtype.kind == "f" else -a.astype(np.int64)
        if a.dtype.kind == "f":
            key = np.where(np.isnan(a), -np.inf, key)
        return np.argsort(key, axis=dim, kind="stable")
    return np.argsort(a, axis=dim, kind="stable")


def _pick_along(x, dim, index, keepdim):
    """(values, indices) for host-computed `index` (keepdim-shaped) along dim:
    the values gathered from x, so that they carry x's gradient."""
    indices = _dev(_from_host(np.asarray(index, dtype=np.int64)), x)
    values = _gather_any(x, dim, indices)
    if not keepdim:
        values, indices = values.squeeze(dim), indices.squeeze(dim)
    return _values_indices(values, indices)


@decomposition("sort")
def sort(input, dim=-1, descending=False, stable=False):
    if isinstance(dim, bool):
        dim, descending = -1, dim
    x = input
    if x.dim() == 0:
        return _values_indices(x.clone(), _C.zeros([], dtype=_int64))
    dim = _wrap(dim, x.dim())
    indices = _dev(_from_host(_host_order(x, dim, descending), _int64), x)
    return _values_indices(_gather_any(x, dim, indices), indices)


@decomposition("argsort")
def argsort(input, dim=-1, descending=False, stable=False):
    return sort(input, dim, descending, stable).indices


@decomposition("msort")
def msort(input):
    return sort(input, 0).values


@decomposition("topk")
def topk(input, k, dim=-1, largest=True, sorted=True):
    x = input
    if x.dim() == 0:
        if k > 1:
            raise RuntimeError("selected index k out of range")
        return _values_indices(x.clone(), _C.zeros([], dtype=_int64))
    dim = _wrap(dim, x.dim())
    if not 0 <= k <= x.shape[dim]:
        raise RuntimeError(f"selected index k out of range (k={k}, size of dim "
                           f"{dim} is {x.shape[dim]})")
    order = _host_order(x, dim, descending=largest)
    order = np.take(order, np.arange(k), axis=dim)
    indices = _dev(_from_host(order, _int64), x)
    return _values_indices(_gather_any(x, dim, indices), indices)


@decomposition("kthvalue")
def kthvalue(input, k, dim=-1, keepdim=False):
    x = input
    if x.dim() == 0:
        return _values_indices(x.clone(), _C.zeros([], dtype=_int64))
    dim = _wrap(dim, x.dim())
    if not 1 <= k <= x.shape[dim]:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {dim}")
    order = np.take(_host_order(x, dim, False), [k - 1], axis=dim)
    return _pick_along(x, dim, order, keepdim)


@decomposition("median")
def median(input, dim=None, keepdim=False):
    x = input
    if dim is None:
        flat = x.reshape(-1)
        if flat.numel() == 0:
            return _C.full([], math.nan, dtype=x.dtype)
        return kthvalue(flat, (flat.numel() + 1) // 2, 0).values
    n = x.shape[_wrap(dim, x.dim())] if x.dim() else 1
    return kthvalue(x, (n + 1) // 2, dim, keepdim)


@decomposition("mode")
def mode(input, dim=-1, keepdim=False):
    x = input
    if x.dim() == 0:
        return _values_indices(x.clone(), _C.zeros([], dtype=_int64))
    dim = _wrap(dim, x.dim())
    a = np.moveaxis(_host(x), dim, -1)
    rows = a.reshape(-1, a.shape[-1])
    picks = np.zeros(rows.shape[0], dtype=np.int64)
    for r, row in enumerate(rows):
        values, counts = np.unique(row, return_counts=True)
        best = values[np.argmax(counts)]  # the smallest of the most frequent
        picks[r] = np.nonzero(row == best)[0][-1]
    index = np.moveaxis(picks.reshape(a.shape[:-1] + (1,)), -1, dim)
    return _pick_along(x, dim, index, keepdim)


@decomposition("unique")
def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    a = _host(input)
    if dim is not None:
        values, inverse, counts = np.unique(a, return_inverse=True,
                                            return_counts=True, axis=dim)
    else:
        values, inverse, counts = np.unique(a.reshape(-1), return_inverse=True,
                                            return_counts=True)
        inverse = inverse.reshape(a.shape)
    result = [_from_host(values, input.dtype)]
    if return_inverse:
        result.append(_from_host(inverse.astype(np.int64)))
    if return_counts:
        result.append(_from_host(counts.astype(np.int64)))
    return result[0] if len(result) == 1 else tuple(result)


@decomposition("unique_consecutive")
def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):
    if dim is not None:
        raise NotImplementedError("unique_consecutive(dim=...) is not supported yet")
    a = _host(input).reshape(-1)
    if a.size == 0:
        starts = np.zeros(0, dtype=bool)
    else:
        starts = np.concatenate([[True], a[1:] != a[:-1]])
    values = a[starts]
    result = [_from_host(values, input.dtype)]
    if return_inverse:
        result.append(_from_host((np.cumsum(starts) - 1).reshape(_host(input).shape)))
    if return_counts:
        positions = np.flatnonzero(np.concatenate([starts, [True]]))
        result.append(_from_host(np.diff(positions).astype(np.int64)))
    return result[0] if len(result) == 1 else tuple(result)


@decomposition("bincount")
def bincount(input, weights=None, minlength=0):
    a = _host(input)
    if a.ndim != 1:
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if a.size and a.min() < 0:
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if weights is None:
        return _from_host(np.bincount(a, minlength=minlength).astype(np.int64))
    length = builtins.max(minlength, int(a.max()) + 1 if a.size else 0)
    dtype = weights.dtype if _is_float(weights) else _C.float64
    zeros = _C.zeros([length], dtype=dtype)
    if a.size == 0:
        return zeros
    return _C._scatter_add_along(zeros, 0, input.to(_int64), weights.to(dtype))


@decomposition("histc")
def histc(input, bins=100, min=0, max=0, *, out=None):
    a = _host(input).astype(np.float64)
    lo, hi = float(min), float(max)
    if lo == hi and a.size:
        lo, hi = float(a.min()), float(a.max())
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    counts, _ = np.histogram(a[(a >= lo) & (a <= hi)], bins=bins, range=(lo, hi))
    return _out(_from_host(counts, input.dtype), out)


@decomposition("searchsorted", method=False)
def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None,
                 sorter=None):
    if side is not None:
        right = side == "right"
    seq = sorted_sequence
    if sorter is not None:
        seq = _gather_any(seq, -1, sorter)
    scalar = not isinstance(input, Tensor)
    values = _tensor(input, seq)
    if not isinstance(input, Tensor):
        values = _dev(values, seq)
    if seq.dim() == 1:
        v = values.unsqueeze(-1)
        s = seq
    else:
        v = values.unsqueeze(-1)
        s = seq.unsqueeze(-2)
    hits = (s <= v) if right else (s < v)
    result = hits.to(_int64).sum(-1)
    if scalar:
        result = result.reshape([])
    return result.to(_C.int32) if out_int32 else result


@decomposition("bucketize", method=False)
def bucketize(input, boundaries, *, out_int32=False, right=False):
    # bucketize's `right` is searchsorted's `side` inverted.
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


# ---------------------------------------------------------------------------
# Indexing
# ---------------------------------------------------------------------------

@decomposition("gather")
def gather(input, dim, index, *, sparse_grad=False, out=None):
    return _out(_gather_any(input, dim, index), out)


@decomposition("take_along_dim")
def take_along_dim(input, indices, dim=None, *, out=None):
    if dim is None:
        return _out(_gather_any(input.reshape(-1), 0, indices.reshape(-1)), out)
    dim = _wrap(dim, input.dim())
    shape = list(builtins.max(a, b) for a, b in zip(input.shape, indices.shape))
    shape_in = list(shape)
    shape_in[dim] = input.shape[dim]
    shape_ix = list(shape)
    shape_ix[dim] = indices.shape[dim]
    return _out(_gather_any(input.expand(shape_in), dim, indices.expand(shape_ix)), out)


@decomposition("take")
def take(input, index):
    flat = input.reshape(-1)
    return _C.index_select(flat, 0, index.reshape(-1).to(_int64)).reshape(list(index.shape))


def _scatter_sum(input, dim, index, src):
    """input with src[index-shaped part] added at scatter positions."""
    if index.numel() == 0:
        return input.clone()
    shape = list(input.shape)
    dim = _wrap(dim, input.dim())
    _check_bounds(index, dim, shape[dim])
    linear = _linear_index(shape, dim, index)
    src = _narrow_to(src, list(index.shape)).reshape(-1)
    flat = _C._scatter_add_along(input.reshape(-1), 0, linear, src.to(input.dtype))
    return flat.reshape(shape)


def _scatter_mask(input, dim, index):
    hits = _scatter_sum(_dev(_C.zeros(list(input.shape), dtype=_C.int32), input), dim,
                        index, _dev(_C.ones(list(index.shape), dtype=_C.int32), input))
    return hits


@decomposition("scatter_add")
def scatter_add(input, dim, index, src):
    if input.dtype == _bool:
        return scatter_add(input.to(_C.int32), dim, index, src.to(_C.int32)) != 0
    if input.dim() == 0:
        return input + src.reshape([]) if index.numel() else input.clone()
    return _scatter_sum(input, dim, index, src)


@decomposition("scatter")
def scatter(input, dim, index, src=None, value=None, *, reduce=None):
    if src is None:
        src = value
    if not isinstance(src, Tensor):
        src = _dev(_C.full(list(index.shape), src, dtype=input.dtype), input)
    if input.dtype == _bool:
        return scatter(input.to(_C.int32), dim, index, src.to(_C.int32),
                       reduce=reduce) != 0
    if input.dim() == 0:
        return src.reshape([]).to(input.dtype) if index.numel() else input.clone()
    if reduce == "add":
        return _scatter_sum(input, dim, index, src)
    if reduce == "multiply":
        return _scatter_reduce_on_host(input, dim, index, src, "prod", True)
    hits = _scatter_mask(input, dim, index)
    # Positions written more than once take the mean of their writes (torch
    # leaves the choice undefined).
    written = _scatter_sum(_C.zeros_like(input), dim, index, src)
    safe = _C.where(hits == 0, 1, hits).to(input.dtype)
    values = written / safe if _is_float(input) else written
    return _C.where(hits > 0, values, input)


@decomposition("scatter_reduce")
def scatter_reduce(input, dim, index, src, reduce, *, include_self=True):
    if input.dtype == _bool and reduce == "sum":
        return scatter_reduce(input.to(_C.int32), dim, index, src.to(_C.int32), reduce,
                              include_self=include_self) != 0
    if reduce in ("sum", "mean"):
        base = input if include_self else _C.where(_scatter_mask(input, dim, index) > 0,
                                                    0, input)
        total = _scatter_sum(base, dim, index, src)
        if reduce == "sum":
            return total
        count = _scatter_mask(input, dim, index).to(input.dtype)
        count = count + (1 if include_self else 0)
        count = _C.where(count == 0, 1, count)
        result = total / count
        return result if _is_float(input) else _C.floor(result).to(input.dtype)
    if reduce in ("amax", "amin", "prod"):
        return _scatter_reduce_on_host(input, dim, index, src, reduce, include_self)
    raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, "
                       f"got {reduce}")


def _scatter_reduce_on_host(input, dim, index, src, reduce, include_self):
    """amax/amin/prod: which element wins (or the product) is found on the
    host; the result picks the winners with gather (amax/amin) or adds the
    product's exact first-order term (prod), so gradients flow to both."""
    if input.dim() == 0:
        input, index, src = input.reshape(1), index.reshape(1), src.reshape(1)
        return _scatter_reduce_on_host(input, 0, index, src, reduce,
                                       include_self).reshape([])
    dim = _wrap(dim, input.dim())
    shape = list(input.shape)
    flat = input.reshape(-1)
    if index.numel() == 0:
        return input.clone()
    linear = _linear_index(shape, dim, index)
    src_flat = _narrow_to(src, list(index.shape)).reshape(-1).to(input.dtype)
    positions = _host(linear)
    values = _host(src_flat).astype(np.float64)
    base = _host(flat).astype(np.float64)
    hit = np.zeros(base.shape, dtype=bool)
    hit[positions] = True
    if reduce == "prod":
        product = base.copy() if include_self else np.ones_like(base)
        np.multiply.at(product, positions, values)
        result = _dev(_from_host(np.where(hit, product, base)).to(input.dtype), input)
        if src.requires_grad or input.requires_grad:
            with np.errstate(divide="ignore", invalid="ignore"):
                per_source = np.where(values != 0, product[positions] / values, 0.0)
                per_self = np.where(base != 0, product / base, 0.0)
            delta = _dev(_from_host(per_source).to(input.dtype), input) * \
                (src_flat - src_flat.detach())
            term = _C._scatter_add_along(_C.zeros_like(flat), 0, linear, delta)
            if include_self:
                self_weight = _dev(_from_host(np.where(hit, per_self, 1.0)).to(input.dtype),
                                   input)
                term = term + self_weight * (flat - flat.detach())
            else:
                term = term + _dev(_from_host((~hit).astype(np.float64)).to(input.dtype),
                                   input) * (flat - flat.detach())
            result = result + term
        return result.reshape(shape)
    better = np.greater if reduce == "amax" else np.less
    best = np.full(base.shape, -np.inf if reduce == "amax" else np.inf)
    (np.maximum if reduce == "amax" else np.minimum).at(best, positions, values)
    # The first source that reaches the extreme wins; the element itself wins
    # when it is at least as extreme (include_self).
    winner = np.full(base.shape, -1, dtype=np.int64)
    for j in range(len(positions) - 1, -1, -1):
        if values[j] == best[positions[j]] or np.isnan(values[j]):
            winner[positions[j]] = j
    if include_self:
        self_wins = ~better(best, base) | np.isnan(base)
        winner = np.where(self_wins, -1, winner)
    pick = _dev(_from_host(np.maximum(winner, 0)), input)
    chosen = _C.index_select(src_flat, 0, pick)
    takes_source = _dev(_from_host(winner >= 0), input)
    return _C.where(takes_source, chosen, flat).reshape(shape)


@decomposition("index_add")
def index_add(input, dim, index, source, *, alpha=1):
    if input.dtype == _bool:
        total = index_add(input.to(_C.int32), dim, index, source.to(_C.int32),
                          alpha=int(bool(alpha)))
        return total != 0
    if not _is_float(input):
        alpha = int(alpha)
    if input.dim() == 0:
        return input + alpha * source.reshape([])
    scaled = source if alpha == 1 else source * alpha
    return _C._scatter_add_along(input, _wrap(dim, input.dim()), index, scaled)


def _index_mask(input, dim, index):
    dim = _wrap(dim, input.dim())
    n = input.shape[dim]
    hits = _C._scatter_add_along(_dev(_C.zeros([n], dtype=_C.int32), input), 0,
                                 index.reshape(-1),
                                 _dev(_C.ones([index.numel()], dtype=_C.int32), input))
    shape = [1] * input.dim()
    shape[dim] = n
    return hits.reshape(shape) > 0


@decomposition("index_fill")
def index_fill(input, dim, index, value):
    if input.dim() == 0:
        return _C.full([], value, dtype=input.dtype) if index.numel() else input.clone()
    return _C.where(_index_mask(input, dim, index), value, input)


@decomposition("index_copy")
def index_copy(input, dim, index, source):
    if input.dim() == 0:
        return input * 0 + source.reshape([])
    if input.dtype == _bool:
        return index_copy(input.to(_C.int32), dim, index, source.to(_C.int32)).to(_bool)
    dim = _wrap(dim, input.dim())
    placed = _C._scatter_add_along(_C.zeros_like(input), dim, index, source)
    return _C.where(_index_mask(input, dim, index), placed, input)


@decomposition("masked_fill")
def masked_fill(input, mask, value):
    if mask.dtype != _bool:
        raise RuntimeError(f"masked_fill_ only supports boolean masks, but got mask "
                           f"with dtype {mask.dtype}")
    if isinstance(value, Tensor):
        if value.dim() != 0:
            raise RuntimeError(f"masked_fill_ only supports a 0-dimensional value "
                               f"tensor, but got tensor with {value.dim()} dimension(s).")
        value = value.to(input.dtype)
    result = _C.where(mask, value, input)
    if tuple(result.shape) != tuple(input.shape):
        raise RuntimeError(f"masked_fill: the mask of shape {tuple(mask.shape)} does "
                           f"not broadcast to the input's {tuple(input.shape)}")
    return result.to(input.dtype)


@decomposition("masked_scatter")
def masked_scatter(input, mask, source):
    shape = list(np.broadcast_shapes(tuple(input.shape), tuple(mask.shape)))
    input, mask = input.expand(shape), mask.expand(shape)
    flat_mask = _host(mask).reshape(-1)
    positions = np.cumsum(flat_mask) - 1
    positions = np.clip(positions, 0, None)
    picked = _C.index_select(source.reshape(-1), 0,
                             _dev(_from_host(positions.astype(np.int64)), source))
    return _C.where(mask, picked.reshape(list(input.shape)), input)


@decomposition("nonzero")
def nonzero(input, *, out=None, as_tuple=False):
    a = _host(input)
    if as_tuple:
        if a.ndim == 0:
            return (_from_host(np.nonzero(a.reshape(1))[0].astype(np.int64)),)
        return tuple(_from_host(i.astype(np.int64)) for i in np.nonzero(a))
    return _out(_from_host(np.argwhere(a).astype(np.int64)), out)


@decomposition("argwhere")
def argwhere(input):
    return nonzero(input)


# ---------------------------------------------------------------------------
# Shapes
# ---------------------------------------------------------------------------

def _matrix_positions(rows, cols, like=None):
    r = _C.arange(rows).reshape(rows, 1)
    c = _C.arange(cols).reshape(1, cols)
    if like is not None:
        r, c = _dev(r, like), _dev(c, like)
    return r, c


@decomposition("tril")
def tril(input, diagonal=0, *, out=None):
    if input.dim() < 2:
        raise RuntimeError("tril: input tensor must have at least 2 dimensions")
    r, c = _matrix_positions(input.shape[-2], input.shape[-1], input)
    return _out(_C.where(c - r <= diagonal, input, _C.zeros([], dtype=input.dtype)), out)


@decomposition("triu")
def triu(input, diagonal=0, *, out=None):
    if input.dim() < 2:
        raise RuntimeError("triu: input tensor must have at least 2 dimensions")
    r, c = _matrix_positions(input.shape[-2], input.shape[-1], input)
    return _out(_C.where(c - r >= diagonal, input, _C.zeros([], dtype=input.dtype)), out)


@decomposition("diagonal")
def diagonal(input, offset=0, dim1=0, dim2=1):
    x = input
    nd = x.dim()
    d1, d2 = _wrap(dim1, nd), _wrap(dim2, nd)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    rest = [d for d in range(nd) if d not in (d1, d2)]
    moved = x.permute(rest + [d1, d2])
    rows, cols = x.shape[d1], x.shape[d2]
    if offset >= 0:
        length = builtins.max(0, builtins.min(rows, cols - offset))
        start_r, start_c = 0, offset
    else:
        length = builtins.max(0, builtins.min(rows + offset, cols))
        start_r, start_c = -offset, 0
    batch = [x.shape[d] for d in rest]
    flat = moved.reshape(batch + [rows * cols])
    i = _arange(length, x)
    index = (i + start_r) * cols + (i + start_c)
    return _C.index_select(flat, len(batch), index)


@decomposition("diag_embed")
def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    x = input
    n = x.shape[-1]
    size = n + abs(offset)
    r, c = _matrix_positions(size, size, x)
    on = (c - r) == offset
    pick = _C.clamp(_C.minimum(r, c), 0, builtins.max(n - 1, 0))
    values = _C.index_select(x, x.dim() - 1, pick.reshape(-1)).reshape(
        list(x.shape[:-1]) + [size, size])
    result = _C.where(on, values, _C.zeros([], dtype=x.dtype))
    nd = result.dim()
    d1, d2 = _wrap(dim1, nd), _wrap(dim2, nd)
    if (d1, d2) != (nd - 2, nd - 1):
        rest = list(range(nd - 2))
        order = [None] * nd
        order[d1], order[d2] = nd - 2, nd - 1
        it = iter(rest)
        order = [o if o is not None else next(it) for o in order]
        result = result.permute(order)
    return result


@decomposition("diag")
def diag(input, diagonal=0, *, out=None):
    if input.dim() == 1:
        return _out(diag_embed(input, diagonal), out)
    if input.dim() == 2:
        return _out(globals()["diagonal"](input, diagonal), out)
    raise RuntimeError("diag(): Supports 1D or 2D tensors. Got " + str(input.dim()) + "D")


@decomposition("trace")
def trace(input):
    return globals()["diagonal"](input).sum()


@decomposition("narrow")
def narrow(input, dim, start, length):
    dim = _wrap(dim, input.dim())
    if isinstance(start, Tensor):
        start = int(start.item())
    size = input.shape[dim]
    if start < 0:
        start += size
    if not (0 <= start <= size and 0 <= length and start + length <= size):
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension "
                           f"size ({size}).")
    return input[(slice(None),) * dim + (slice(start, start + length),)]


@decomposition("split")
def split(tensor, split_size_or_sections, dim=0):
    dim = _wrap(dim, tensor.dim())
    size = tensor.shape[dim]
    if isinstance(split_size_or_sections, int):
        step = split_size_or_sections
        if step <= 0 and size:
            raise RuntimeError("split expects split_size be non-negative")
        sizes = [builtins.min(step, size - s) for s in range(0, size, step)] or [0]
    else:
        sizes = list(split_size_or_sections)
        if sum(sizes) != size:
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly "
                               f"to {size} (input tensor's size at dimension {dim}), "
                               f"but got split_sizes={sizes}")
    result, start = [], 0
    for s in sizes:
        result.append(narrow(tensor, dim, start, s))
        start += s
    return tuple(result)


@decomposition("split_with_sizes")
def split_with_sizes(input, split_sizes, dim=0):
    return split(input, list(split_sizes), dim)


@decomposition("chunk")
def chunk(input, chunks, dim=0):
    if chunks <= 0:
        raise RuntimeError("chunk expects `chunks` to be greater than 0, got: " + str(chunks))
    size = input.shape[_wrap(dim, input.dim())]
    step = builtins.max(1, -(-size // chunks))
    return split(input, step, dim)


@decomposition("tensor_split")
def tensor_split(input, indices_or_sections, dim=0):
    dim = _wrap(dim, input.dim())
    size = input.shape[dim]
    if isinstance(indices_or_sections, Tensor):
        indices_or_sections = indices_or_sections.tolist()
    if isinstance(indices_or_sections, int):
        n = indices_or_sections
        base, extra = divmod(size, n)
        sizes = [base + 1] * extra + [base] * (n - extra)
        bounds = np.cumsum([0] + sizes)
    else:
        bounds = [0] + [builtins.min(builtins.max(i if i >= 0 else i + size, 0), size)
                        for i in indices_or_sections] + [size]
    return tuple(narrow(input, dim, int(a), builtins.max(int(b) - int(a), 0))
                 for a, b in zip(bounds[:-1], bounds[1:]))


@decomposition("hsplit")
def hsplit(input, sections):
    return tensor_split(input, sections, 1 if input.dim() > 1 else 0)


@decomposition("vsplit")
def vsplit(input, sections):
    return tensor_split(input, sections, 0)


@decomposition("unbind")
def unbind(input, dim=0):
    dim = _wrap(dim, input.dim())
    return tuple(input.select(dim, i) for i in range(input.shape[dim]))


@decomposition("movedim", "moveaxis")
def movedim(input, source, destination):
    nd = input.dim()
    src = [source] if isinstance(source, int) else list(source)
    dst = [destination] if isinstance(destination, int) else list(destination)
    src = [_wrap(s, nd) for s in src]
    dst = [_wrap(d, nd) for d in dst]
    order = [None] * nd
    for s, d in zip(src, dst):
        order[d] = s
    rest = iter(d for d in range(nd) if d not in src)
    order = [o if o is not None else next(rest) for o in order]
    return input.permute(order) if nd else input


@decomposition("swapaxes", "swapdims")
def swapaxes(input, axis0, axis1):
    return input.transpose(axis0, axis1)


@decomposition("flip")
def flip(input, dims):
    if isinstance(dims, int):
        dims = [dims]
    result = input
    for d in dims:
        d = _wrap(d, input.dim())
        n = input.shape[d]
        result = _C.index_select(result, d, _dev(_C.arange(n - 1, -1, -1), input))
    return result if dims else input.clone()


@decomposition("fliplr")
def fliplr(input):
    return flip(input, [1])


@decomposition("flipud")
def flipud(input):
    return flip(input, [0])


@decomposition("roll")
def roll(input, shifts, dims=None):
    if dims is None:
        return roll(input.reshape(-1), shifts, 0).reshape(list(input.shape))
    if isinstance(shifts, int):
        shifts = [shifts]
    if isinstance(dims, int):
        dims = [dims]
    result = input
    for shift, d in zip(shifts, dims):
        d = _wrap(d, input.dim())
        n = input.shape[d]
        if n == 0:
            continue
        index = _C.remainder(_arange(n, input) - shift, n)
        result = _C.index_select(result, d, index)
    return result


@decomposition("rot90")
def rot90(input, k=1, dims=(0, 1)):
    d0, d1 = dims
    k %= 4
    if k == 0:
        return input.clone()
    if k == 1:
        return flip(input, [d1]).transpose(d0, d1)
    if k == 2:
        return flip(input, [d0, d1])
    return flip(input, [d0]).transpose(d0, d1)


@decomposition("repeat", function=False)
def repeat(input, *sizes):
    if len(sizes) == 1 and not isinstance(sizes[0], int):
        sizes = tuple(sizes[0])
    if len(sizes) < input.dim():
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller "
                           "than number of dimensions of tensor")
    x = input.reshape([1] * (len(sizes) - input.dim()) + list(input.shape))
    expanded, final = [], []
    for r, s in zip(sizes, x.shape):
        expanded += [r, s]
        final.append(r * s)
    interleaved = x.reshape([v for s in x.shape for v in (1, s)])
    return interleaved.expand(expanded).reshape(final)


@decomposition("tile")
def tile(input, dims):
    dims = tuple(dims)
    if len(dims) < input.dim():
        dims = (1,) * (input.dim() - len(dims)) + dims
    return repeat(input, *dims)


@decomposition("repeat_interleave")
def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    if repeats is None:  # repeat_interleave(repeats_tensor)
        counts = _host(input).astype(np.int64)
        return _from_host(np.repeat(np.arange(counts.size), counts).astype(np.int64))
    x = input if dim is not None else input.reshape(-1)
    dim = 0 if dim is None else _wrap(dim, x.dim())
    if isinstance(repeats, Tensor) and repeats.numel() != 1:
        counts = _host(repeats).astype(np.int64)
        index = np.repeat(np.arange(x.shape[dim]), counts)
        return _C.index_select(x, dim, _dev(_from_host(index.astype(np.int64)), x))
    r = int(repeats.item()) if isinstance(repeats, Tensor) else int(repeats)
    shape = list(x.shape)
    expanded = shape[:dim + 1] + [r] + shape[dim + 1:]
    result = x.unsqueeze(dim + 1).expand(expanded)
    shape[dim] *= r
    return result.reshape(shape)


@decomposition("meshgrid", method=False)
def meshgrid(*tensors, indexing="ij"):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    sizes = [t.numel() for t in tensors]
    if indexing == "xy" and len(tensors) >= 2:
        sizes[0], sizes[1] = sizes[1], sizes[0]
    result = []
    for i, t in enumerate(tensors):
        shape = [1] * len(tensors)
        axis = i
        if indexing == "xy" and len(tensors) >= 2 and i < 2:
            axis = 1 - i
        shape[axis] = t.numel()
        result.append(t.reshape(shape).expand(sizes))
    return tuple(result)


@decomposition("atleast_1d", method=False)
def atleast_1d(*tensors):
    result = tuple(t.reshape(1) if t.dim() == 0 else t for t in tensors)
    return result[0] if len(result) == 1 else result


@decomposition("atleast_2d", method=False)
def atleast_2d(*tensors):
    result = tuple(t.reshape([1] * (2 - t.dim()) + list(t.shape)) if t.dim() < 2 else t
                   for t in tensors)
    return result[0] if len(result) == 1 else result


@decomposition("ravel")
def ravel(input):
    return input.reshape(-1)


@decomposition("column_stack", method=False)
def column_stack(tensors):
    return _C.cat([t.reshape(-1, 1) if t.dim() < 2 else t for t in tensors], 1)


@decomposition("hstack", method=False)
def hstack(tensors):
    tensors = [t.reshape(1) if t.dim() == 0 else t for t in tensors]
    return _C.cat(tensors, 0 if tensors[0].dim() == 1 else 1)


@decomposition("vstack", "row_stack", method=False)
def vstack(tensors):
    return _C.cat([atleast_2d(t) for t in tensors], 0)


@decomposition("dstack", method=False)
def dstack(tensors):
    ts = []
    for t in tensors:
        t = atleast_2d(t)
        ts.append(t.unsqueeze(-1) if t.dim() == 2 else t)
    return _C.cat(ts, 2)


# ---------------------------------------------------------------------------
# Products
# ---------------------------------------------------------------------------

@decomposition("outer", "ger")
def outer(input, vec2):
    return input.reshape(-1, 1) * vec2.reshape(1, -1)


@decomposition("dot", "inner")
def dot(input, other):
    if input.dim() == 0 or other.dim() == 0:
        return input * other
    if input.dim() == 1 and other.dim() == 1:
        if input.shape[0] != other.shape[0]:
            raise RuntimeError(f"inner() the last dimension must match on both input "
                               f"tensors but got shapes {tuple(input.shape)} and "
                               f"{tuple(other.shape)}")
        return (input * other).sum()
    return tensordot(input, other, ([input.dim() - 1], [other.dim() - 1]))


@decomposition("vdot")
def vdot(input, other):
    return (input * other).sum()


@decomposition("mv")
def mv(input, vec):
    return input @ vec


def _scaled_sum(input, product, beta, alpha):
    """beta * input + alpha * product with torch's rules: integer tensors
    take integer factors, bool ones logical and/or, and beta == 0 ignores
    input (NaN included)."""
    if input.dtype == _bool:
        result = product if alpha else _C.zeros_like(product)
        return (result | input) if beta else result
    if not _is_float(input) and not _is_float(product):
        beta, alpha = int(beta), int(alpha)
    scaled = product if alpha == 1 else alpha * product
    if beta == 0:
        return scaled + _C.zeros_like(input)
    return scaled + (input if beta == 1 else beta * input)


@decomposition("addmm")
def addmm(input, mat1, mat2, *, beta=1, alpha=1, out=None):
    return _out(_scaled_sum(input, mat1 @ mat2, beta, alpha), out)


@decomposition("addmv")
def addmv(input, mat, vec, *, beta=1, alpha=1, out=None):
    return _out(_scaled_sum(input, mat @ vec, beta, alpha), out)


@decomposition("addbmm")
def addbmm(input, batch1, batch2, *, beta=1, alpha=1, out=None):
    return _out(_scaled_sum(input, (batch1 @ batch2).sum(0), beta, alpha), out)


@decomposition("baddbmm")
def baddbmm(input, batch1, batch2, *, beta=1, alpha=1, out=None):
    return _out(_scaled_sum(input, batch1 @ batch2, beta, alpha), out)


@decomposition("addr")
def addr(input, vec1, vec2, *, beta=1, alpha=1, out=None):
    if vec1.dtype == _bool:
        product = vec1.reshape(-1, 1) & vec2.reshape(1, -1)
    else:
        product = outer(vec1, vec2)
    return _out(_scaled_sum(input, product, beta, alpha), out)


@decomposition("tensordot", method=False)
def tensordot(a, b, dims=2, out=None):
    if isinstance(dims, int):
        da = list(range(a.dim() - dims, a.dim()))
        db = list(range(dims))
    else:
        da, db = dims
        da = [da] if isinstance(da, int) else list(da)
        db = [db] if isinstance(db, int) else list(db)
    da = [_wrap(d, a.dim()) for d in da]
    db = [_wrap(d, b.dim()) for d in db]
    free_a = [d for d in range(a.dim()) if d not in da]
    free_b = [d for d in range(b.dim()) if d not in db]
    k = 1
    for d in da:
        k *= a.shape[d]
    left = a.permute(free_a + da).reshape(-1, k) if a.dim() else a.reshape(1, 1)
    right = b.permute(db + free_b).reshape(k, -1) if b.dim() else b.reshape(1, 1)
    shape = [a.shape[d] for d in free_a] + [b.shape[d] for d in free_b]
    return _out((left @ right).reshape(shape), out)


@decomposition("kron")
def kron(input, other):
    nd = builtins.max(input.dim(), other.dim())
    a = input.reshape([1] * (nd - input.dim()) + list(input.shape))
    b = other.reshape([1] * (nd - other.dim()) + list(other.shape))
    a = a.reshape([v for s in a.shape for v in (s, 1)])
    b = b.reshape([v for s in b.shape for v in (1, s)])
    return (a * b).reshape([x * y for x, y in zip(input.reshape(
        [1] * (nd - input.dim()) + list(input.shape)).shape, other.reshape(
        [1] * (nd - other.dim()) + list(other.shape)).shape)])


@decomposition("cross")
def cross(input, other, dim=None):
    shape = list(np.broadcast_shapes(tuple(input.shape), tuple(other.shape)))
    a, b = input.expand(shape), other.expand(shape)
    if dim is None:
        dim = next((d for d, s in enumerate(shape) if s == 3), None)
        if dim is None:
            raise RuntimeError(f"linalg.cross: no dimension of size 3 in input (shapes "
                               f"{tuple(input.shape)} and {tuple(other.shape)})")
    dim = _wrap(dim, len(shape))
    if shape[dim] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3. "
                           f"Got {input.shape[dim]} and {other.shape[dim]}")
    a0, a1, a2 = (a.select(dim, i) for i in range(3))
    b0, b1, b2 = (b.select(dim, i) for i in range(3))
    return _C.stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], dim)


@decomposition("cdist", method=False)
def cdist(x1, x2, p=2.0, compute_mode=None):
    diff = x1.unsqueeze(-2) - x2.unsqueeze(-3)
    if p == 2:
        return _C.sqrt((diff * diff).sum(-1))
    if p == 1:
        return _C.abs(diff).sum(-1)
    if p == math.inf:
        return _C.abs(diff).amax(-1)
    if p == 0:
        return (diff != 0).to(x1.dtype).sum(-1)
    return _C.pow(_C.pow(_C.abs(diff), p).sum(-1), 1.0 / p)


def _einsum_parse(equation, operands):
    equation = equation.replace(" ", "")
    if "->" in equation:
        inputs, output = equation.split("->")
    else:
        inputs, output = equation, None
    terms = inputs.split(",")
    if len(terms) != len(operands):
        raise ValueError(f"einsum(): the equation has {len(terms)} operands but "
                         f"{len(operands)} were given")
    used = set(c for c in equation if c.isalpha())
    spare = iter(c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                 if c not in used)
    ell = None
    expanded = []
    for term, op in zip(terms, operands):
        if "..." in term:
            n = op.dim() - (len(term) - 3)
            if ell is None or len(ell) < n:
                extra = "".join(next(spare) for _ in range(n - (len(ell) if ell else 0)))
                ell = extra + (ell or "")
            term = term.replace("...", ell[len(ell) - n:] if n else "")
        if len(term) != op.dim():
            raise RuntimeError(f"einsum(): the number of subscripts in the equation "
                               f"({len(term)}) does not match the number of dimensions "
                               f"({op.dim()}) for operand {len(expanded)}")
        expanded.append(term)
    if output is None:
        counts = {}
        for term in expanded:
            for c in term:
                counts[c] = counts.get(c, 0) + 1
        output = (ell or "") + "".join(sorted(c for c, n in counts.items()
                                              if n == 1 and (ell is None or c not in ell)))
    else:
        output = output.replace("...", ell or "")
    return expanded, output


def _einsum_diagonal(term, op):
    """Takes the diagonal of repeated labels within one operand."""
    while len(set(term)) != len(term):
        for i, c in enumerate(term):
            j = term.find(c, i + 1)
            if j >= 0:
                op = globals()["diagonal"](op, 0, i, j)
                term = term[:i] + term[i + 1:j] + term[j + 1:] + c
                break
    return term, op


def _einsum_pair(ta, a, tb, b, keep):
    """Contracts two operands; `keep` lists labels needed afterwards."""
    batch = [c for c in ta if c in tb and c in keep]
    contract = [c for c in ta if c in tb and c not in keep]
    left = [c for c in ta if c not in tb]
    right = [c for c in tb if c not in ta]
    size = {}
    for t, op in ((ta, a), (tb, b)):
        for c, s in zip(t, op.shape):
            size[c] = builtins.max(size.get(c, 1), s)
    pa = a.permute([ta.index(c) for c in batch + left + contract])
    pb = b.permute([tb.index(c) for c in batch + contract + right])
    bshape = [size[c] for c in batch]
    nb = int(np.prod(bshape)) if batch else 1
    nl = int(np.prod([size[c] for c in left])) if left else 1
    nk = int(np.prod([size[c] for c in contract])) if contract else 1
    nr = int(np.prod([size[c] for c in right])) if right else 1
    pa = pa.expand(bshape + [pa.shape[i] for i in range(len(batch), pa.dim())]) \
        if batch else pa
    pb = pb.expand(bshape + [pb.shape[i] for i in range(len(batch), pb.dim())]) \
        if batch else pb
    result = pa.reshape(nb, nl, nk) @ pb.reshape(nb, nk, nr)
    term = batch + left + right
    return "".join(term), result.reshape([size[c] for c in term])


@decomposition("einsum", method=False)
def einsum(equation, *operands):
    if not isinstance(equation, str):  # einsum(operands, equation)
        equation, operands = operands[0], (equation,)
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    terms, output = _einsum_parse(equation, operands)
    sizes = {}
    for number, (term, op) in enumerate(zip(terms, operands)):
        for label, size in zip(term, op.shape):
            seen = sizes.setdefault(label, size)
            if size != seen and 1 not in (size, seen):
                raise RuntimeError(f"einsum(): subscript {label} has size {size} for "
                                   f"operand {number} which does not broadcast with "
                                   f"previously seen size {seen}")
            sizes[label] = builtins.max(seen, size)
    ops = []
    for term, op in zip(terms, operands):
        term, op = _einsum_diagonal(term, op)
        # Sum labels that appear nowhere else.
        others = output + "".join(t for t2, t in zip(terms, terms) if t2 is not term)
        lonely = [i for i, c in enumerate(term)
                  if c not in output and sum(c in t for t in terms) == 1]
        if lonely:
            op = op.sum(lonely)
            term = "".join(c for i, c in enumerate(term) if i not in lonely)
        ops.append((term, op))
    term, result = ops[0]
    for i in range(1, len(ops)):
        keep = output + "".join(t for t, _ in ops[i + 1:])
        term, result = _einsum_pair(term, result, ops[i][0], ops[i][1], keep)
    # Labels left that the output does not name are summed.
    extra = [i for i, c in enumerate(term) if c not in output]
    if extra:
        result = result.sum(extra)
        term = "".join(c for c in term if c in output)
    if term != output:
        result = result.permute([term.index(c) for c in output]) if output else result
    return result


# ---------------------------------------------------------------------------
# Creation
# ---------------------------------------------------------------------------

def _size_args(size):
    if len(size) == 1 and not isinstance(size[0], int):
        return list(size[0])
    return list(size)


@decomposition("eye", method=False)
def eye(n, m=None, *, dtype=None, device=None, requires_grad=False, out=None):
    m = n if m is None else m
    r, c = _matrix_positions(n, m)
    result = (r == c).to(dtype or _default_float())
    if device is not None and str(device) != "cpu":
        result = result.to(device)
    if requires_grad:
        result.requires_grad_(True)
    return _out(result, out)


@decomposition("empty_strided", method=False)
def empty_strided(size, stride, *, dtype=None, device=None, requires_grad=False):
    result = _C.empty(list(size), dtype=dtype)
    if device is not None:
        result = result.to(device)
    return result.requires_grad_(True) if requires_grad else result


@decomposition("logspace", method=False)
def logspace(start, end, steps, base=10.0, *, dtype=None, device=None,
             requires_grad=False):
    exponents = _C.linspace(start, end, steps, dtype=_C.float64)
    result = _C.pow(_C.full([], float(base), dtype=_C.float64), exponents)
    return result.to(dtype or _default_float())


@decomposition("tril_indices", method=False)
def tril_indices(row, col, offset=0, *, dtype=None, device=None):
    r, c = np.tril_indices(row, offset, col)
    return _from_host(np.stack([r, c]).astype(np.int64), dtype)


@decomposition("triu_indices", method=False)
def triu_indices(row, col, offset=0, *, dtype=None, device=None):
    r, c = np.triu_indices(row, offset, col)
    return _from_host(np.stack([r, c]).astype(np.int64), dtype)


@decomposition("scalar_tensor", method=False)
def scalar_tensor(s, *, dtype=None, device=None, requires_grad=False):
    return _C.full([], s, dtype=dtype or _default_float())


# ---------------------------------------------------------------------------
# Primitive bindings completed to torch's signatures
# ---------------------------------------------------------------------------

@decomposition("select")
def select(input, dim, index):
    dim = _wrap(dim, input.dim())
    return input[(slice(None),) * dim + (index,)]


_index_select_primitive = _C.index_select


@decomposition("index_select")
def index_select(input, dim, index, *, out=None):
    if input.dim() == 0:
        _C._check_index_select(input.reshape(1), 0, index.reshape(-1))
        picked = _index_select_primitive(input.reshape(1), 0, index.reshape(-1))
        return _out(picked.reshape([]), out)
    if index.dim() == 0:
        index = index.reshape(1)
    _C._check_index_select(input, dim, index)
    return _out(_index_select_primitive(input, dim, index), out)


_masked_select_primitive = _C.masked_select


@decomposition("masked_select")
def masked_select(input, mask, *, out=None):
    if tuple(input.shape) != tuple(mask.shape):
        shape = list(np.broadcast_shapes(tuple(input.shape), tuple(mask.shape)))
        input, mask = input.expand(shape), mask.expand(shape)
    return _out(_masked_select_primitive(input.reshape(-1), mask.reshape(-1)), out)


def _like_factory(name):
    primitive = getattr(_C, name)

    def factory(input, *args, dtype=None, layout=None, device=None, requires_grad=False,
                memory_format=None, pin_memory=False):
        result = primitive(input, *args, dtype=dtype)
        if device is not None and str(device) != str(input.device):
            result = result.to(device)
        if requires_grad:
            result.requires_grad_(True)
        return result
    factory.__name__ = name
    return factory


for _name in ("zeros_like", "ones_like", "empty_like", "full_like", "rand_like",
              "randn_like"):
    _FUNCTIONS[_name] = _like_factory(_name)
    DECOMPOSITIONS[_name] = _FUNCTIONS[_name]

_linspace_primitive = _C.linspace


@decomposition("linspace", method=False)
def linspace(start, end, steps, *, out=None, dtype=None, layout=None, device=None,
             requires_grad=False):
    if steps == 1:
        result = _C.full([1], start, dtype=dtype or _default_float())
    else:
        result = _linspace_primitive(start, end, steps, dtype=dtype, device=device)
    if requires_grad:
        result.requires_grad_(True)
    return _out(result, out)


@decomposition("nanmedian")
def nanmedian(input, dim=None, keepdim=False):
    x = input
    if dim is None:
        x, dim = x.reshape(-1), 0
        keepdim = False
        flat = True
    else:
        flat = False
    if x.dim() == 0:
        return x.clone() if flat else _values_indices(x.clone(), _C.zeros([], dtype=_int64))
    dim = _wrap(dim, x.dim())
    a = _host(x)
    order = np.argsort(a, axis=dim, kind="stable")  # NaN sort last
    valid = (~np.isnan(a)).sum(axis=dim, keepdims=True) if a.dtype.kind == "f" \
        else np.full(np.take(a, [0], axis=dim).shape, a.shape[dim])
    pick = np.maximum((valid - 1) // 2, 0)
    # An all-NaN row picks its first NaN.
    index = np.take_along_axis(order, pick, axis=dim)
    index = np.where(valid == 0, 0, index)
    result = _pick_along(x, dim, index, keepdim)
    return result.values if flat else result


# ---------------------------------------------------------------------------
# More composites: comparisons, differences, windows, statistics
# ---------------------------------------------------------------------------

@decomposition("positive")
def positive(input):
    if input.dtype == _bool:
        raise TypeError("The `+` operator, on a bool tensor is not supported.")
    return input


@decomposition("conj", "conj_physical", "resolve_conj", "resolve_neg", "real")
def conj(input):
    """Ember's tensors are real: these return the input."""
    return input


def _nan_ignoring(extreme, input, other, out):
    """fmax/fmin: the extreme of the two, or the one that is not NaN."""
    if not _is_float(_tensor(input)):
        return _out(extreme(input, other), out)
    result = _C.where(input != input, other, _C.where(other != other, input,
                                                      extreme(input, other)))
    return _out(result, out)


@decomposition("fmax")
def fmax(input, other, *, out=None):
    return _nan_ignoring(_C.maximum, input, other, out)


@decomposition("fmin")
def fmin(input, other, *, out=None):
    return _nan_ignoring(_C.minimum, input, other, out)


@decomposition("signbit")
def signbit(input, *, out=None):
    if input.dtype == _bool:
        return _out(_C.zeros_like(input, dtype=_bool), out)
    if not _is_float(input):
        return _out(input < 0, out)
    return _out((input < 0) | ((input == 0) & (1.0 / input < 0)), out)


@decomposition("ldexp")
def ldexp(input, other, *, out=None):
    return _out(_float(input) * _C.exp2(_float(other)), out)


@decomposition("rsub")
def rsub(input, other, *, alpha=1):
    return other - (input if alpha == 1 else alpha * input)


@decomposition("isclose")
def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    if input.dtype == _bool or not _is_float(input):
        if not _is_float(input) and not (isinstance(other, Tensor) and _is_float(other)):
            if rtol == 0 and atol == 0:
                return input == other
            a, b = input.to(_C.float64), _tensor(other).to(_C.float64)
        else:
            a, b = _float(input), _float(_tensor(other))
    else:
        a, b = input, _tensor(other, input)
    close = (a == b) | (_C.abs(a - b) <= atol + rtol * _C.abs(b))
    # Infinities are close only to themselves (inf - inf is NaN).
    finite = isfinite(a) & isfinite(b)
    close = (a == b) | (finite & close)
    if equal_nan:
        close = close | ((a != a) & (b != b))
    return close


@decomposition("allclose")
def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    return bool(all(isclose(input, other, rtol, atol, equal_nan)).item())


@decomposition("equal")
def equal(input, other):
    if tuple(input.shape) != tuple(other.shape):
        return False
    return bool(all(input == other).item()) if input.numel() else True


@decomposition("isin", method=False)
def isin(elements, test_elements, *, assume_unique=False, invert=False):
    e = _tensor(elements)
    t = _tensor(test_elements).reshape(-1)
    if t.numel() == 0:
        hits = _C.zeros_like(e, dtype=_bool)
    else:
        hits = any(e.unsqueeze(-1) == t, -1)
    return ~hits if invert else hits


@decomposition("diff")
def diff(input, n=1, dim=-1, prepend=None, append=None):
    dim = _wrap(dim, input.dim())
    parts = [t for t in (prepend, input, append) if t is not None]
    x = _C.cat(parts, dim) if len(parts) > 1 else input
    for _ in range(n):
        size = x.shape[dim]
        if size == 0:
            break
        later, earlier = narrow(x, dim, 1, size - 1), narrow(x, dim, 0, size - 1)
        x = (later != earlier) if x.dtype == _bool else later - earlier
    return x


@decomposition("broadcast_tensors", method=False)
def broadcast_tensors(*tensors):
    shape = list(np.broadcast_shapes(*[tuple(t.shape) for t in tensors]))
    return tuple(t.expand(shape) for t in tensors)


def broadcast_shapes(*shapes):
    from ember._size import Size
    return Size(np.broadcast_shapes(*[(s,) if isinstance(s, int) else tuple(s)
                                      for s in shapes]))


_FUNCTIONS["broadcast_shapes"] = broadcast_shapes
DECOMPOSITIONS["broadcast_shapes"] = broadcast_shapes


@decomposition("block_diag", method=False)
def block_diag(*tensors):
    mats = [t.reshape(1, -1) if t.dim() < 2 else t for t in tensors]
    mats = [m.reshape(1, 1) if m.dim() == 2 and m.numel() == 1 and
            t.dim() == 0 else m for m, t in zip(mats, tensors)]
    rows = builtins.sum(m.shape[0] for m in mats)
    cols = builtins.sum(m.shape[1] for m in mats)
    dtype = mats[0].dtype
    for m in mats[1:]:
        dtype = (_C.zeros([], dtype=dtype) + _C.zeros([], dtype=m.dtype)).dtype
    result, r = [], 0
    c = 0
    for m in mats:
        left = _dev(_C.zeros([m.shape[0], c], dtype=dtype), m)
        right = _dev(_C.zeros([m.shape[0], cols - c - m.shape[1]], dtype=dtype), m)
        result.append(_C.cat([left, m.to(dtype), right], 1))
        c += m.shape[1]
    return _C.cat(result, 0) if result else _C.zeros([rows, cols])


@decomposition("cartesian_prod", method=False)
def cartesian_prod(*tensors):
    if len(tensors) == 1:
        return tensors[0]
    grids = meshgrid(*tensors, indexing="ij")
    return _C.stack([g.reshape(-1) for g in grids], 1)


@decomposition("combinations", method=False)
def combinations(input, r=2, with_replacement=False):
    import itertools
    n = input.shape[0]
    pick = itertools.combinations_with_replacement if with_replacement else \
        itertools.combinations
    rows = list(pick(range(n), r))
    if not rows:
        return _C.zeros([0, r] if r else [0], dtype=input.dtype)
    index = _dev(_from_host(np.asarray(rows, dtype=np.int64)), input)
    return _C.index_select(input, 0, index.reshape(-1)).reshape(len(rows), r)


@decomposition("dist")
def dist(input, other, p=2):
    return norm(input - other, p)


@decomposition("diagflat")
def diagflat(input, offset=0):
    return diag_embed(input.reshape(-1), offset)


@decomposition("atleast_3d", method=False)
def atleast_3d(*tensors):
    def lift(t):
        if t.dim() == 0:
            return t.reshape(1, 1, 1)
        if t.dim() == 1:
            return t.reshape(1, -1, 1)
        if t.dim() == 2:
            return t.unsqueeze(-1)
        return t
    result = tuple(lift(t) for t in tensors)
    return result[0] if len(result) == 1 else result


@decomposition("unflatten")
def unflatten(input, dim, sizes):
    dim = _wrap(dim, input.dim())
    shape = list(input.shape)
    return input.reshape(shape[:dim] + list(sizes) + shape[dim + 1:])


@decomposition("narrow_copy")
def narrow_copy(input, dim, start, length):
    return narrow(input, dim, start, length).clone()


@decomposition("fill")
def fill(input, value):
    return _C.full_like(input, value.item() if isinstance(value, Tensor) else value)


@decomposition("nansum")
def nansum(input, dim=None, keepdim=False, *, dtype=None):
    x = input if dtype is None else input.to(dtype)
    if _is_float(x):
        x = _C.where(x != x, 0.0, x)
    return x.sum(dim, keepdim=keepdim) if x.dim() else x.clone()


@decomposition("nanmean")
def nanmean(input, dim=None, keepdim=False, *, dtype=None):
    x = input if dtype is None else input.to(dtype)
    valid = (x == x).to(x.dtype)
    count = valid.sum(dim, keepdim=keepdim) if x.dim() else valid
    return nansum(x, dim, keepdim) / count


@decomposition("sum_to_size", function=False)
def sum_to_size(input, *size):
    size = _size_args(size)
    lead = input.dim() - len(size)
    dims = list(range(lead)) + [lead + i for i, s in enumerate(size)
                               if s == 1 and input.shape[lead + i] != 1]
    result = input.sum(dims, keepdim=True) if dims else input
    return result.reshape(size)


@decomposition("renorm")
def renorm(input, p, dim, maxnorm):
    dim = _wrap(dim, input.dim())
    others = [d for d in range(input.dim()) if d != dim]
    norms = norm(input, p, others, keepdim=True)
    scale = _C.where(norms > maxnorm, maxnorm / (norms + 1e-7), 1.0)
    return input * scale


@decomposition("unfold", function=False)
def unfold(input, dimension, size, step):
    if input.dim() == 0:
        return input.reshape(1)
    dim = _wrap(dimension, input.dim())
    n = input.shape[dim]
    count = (n - size) // step + 1
    index = (_arange(count, input).reshape(count, 1) * step +
             _arange(size, input).reshape(1, size)).reshape(-1)
    picked = _C.index_select(input, dim, index)
    shape = list(input.shape)
    picked = picked.reshape(shape[:dim] + [count, size] + shape[dim + 1:])
    return picked.movedim(dim + 1, -1)


@decomposition("trapezoid", "trapz", method=False)
def trapezoid(y, x=None, *, dx=None, dim=-1):
    dim = _wrap(dim, y.dim())
    n = y.shape[dim]
    if n == 0:
        return y.sum(dim)
    left, right = narrow(y, dim, 0, n - 1), narrow(y, dim, 1, n - 1)
    if x is not None and isinstance(x, Tensor):
        spacing = diff(x, dim=dim if x.dim() == y.dim() else -1)
        return ((left + right) * spacing).sum(dim) / 2
    step = dx if dx is not None else (x if x is not None else 1)
    return (left + right).sum(dim) * (step / 2)


@decomposition("cumulative_trapezoid", method=False)
def cumulative_trapezoid(y, x=None, *, dx=None, dim=-1):
    dim = _wrap(dim, y.dim())
    n = y.shape[dim]
    left, right = narrow(y, dim, 0, n - 1), narrow(y, dim, 1, n - 1)
    if x is not None and isinstance(x, Tensor):
        spacing = diff(x, dim=dim if x.dim() == y.dim() else -1)
        return cumsum((left + right) * spacing / 2, dim)
    step = dx if dx is not None else (x if x is not None else 1)
    return cumsum((left + right) * (step / 2), dim)


@decomposition("cov")
def cov(input, *, correction=1, fweights=None, aweights=None):
    x = input.reshape(1, -1) if input.dim() < 2 else input
    x = _float(x)
    n = x.shape[1]
    weights = None
    if fweights is not None:
        weights = fweights.to(x.dtype)
    if aweights is not None:
        weights = aweights.to(x.dtype) if weights is None else weights * aweights
    if weights is None:
        mean = x.mean(1, keepdim=True)
        centred = x - mean
        result = (centred @ centred.t()) / builtins.max(n - correction, 0)
    else:
        total = weights.sum()
        mean = (x * weights).sum(1, keepdim=True) / total
        centred = x - mean
        if aweights is None:
            norm_ = total - correction
        else:
            norm_ = total - correction * (weights * aweights).sum() / total
        result = ((centred * weights) @ centred.t()) / norm_
    return result.reshape([]) if input.dim() < 2 else result


@decomposition("corrcoef")
def corrcoef(input):
    c = cov(input)
    if c.dim() == 0:
        return c / c
    d = _C.sqrt(diagonal(c))
    result = c / d.reshape(-1, 1) / d.reshape(1, -1)
    return _C.clamp(result, -1, 1)


def _quantile(input, q, dim, keepdim, interpolation, ignore_nan):
    x = input
    scalar_q = not isinstance(q, Tensor)
    qs = np.atleast_1d(np.asarray(q if scalar_q else _host(q), dtype=np.float64))
    if (qs < 0).any() or (qs > 1).any():
        raise RuntimeError("quantile() q values must be in the range [0, 1]")
    flat = dim is None
    if flat:
        x, dim = x.reshape(-1), 0
    dim = _wrap(dim, x.dim()) if x.dim() else 0
    if x.dim() == 0:
        x = x.reshape(1)
    a = _host(x)
    order = np.argsort(a, axis=dim, kind="stable")  # NaN last
    n = a.shape[dim]
    nan_count = np.isnan(a).sum(axis=dim, keepdims=True)
    valid = n - nan_count if ignore_nan else np.full_like(nan_count, n)
    results = []
    for qv in qs:
        pos = qv * np.maximum(valid - 1, 0)
        lo = np.floor(pos).astype(np.int64)
        hi = np.ceil(pos).astype(np.int64)
        if interpolation == "lower":
            hi = lo
        elif interpolation == "higher":
            lo = hi
        elif interpolation == "nearest":
            lo = hi = np.round(pos).astype(np.int64)
        lo_i = _dev(_from_host(np.take_along_axis(order, np.clip(lo, 0, n - 1), axis=dim)), x)
        hi_i = _dev(_from_host(np.take_along_axis(order, np.clip(hi, 0, n - 1), axis=dim)), x)
        low, high = _gather_any(x, dim, lo_i), _gather_any(x, dim, hi_i)
        if interpolation == "midpoint":
            value = (low + high) / 2
        elif interpolation == "linear":
            frac_ = _dev(_from_host(pos - lo).to(x.dtype), x)
            value = low + frac_ * (high - low)
        else:
            value = low
        bad = (nan_count > 0) if not ignore_nan else (valid == 0)
        if bad.any():
            value = _C.where(_dev(_from_host(bad), x), math.nan, value)
        results.append(value if keepdim else value.squeeze(dim))
    if input.dim() == 0:
        results = [r.reshape([]) for r in results]
    elif flat and keepdim:
        results = [r.reshape([1] * input.dim()) for r in results]
    if scalar_q or (isinstance(q, Tensor) and q.dim() == 0):
        return results[0]
    return _C.stack(results, 0)


@decomposition("quantile")
def quantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    return _quantile(input, q, dim, keepdim, interpolation, False)


@decomposition("nanquantile")
def nanquantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    return _quantile(input, q, dim, keepdim, interpolation, True)


@decomposition("frexp")
def frexp(input):
    a = _host(input)
    mantissa, exponent = np.frexp(a)
    # The mantissa as a lazy product, so that it carries the input's graph.
    scale = _dev(_from_host(np.ldexp(np.ones_like(a), -exponent).astype(a.dtype)), input)
    from collections import namedtuple
    result = namedtuple("frexp", ["mantissa", "exponent"])
    return result(input * scale, _dev(_from_host(exponent.astype(np.int32)), input))


def _matrix_transpose(self):
    return self.transpose(-2, -1)


Tensor.mT = property(_matrix_transpose)
Tensor.mH = property(_matrix_transpose)
Tensor.H = property(lambda self: self.t() if self.dim() == 2 else self)


def _new(factory):
    def method(self, *size, dtype=None, device=None, requires_grad=False, **_):
        shape = _size_args(size)
        result = factory(shape, dtype or self.dtype)
        if device is not None:
            result = result.to(device)
        return result.requires_grad_(True) if requires_grad else result
    return method


Tensor.new_zeros = _new(lambda shape, dtype: _C.zeros(*shape, dtype=dtype))
Tensor.new_ones = _new(lambda shape, dtype: _C.ones(*shape, dtype=dtype))
Tensor.new_empty = _new(lambda shape, dtype: _C.empty(*shape, dtype=dtype))


def _new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False):
    result = _C.full(list(size), fill_value, dtype=dtype or self.dtype)
    return result.requires_grad_(True) if requires_grad else result


def _new_tensor(self, data, *, dtype=None, device=None, requires_grad=False):
    result = _C.tensor(data, dtype=dtype or self.dtype)
    return result.requires_grad_(True) if requires_grad else result


Tensor.new_full = _new_full
Tensor.new_tensor = _new_tensor


# ---------------------------------------------------------------------------
# torch's keyword names and out= for the functions bound from C++
# ---------------------------------------------------------------------------

# Parameters the C++ bindings take positionally (pybind names them arg0...),
# in torch's order and spelling (index_select and masked_select are
# decompositions above, with torch's signatures).
_POSITIONAL_NAMES = {
    "matmul": ("input", "other"), "mm": ("input", "mat2"), "bmm": ("input", "mat2"),
    "eq": ("input", "other"), "ne": ("input", "other"), "lt": ("input", "other"),
    "le": ("input", "other"), "gt": ("input", "other"), "ge": ("input", "other"),
    "permute": ("input", "dims"), "reshape": ("input", "shape"),
    "transpose": ("input", "dim0", "dim1"), "unsqueeze": ("input", "dim"),
    "t": ("input",), "clone": ("input",), "detach": ("input",),
    "logical_not": ("input",), "broadcast_to": ("input", "size"),
    "where": ("condition", "input", "other"),
}
# Functions that already take torch's keyword names and gain out= here.
_OUT_ONLY = ("sum", "mean", "amax", "amin", "argmax", "argmin", "clamp", "clip",
             "softmax", "log_softmax", "cat", "concat", "stack", "flatten", "squeeze",
             "max", "min")
# Keywords torch accepts that change nothing for Ember's dense CPU/GPU tensors.
_IGNORED = ("memory_format",)


def _completed(name, primitive, names):
    def function(*args, out=None, **kwargs):
        for key in _IGNORED:
            kwargs.pop(key, None)
        if name == "where" and len(args) + len(kwargs) == 1:
            return nonzero(args[0] if args else kwargs["condition"], as_tuple=True)
        if names and kwargs:
            args = list(args)
            for parameter in names[len(args):]:
                if parameter not in kwargs:
                    break
                args.append(kwargs.pop(parameter))
            if kwargs:
                unexpected = next(iter(kwargs))
                raise TypeError(f"{name}() got an unexpected keyword argument "
                                f"'{unexpected}'")
        return _out(primitive(*args, **kwargs), out)
    function.__doc__ = primitive.__doc__
    return function


for _name, _names in _POSITIONAL_NAMES.items():
    _FUNCTIONS[_name] = _C._surface(_completed(_name, getattr(_C, _name), _names), _name)
for _name in _OUT_ONLY:
    _FUNCTIONS[_name] = _C._surface(_completed(_name, getattr(_C, _name), ()), _name)


def zero_(input):
    return input.zero_()


_FUNCTIONS["zero_"] = zero_
