"""Resizing: ``F.interpolate`` (nearest, nearest-exact, linear, bilinear,
bicubic, trilinear, area) with ``Upsample``, ``UpsamplingNearest2d`` and
``UpsamplingBilinear2d``; the ``PixelShuffle``/``PixelUnshuffle`` modules.

Interpolation is separable, so each spatial dim is resampled on its own,
innermost first (torch's order of operations for the bilinear sum): nearest
modes gather one source index per output position, linear modes gather two
and blend them with per-position weights, bicubic gathers four. Indices and weights are computed
on the host with torch's formulas in torch's precision (float32 index
arithmetic for ``nearest``; the input's opmath type for the linear weights)
and kept per shape; the gradient is the gather's adjoint (scatter-add)."""

import math

import numpy as np

import ember
from ember.nn import _functional_more, _pooling, _spatial
from ember.nn.module import Module

_MODES = ("nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear", "area")
_LINEAR_RANK = {"linear": 3, "bilinear": 4, "bicubic": 4, "trilinear": 5}
# torch's bicubic convolution constant (Keys' kernel with A = -0.75).
_CUBIC_A = -0.75


def _scale(in_size, out_size, scale, align_corners, dtype):
    """torch's ``area_pixel_compute_scale`` in ``dtype``."""
    if align_corners:
        return dtype(in_size - 1) / dtype(out_size - 1) if out_size > 1 else dtype(0)
    if scale is not None and scale > 0:
        return dtype(1.0 / scale)
    return dtype(in_size) / dtype(out_size)


def _nearest_indices(in_size, out_size, scale, exact):
    """torch's ``nearest_idx``/``nearest_exact_idx`` (float32 arithmetic)."""
    out = np.arange(out_size, dtype=np.int64)
    if not exact:
        if out_size == in_size:
            return out
        if out_size == 2 * in_size:
            return out >> 1
    ratio = _scale(in_size, out_size, scale, False, np.float32)
    if exact:
        source = np.floor(((out + 0.5) * np.float64(ratio)).astype(np.float32))
    else:
        source = np.floor(out.astype(np.float32) * ratio)
    return np.minimum(source.astype(np.int64), in_size - 1)


def _linear_taps(in_size, out_size, scale, align_corners, opmath):
    """torch's ``compute_source_index_and_lambda``: (index0, index1,
    lambda0, lambda1) per output position, in the opmath type."""
    ratio = _scale(in_size, out_size, scale, align_corners, opmath)
    out = np.arange(out_size).astype(opmath)
    if align_corners:
        real = ratio * out
    else:
        real = np.maximum(ratio * (out + opmath(0.5)) - opmath(0.5), opmath(0))
    real = real.astype(opmath)
    index0 = real.astype(np.int64)
    index1 = index0 + (index0 < in_size - 1)
    lambda1 = np.clip(real - index0.astype(opmath), opmath(0), opmath(1)).astype(opmath)
    lambda0 = (opmath(1) - lambda1).astype(opmath)
    return index0, index1, lambda0, lambda1


def _cubic_taps(in_size, out_size, scale, align_corners, opmath):
    """torch's bicubic indices and weights: four source indices per output
    position (``floor(real) - 1 .. + 2``, clamped to the border, which
    repeats the edge sample) and ``get_cubic_upsample_coefficients``, in
    the opmath type. The source index is not clamped at 0 (cubic=true)."""
    ratio = _scale(in_size, out_size, scale, align_corners, opmath)
    out = np.arange(out_size).astype(opmath)
    if align_corners:
        real = (ratio * out).astype(opmath)
    else:
        real = (ratio * (out + opmath(0.5)) - opmath(0.5)).astype(opmath)
    floor = np.floor(real)
    t = (real - floor).astype(opmath)
    a = opmath(_CUBIC_A)

    def near(x):   # |x| <= 1
        return (((a + opmath(2)) * x - (a + opmath(3))) * x * x + opmath(1)).astype(opmath)

    def far(x):    # 1 < |x| < 2
        return (((a * x - opmath(5) * a) * x + opmath(8) * a) * x
                - opmath(4) * a).astype(opmath)

    one = opmath(1)
    weights = [far(t + one), near(t), near(one - t), far(opmath(2) - t)]
    base = floor.astype(np.int64)
    indices = [np.clip(base + k - 1, 0, in_size - 1) for k in range(4)]
    return indices, weights


def _resample_cubic(x, dim, in_size, out_size, scale, align_corners):
    if out_size == in_size and scale is None:
        return x    # the weights are exactly (0, 1, 0, 0)
    opmath = np.float64 if x.dtype == ember.float64 else np.float32
    key = ("cubic", in_size, out_size, scale, align_corners, opmath)

    def taps():
        return _cubic_taps(in_size, out_size, scale, align_corners, opmath)
    rank = x.dim()
    result = None
    for k in range(4):
        index = _spatial.table(key + ("i", k), lambda k=k: taps()[0][k], x)
        weight = _spatial.table(key + ("w", k), lambda k=k: taps()[1][k], x, x.dtype)
        term = x.index_select(dim, index) * _broadcast_along(weight, dim, rank)
        result = term if result is None else result + term
    return result


def _broadcast_along(vector, dim, rank):
    shape = [1] * rank
    shape[dim] = vector.shape[0]
    return vector.reshape(shape)


def _resample_nearest(x, dim, in_size, out_size, scale, exact):
    if out_size == in_size and not exact:
        return x
    key = ("nearest", exact, in_size, out_size, scale)
    index = _spatial.table(key, lambda: _nearest_indices(in_size, out_size, scale, exact), x)
    return x.index_select(dim, index)


def _resample_linear(x, dim, in_size, out_size, scale, align_corners):
    if out_size == in_size:
        return x
    opmath = np.float64 if x.dtype == ember.float64 else np.float32
    key = ("linear", in_size, out_size, scale, align_corners, opmath)

    def taps():
        return _linear_taps(in_size, out_size, scale, align_corners, opmath)
    index0 = _spatial.table(key + (0,), lambda: taps()[0], x)
    index1 = _spatial.table(key + (1,), lambda: taps()[1], x)
    lambda0 = _spatial.table(key + (2,), lambda: taps()[2], x, x.dtype)
    lambda1 = _spatial.table(key + (3,), lambda: taps()[3], x, x.dtype)
    rank = x.dim()
    return (x.index_select(dim, index0) * _broadcast_along(lambda0, dim, rank)
            + x.index_select(dim, index1) * _broadcast_along(lambda1, dim, rank))


def _output_sizes(input, size, scale_factor, recompute_scale_factor, mode):
    """(output sizes, per-dim scales passed to the kernels or None)."""
    dim = input.dim() - 2
    spatial = list(input.shape[2:])
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is not None:
        if isinstance(size, (list, tuple)):
            if len(size) != dim:
                raise ValueError(
                    f"Input and output must have the same number of spatial dimensions, but "
                    f"got input with spatial dimensions of {spatial} and output size of "
                    f"{size}. Please provide input tensor in (N, C, d1, d2, ...,dK) format "
                    f"and output size in (o1, o2, ...,oK) format.")
            output_size = [int(s) for s in size]
        else:
            output_size = [int(size)] * dim
        scales = None
    elif scale_factor is not None:
        if isinstance(scale_factor, (list, tuple)):
            if len(scale_factor) != dim:
                raise ValueError(
                    f"Input and scale_factor must have the same number of spatial dimensions, "
                    f"but got input with spatial dimensions of {spatial} and scale_factor of "
                    f"shape {scale_factor}. Please provide input tensor in (N, C, d1, d2, "
                    f"...,dK) format and scale_factor in (s1, s2, ...,sK) format.")
            scales = [float(s) for s in scale_factor]
        else:
            scales = [float(scale_factor)] * dim
        output_size = [int(math.floor(float(n) * s)) for n, s in zip(spatial, scales)]
    else:
        raise ValueError("either size or scale_factor should be defined")
    if recompute_scale_factor and size is not None:
        raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
    if recompute_scale_factor or mode == "area":
        scales = None
    if any(o <= 0 for o in output_size) or any(n <= 0 for n in spatial):
        raise RuntimeError(f"Input and output sizes should be greater than 0, but got input "
                           f"{tuple(spatial)} output {tuple(output_size)}")
    return output_size, scales or [None] * dim


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resizes the spatial dims of (N, C, d1, ...) to ``size``, or by
    ``scale_factor`` (output ``floor(d * scale)``; the kernels use the
    given scale unless ``recompute_scale_factor``). ``nearest`` picks
    ``floor(i * in / out)``, ``nearest-exact`` ``floor((i + 0.5) * in /
    out)``; ``linear``/``bilinear`` blend the two neighbours with
    half-pixel centres, or corner-aligned samples with ``align_corners``;
    ``bicubic`` blends four neighbours with torch's cubic convolution
    weights (A = -0.75; samples past the border repeat the edge);
    ``area`` is adaptive average pooling."""
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError("align_corners option can only be set with the interpolating "
                             "modes: linear | bilinear | bicubic | trilinear")
    elif align_corners is None:
        align_corners = False
    rank = input.dim()
    if mode not in _MODES or rank not in (3, 4, 5):
        raise NotImplementedError(
            f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {rank}D) for the "
            f"modes: nearest | linear | bilinear | bicubic | trilinear | area | nearest-exact "
            f"(got {mode})")
    if mode in _LINEAR_RANK and rank != _LINEAR_RANK[mode]:
        raise NotImplementedError(f"Got {rank}D input, but {mode} mode needs "
                                  f"{_LINEAR_RANK[mode]}D input")
    if antialias:
        raise NotImplementedError("interpolate(antialias=True) is not implemented in ember")
    output_size, scales = _output_sizes(input, size, scale_factor, recompute_scale_factor,
                                        mode)
    if mode == "area":
        pool = {3: _pooling.adaptive_avg_pool1d, 4: _pooling.adaptive_avg_pool2d}.get(rank)
        if pool is None:
            raise NotImplementedError("interpolate(mode='area') of a 5D input is not "
                                      "implemented in ember")
        return pool(input, output_size)
    x = input
    for i in reversed(range(rank - 2)):
        dim = 2 + i
        n = input.shape[dim]
        if mode in ("nearest", "nearest-exact"):
            x = _resample_nearest(x, dim, n, output_size[i], scales[i],
                                  mode == "nearest-exact")
        elif mode == "bicubic":
            x = _resample_cubic(x, dim, n, output_size[i], scales[i], align_corners)
        else:
            x = _resample_linear(x, dim, n, output_size[i], scales[i], align_corners)
    return x


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Deprecated alias of ``interpolate``."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


# --- Modules --------------------------------------------------------------------

class Upsample(Module):
    """``F.interpolate`` as a module."""

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None,
                 recompute_scale_factor=None):
        super().__init__()
        self.name = type(self).__name__
        self.size = size
        if isinstance(scale_factor, tuple):
            self.scale_factor = tuple(float(factor) for factor in scale_factor)
        else:
            self.scale_factor = float(scale_factor) if scale_factor else None
        self.mode = mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input):
        return interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                           recompute_scale_factor=self.recompute_scale_factor)

    def extra_repr(self):
        if self.scale_factor is not None:
            info = "scale_factor=" + repr(self.scale_factor)
        else:
            info = "size=" + repr(self.size)
        return info + ", mode=" + str(self.mode)


class UpsamplingNearest2d(Upsample):
    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)


class PixelShuffle(Module):
    """(*, C r^2, H, W) -> (*, C, H r, W r)."""

    def __init__(self, upscale_factor):
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, input):
        if input.dim() < 3:
            raise RuntimeError(f"pixel_shuffle expects input to have at least 3 dimensions, "
                               f"but got input with {input.dim()} dimension(s)")
        r = self.upscale_factor
        if input.shape[-3] % (r * r):
            raise RuntimeError(f"pixel_shuffle expects its input's 'channel' dimension to be "
                               f"divisible by the square of upscale_factor, but "
                               f"input.size(-3)={input.shape[-3]} is not divisible by {r * r}")
        return _functional_more.pixel_shuffle(input, r)

    def extra_repr(self):
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """(*, C, H r, W r) -> (*, C r^2, H, W)."""

    def __init__(self, downscale_factor):
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, input):
        if input.dim() < 3:
            raise RuntimeError(f"pixel_unshuffle expects input to have at least 3 "
                               f"dimensions, but got input with {input.dim()} dimension(s)")
        r = self.downscale_factor
        for name, dim in (("height", -2), ("width", -1)):
            if input.shape[dim] % r:
                raise RuntimeError(f"pixel_unshuffle expects {name} to be divisible by "
                                   f"downscale_factor, but input.size({dim})="
                                   f"{input.shape[dim]} is not divisible by {r}")
        return _functional_more.pixel_unshuffle(input, r)

    def extra_repr(self):
        return f"downscale_factor={self.downscale_factor}"


_spatial.surface(globals(), __name__)
