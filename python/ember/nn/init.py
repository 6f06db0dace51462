"""``nn.init``: in-place initializers with torch's distributions and bounds.

Values come from ember's generator (``ember.manual_seed``), so they are
reproducible but not the same numbers torch draws. Each initializer fills the
tensor in place (lazily, under no_grad) and returns it.
"""

import math

import ember
from ember._grad_mode import no_grad


def _random_dtype(tensor):
    """Draw f64 tensors in f64, everything else in f32 (copy_ converts)."""
    return ember.float64 if tensor.dtype == ember.float64 else ember.float32


def calculate_gain(nonlinearity, param=None):
    """The recommended gain for ``nonlinearity``, as in torch: 1 for linear
    and sigmoid, 5/3 for tanh, sqrt(2) for relu, sqrt(2 / (1 + slope^2)) for
    leaky_relu (slope ``param``, default 0.01), 3/4 for selu."""
    linear = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
              "conv_transpose2d", "conv_transpose3d"]
    if nonlinearity in linear or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif not isinstance(param, bool) and isinstance(param, (int, float)):
            slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def _calculate_fan_in_and_fan_out(tensor):
    if tensor.dim() < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer "
                         "than 2 dimensions")
    receptive_field = 1
    for size in tensor.shape[2:]:
        receptive_field *= size
    return tensor.shape[1] * receptive_field, tensor.shape[0] * receptive_field


def _calculate_correct_fan(tensor, mode):
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor, a=0.0, b=1.0):
    """Fills ``tensor`` with values drawn from U(a, b)."""
    with no_grad():
        values = ember.rand(tuple(tensor.shape), dtype=_random_dtype(tensor))
        return tensor.copy_(values * (b - a) + a)


def normal_(tensor, mean=0.0, std=1.0):
    """Fills ``tensor`` with values drawn from N(mean, std^2)."""
    with no_grad():
        values = ember.randn(tuple(tensor.shape), dtype=_random_dtype(tensor))
        return tensor.copy_(values * std + mean)


def constant_(tensor, val):
    """Fills ``tensor`` with ``val``."""
    with no_grad():
        return tensor.fill_(val)


def ones_(tensor):
    return constant_(tensor, 1.0)


def zeros_(tensor):
    with no_grad():
        return tensor.zero_()


def xavier_uniform_(tensor, gain=1.0):
    """U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio)."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound)


def xavier_normal_(tensor, gain=1.0):
    """N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std)


def _kaiming_std(tensor, a, mode, nonlinearity):
    fan = _calculate_correct_fan(tensor, mode)
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu"):
    """U(-bound, bound) with bound = gain * sqrt(3 / fan) (He et al.);
    ``a`` is the leaky_relu slope, ``mode`` picks fan_in or fan_out."""
    if 0 in tuple(tensor.shape):
        return tensor
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu"):
    """N(0, std^2) with std = gain / sqrt(fan)."""
    if 0 in tuple(tensor.shape):
        return tensor
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity))


def eye_(tensor):
    """Fills a 2-D ``tensor`` with the identity matrix."""
    if tensor.dim() != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    rows, cols = tensor.shape
    with no_grad():
        eye = (ember.arange(rows).unsqueeze(1) == ember.arange(cols).unsqueeze(0))
        return tensor.copy_(eye)


def dirac_(tensor, groups=1):
    """Fills a 3-, 4- or 5-D ``tensor`` (a convolution weight) with the
    Dirac delta, so that the convolution is the identity on the first
    ``out_channels // groups`` channels of each group."""
    dims = tensor.dim()
    if dims not in (3, 4, 5):
        raise ValueError("Only tensors with 3, 4, or 5 dimensions are supported")
    sizes = tuple(tensor.shape)
    if sizes[0] % groups != 0:
        raise ValueError("dim 0 must be divisible by groups")
    out_per_group = sizes[0] // groups
    min_dim = min(out_per_group, sizes[1])
    values = [0.0] * tensor.numel()
    strides = [1] * dims
    for d in range(dims - 2, -1, -1):
        strides[d] = strides[d + 1] * sizes[d + 1]
    for g in range(groups):
        for d in range(min_dim):
            position = [g * out_per_group + d, d] + [size // 2 for size in sizes[2:]]
            values[sum(p * s for p, s in zip(position, strides))] = 1.0
    with no_grad():
        return tensor.copy_(ember.tensor(values, dtype=_random_dtype(tensor)).reshape(sizes))


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0):
    """N(mean, std^2) truncated to [a, b], drawn as torch does: a uniform
    draw between the normal CDF at a and b, through the inverse CDF."""
    def norm_cdf(x):
        return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0

    if (mean < a - 2 * std) or (mean > b + 2 * std):
        import warnings
        warnings.warn("mean is more than 2 std from [a, b] in nn.init.trunc_normal_. "
                      "The distribution of values may be incorrect.", stacklevel=2)
    with no_grad():
        low = norm_cdf((a - mean) / std)
        high = norm_cdf((b - mean) / std)
        values = ember.rand(tuple(tensor.shape), dtype=_random_dtype(tensor))
        values = values * (2 * high - 2 * low) + (2 * low - 1)
        values = ember.erfinv(values) * (std * math.sqrt(2.0)) + mean
        return tensor.copy_(ember.clamp(values, a, b))


def orthogonal_(tensor, gain=1):
    """A (semi-)orthogonal matrix (Saxe et al.), from the QR decomposition
    of a normal draw with the signs of R's diagonal folded into Q; dims
    after the first are flattened."""
    if tensor.dim() < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    if tensor.numel() == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    with no_grad():
        flat = ember.randn(rows, cols, dtype=_random_dtype(tensor))
        if rows < cols:
            flat = flat.t()
        q, r = ember.linalg.qr(flat)
        q = q * ember.sign(ember.diagonal(r, 0))
        if rows < cols:
            q = q.t()
        return tensor.copy_((q * gain).reshape(tuple(tensor.shape)))


def sparse_(tensor, sparsity, std=0.01):
    """A 2-D ``tensor`` drawn from N(0, std^2) with ``ceil(sparsity * rows)``
    zeros in each column, at random rows (Martens, 2010)."""
    if tensor.dim() != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    rows, cols = tensor.shape
    num_zeros = int(math.ceil(sparsity * rows))
    with no_grad():
        values = ember.randn(rows, cols, dtype=_random_dtype(tensor)) * std
        if num_zeros:
            order = ember.argsort(ember.rand(rows, cols), 0)
            zero = order < num_zeros
            values = ember.where(zero, 0.0, values)
        return tensor.copy_(values)


def _deprecated(new):
    def old(*args, **kwargs):
        import warnings
        warnings.warn(f"nn.init.{new.__name__[:-1]} is now deprecated in favor of "
                      f"nn.init.{new.__name__}.", stacklevel=2)
        return new(*args, **kwargs)
    old.__name__ = new.__name__[:-1]
    old.__doc__ = f"Deprecated: ``{new.__name__}``."
    return old


uniform = _deprecated(uniform_)
normal = _deprecated(normal_)
constant = _deprecated(constant_)
xavier_uniform = _deprecated(xavier_uniform_)
xavier_normal = _deprecated(xavier_normal_)
kaiming_uniform = _deprecated(kaiming_uniform_)
kaiming_normal = _deprecated(kaiming_normal_)
orthogonal = _deprecated(orthogonal_)
sparse = _deprecated(sparse_)
