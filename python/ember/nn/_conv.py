"""Convolutions: ``F.conv1d/2d/3d``, ``F.conv_transpose1d/2d/3d`` and the
``nn.Conv*d``/``nn.ConvTranspose*d`` modules, with torch's arguments,
shape rules, error messages, parameter shapes, initialisation and ``repr``.

The convolutions are composites of ember ops, so autograd (double backward
included), fusion and every device come with them:
- a convolution is im2col + one GEMM: the padded input's strided windows,
  channels first, stacked into a (C*K, N*L) matrix, times the weight as an
  (O, C*K) matrix (batched over groups); on the CPU it reaches the runtime
  GEMM. Depthwise convolutions (one input channel per group) are instead a
  sum over kernel offsets of window * tap, element-wise;
- a transposed convolution is col2im: one GEMM maps every input position to
  its (C_out, K) contributions, and each kernel offset's plane is spread by
  the stride, shifted to its offset and summed.
On the CPU, f32 convolutions (depthwise ones only where no gradient is
needed: inference and export) are instead one ``ember.conv`` op and
transposed convolutions one ``ember.conv_backward_data`` op (the tracer's
attributes: stride, padding per side, dilation, groups): their VJPs build the op's data and weight
gradient ops (closed under differentiation, so double backward stays in
them), and ``ember-conv-to-runtime`` calls the runtime's kernels, which
pack im2col panels straight into the GEMM micro-kernel's layout
(runtime/lib/CpuConv.cpp). Elsewhere (float64 and half precision, the
GPU devices) the composites above stand in for the ops: traced graphs
have dynamic dims (the sizes are runtime values), so a generic lowering
would need a runtime kernel size, not the unrolled windows used here.
Exported programs keep the ``ember.conv`` op (the CPU artifact calls the
runtime's kernel through its runtime slot); their kernel and spatial
sizes are static, so for the other targets the compiler's
``ember-decompose-conv`` pass rewrites it into this im2col composite.
"""

import functools
import itertools
import math

import numpy as np

import ember
from ember import _export
from ember.nn import init
from ember.nn.module import Module
from ember.nn.parameter import Parameter

__all__ = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d", "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d",
           "ConvTranspose2d", "ConvTranspose3d"]


def _ntuple(value, n, name):
    if isinstance(value, int):
        return (value,) * n
    value = tuple(int(v) for v in value)
    if len(value) == 1 and n > 1:
        return value * n
    if len(value) != n:
        raise RuntimeError(
            f"expected {name} to be a single integer value or a list of {n} values to "
            f"match the convolution dimensions, but got {name}={list(value)}")
    return value


def _sizes(shape):
    return f"[{', '.join(str(s) for s in shape)}]"


def _check_input_rank(name, input, nd):
    if input.dim() not in (nd + 1, nd + 2):
        raise RuntimeError(
            f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to {name}, "
            f"but got input of size: {_sizes(input.shape)}")


def _check_common(weight, bias, stride, padding, dilation, groups, nd, out_channels):
    if weight.dim() != nd + 2:
        raise RuntimeError(
            f"Expected {nd + 2}-dimensional weight for {nd + 2}-dimensional input, but "
            f"got {weight.dim()}-dimensional weight of size {_sizes(weight.shape)}")
    if any(s <= 0 for s in stride):
        raise RuntimeError("non-positive stride is not supported")
    if any(p < 0 for p in padding):
        raise RuntimeError("negative padding is not supported")
    if any(d <= 0 for d in dilation):
        raise RuntimeError("dilation should be greater than zero")
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    if bias is not None and (bias.dim() != 1 or bias.shape[0] != out_channels):
        raise RuntimeError(
            f"Given weight of size {_sizes(weight.shape)}, expected bias to be "
            f"1-dimensional with {out_channels} elements, but got bias of size "
            f"{_sizes(bias.shape)} instead")


def _same_padding(kernel, dilation):
    """(left, right) per dim for padding='same': torch puts the odd unit on
    the right."""
    pads = []
    for k, d in zip(kernel, dilation):
        total = d * (k - 1)
        pads.append((total // 2, total - total // 2))
    return pads


def _pad_zeros(x, pads):
    """Zero-pads the trailing dims of ``x`` by ``pads`` = [(lo, hi)] per dim
    (negative values crop)."""
    if not any(lo or hi for lo, hi in pads):
        return x
    flat = []
    for lo, hi in reversed(pads):
        flat += [lo, hi]
    return ember.nn.functional.pad(x, flat)


def _conv_op_applies(x, weight):
    """Whether the convolution is one ember.conv op (f32 on the CPU, see the
    module docstring) rather than a composite."""
    return (x.device.type == "cpu" and x.dtype == ember.float32
            and weight.dtype == ember.float32 and hasattr(ember._ember, "_conv"))


def _convolution(x, weight, stride, pads, dilation, groups):
    """The convolution of batched ``x`` (N, C, *S) with ``weight``
    (O, C/groups, *K): (N, O, *out) without bias; ``pads`` (lo, hi) per
    spatial dim."""
    if groups > 1 and weight.shape[1] == 1:
        # Inference (and export, which traces under no_grad) on the CPU: the
        # runtime's direct depthwise kernel (runtime/lib/CpuConvDepthwise.cpp)
        # through ember.conv. Training keeps the element-wise sum, whose
        # backward is element-wise too (ember.conv's gradient kernels are
        # GEMMs, whose depthwise A matrix would be one row).
        if _conv_op_applies(x, weight) and not (
                ember.is_grad_enabled() and (x.requires_grad or weight.requires_grad)):
            return ember._ember._conv(x, weight, list(stride), [lo for lo, _ in pads],
                                      [hi for _, hi in pads], list(dilation), groups)
        return _depthwise_convolution(x, weight, stride, pads, dilation)
    if _conv_op_applies(x, weight):
        return ember._ember._conv(x, weight, list(stride), [lo for lo, _ in pads],
                                  [hi for _, hi in pads], list(dilation), groups)
    # The gather's index table is checked against the input on the host,
    # which an exported program cannot do: export traces the im2col form.
    if (x.device.type == "cpu" and not (x.requires_grad and ember.is_grad_enabled())
            and not _export.exporting()):
        return _gathered_convolution(x, weight, stride, pads, dilation, groups)
    return _im2col_convolution(x, weight, stride, pads, dilation, groups)


@functools.lru_cache(maxsize=256)
def _window_index(spatial, kernel, stride, pads, dilation):
    """For each kernel offset and output position (row-major, offsets
    outermost), the flat position it reads in one image's (*spatial) plane,
    or prod(spatial) (a zero slot after the plane) where it falls in the
    padding; and the output size."""
    nd = len(spatial)
    padded = [s + lo + hi for s, (lo, hi) in zip(spatial, pads)]
    out = _output_size(padded, kernel, stride, dilation)
    grids = np.meshgrid(*[np.arange(k) for k in kernel], *[np.arange(m) for m in out],
                        indexing="ij")
    flat = np.zeros(grids[0].shape, np.int64)
    inside = np.ones(grids[0].shape, bool)
    for i in range(nd):
        pos = grids[nd + i] * stride[i] + grids[i] * dilation[i] - pads[i][0]
        inside &= (pos >= 0) & (pos < spatial[i])
        flat = flat * spatial[i] + np.clip(pos, 0, spatial[i] - 1)
    flat = np.where(inside, flat, math.prod(spatial)).reshape(-1)
    flat.setflags(write=False)
    return flat, out


def _gathered_convolution(x, weight, stride, pads, dilation, groups):
    """im2col as one gather per image: (N, C, plane + a zero slot) indexed
    by every window position gives (N, C*K, L) in one parallel pass (no
    padded copy, no per-offset slices), and the GEMM writes (N, O, L), the
    output's layout. Used where the input needs no gradient: the gather's
    gradient is a scatter-add, which runs sequentially on the CPU, where the
    strided slices' gradient is parallel. Measured on (32, 64, 32, 32) 3x3:
    the same CPU time forward as the slices, and a 9-op graph instead of 36
    (the compile is 1.6x faster)."""
    n, c = x.shape[0], x.shape[1]
    o = weight.shape[0]
    kernel = tuple(weight.shape[2:])
    index, out = _window_index(tuple(x.shape[2:]), kernel, tuple(stride),
                               tuple(tuple(p) for p in pads), tuple(dilation))
    planes = ember.cat([x.reshape(n, c, -1), ember.zeros(n, c, 1, dtype=x.dtype)], 2)
    cols = planes.index_select(2, ember.from_numpy(index.copy()))
    ksize = math.prod(kernel)
    length = math.prod(out)
    if groups == 1:
        y = ember.matmul(weight.reshape(o, c * ksize), cols.reshape(n, c * ksize, length))
    else:
        y = ember.matmul(weight.reshape(groups, o // groups, (c // groups) * ksize),
                         cols.reshape(n, groups, (c // groups) * ksize, length))
    return y.reshape(n, o, *out)


def _windows(x, kernel, stride, dilation, out):
    """The strided window of ``x`` (.., .., *spatial) at each kernel offset,
    offsets in row-major order."""
    for offsets in itertools.product(*(range(k) for k in kernel)):
        index = [slice(None), slice(None)]
        for off, d, st, m in zip(offsets, dilation, stride, out):
            start = off * d
            index.append(slice(start, start + st * (m - 1) + 1, st))
        yield x[tuple(index)]


def _output_size(spatial, kernel, stride, dilation):
    return tuple((s - d * (k - 1) - 1) // st + 1
                 for s, k, st, d in zip(spatial, kernel, stride, dilation))


def _depthwise_convolution(x, weight, stride, pads, dilation):
    """One input channel per group: a GEMM per channel would have one row,
    so each output is the sum over kernel offsets of a window times that
    offset's weight per channel, element-wise (one fused pass on the CPU;
    a 3x3 depthwise layer on (32, 64, 32, 32) measured 5x less CPU time
    forward than the grouped GEMM, 2.7x with backward)."""
    n, c = x.shape[0], x.shape[1]
    o = weight.shape[0]
    kernel = tuple(weight.shape[2:])
    x = _pad_zeros(x, pads)
    spatial = tuple(x.shape[2:])
    out = _output_size(spatial, kernel, stride, dilation)
    if o != c:  # a channel multiplier: output channel j reads input j // (o/c)
        x = x.unsqueeze(2).expand(n, c, o // c, *spatial).reshape(n, o, *spatial)
    taps = weight.reshape(o, -1)
    y = None
    for i, window in enumerate(_windows(x, kernel, stride, dilation, out)):
        term = window * taps[:, i].reshape(o, *([1] * len(kernel)))
        y = term if y is None else y + term
    return y


def _im2col_convolution(x, weight, stride, pads, dilation, groups):
    n, c = x.shape[0], x.shape[1]
    o = weight.shape[0]
    kernel = tuple(weight.shape[2:])
    x = _pad_zeros(x, pads)
    spatial = tuple(x.shape[2:])
    out = _output_size(spatial, kernel, stride, dilation)
    # Channels first, so the windows stack into (C, K, N, *out) and the GEMM
    # multiplies (O, C*K) by (C*K, N*L) with no batch dimension.
    windows = list(_windows(x.transpose(0, 1), kernel, stride, dilation, out))
    cols = windows[0].unsqueeze(1) if len(windows) == 1 else ember.stack(windows, 1)
    ksize = math.prod(kernel)
    length = n * math.prod(out)
    if groups == 1:
        y = ember.matmul(weight.reshape(o, c * ksize), cols.reshape(c * ksize, length))
    else:
        y = ember.matmul(weight.reshape(groups, o // groups, (c // groups) * ksize),
                         cols.reshape(groups, (c // groups) * ksize, length))
    return y.reshape(o, n, *out).transpose(0, 1)


def _add_bias(y, bias, nd):
    if bias is None:
        return y
    return y + bias.reshape(-1, *([1] * nd))


def _conv(name, nd, input, weight, bias, stride, padding, dilation, groups):
    _check_input_rank(name, input, nd)
    stride = _ntuple(stride, nd, "stride")
    dilation = _ntuple(dilation, nd, "dilation")
    batched = input.dim() == nd + 2
    x = input if batched else input.unsqueeze(0)
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise RuntimeError(f"Invalid padding string: '{padding}'")
        if padding == "same" and any(s != 1 for s in stride):
            raise RuntimeError("padding='same' is not supported for strided convolutions")
        pad_check = (0,) * nd
    else:
        pad_check = _ntuple(padding, nd, "padding")
    _check_common(weight, bias, stride, pad_check, dilation, groups, nd, weight.shape[0])
    if weight.shape[0] % groups:
        raise RuntimeError(
            f"Given groups={groups}, expected weight to be divisible by {groups} at "
            f"dimension 0, but got weight of size [{_sizes(weight.shape)}] instead")
    if x.shape[1] != weight.shape[1] * groups:
        raise RuntimeError(
            f"Given groups={groups}, weight of size {_sizes(weight.shape)}, expected "
            f"input{_sizes(x.shape)} to have {weight.shape[1] * groups} channels, but "
            f"got {x.shape[1]} channels instead")
    kernel = tuple(weight.shape[2:])
    if padding == "same":
        pads = _same_padding(kernel, dilation)
    elif padding == "valid":
        pads = [(0, 0)] * nd
    else:
        pads = [(p, p) for p in pad_check]
    padded = [s + lo + hi for s, (lo, hi) in zip(x.shape[2:], pads)]
    extent = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    if any(p < e for p, e in zip(padded, extent)):
        raise RuntimeError(
            f"Calculated padded input size per channel: ({' x '.join(map(str, padded))}). "
            f"Kernel size: ({' x '.join(map(str, extent))}). Kernel size can't be greater "
            f"than actual input size")
    y = _add_bias(_convolution(x, weight, stride, pads, dilation, groups), bias, nd)
    return y if batched else y.squeeze(0)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution over (N, C, L) or unbatched (C, L) input."""
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution over (N, C, H, W) or unbatched (C, H, W) input."""
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """3-D convolution over (N, C, D, H, W) or unbatched (C, D, H, W) input."""
    return _conv("conv3d", 3, input, weight, bias, stride, padding, dilation, groups)


# --- Transposed convolutions ----------------------------------------------------

def _spread(x, axis, step):
    """``x`` with ``step - 1`` zeros after each element along ``axis`` (none
    after the last): what a stride makes of a transposed convolution's
    input."""
    if step == 1:
        return x
    n = x.shape[axis]
    zeros = ember.zeros(list(x.shape) + [step - 1], dtype=x.dtype, device=x.device)
    spread = ember.cat([x.unsqueeze(-1), zeros], -1).movedim(-1, axis + 1)
    shape = list(x.shape)
    shape[axis] = n * step
    return ember.narrow(spread.reshape(shape), axis, 0, (n - 1) * step + 1)


def _transposed_convolution(x, weight, stride, padding, output_padding, dilation,
                            groups):
    """The gradient of a convolution with respect to its input, as col2im:
    one GEMM maps each input position to its (C_out, K) contributions, and
    each kernel offset's plane is spread by the stride, shifted to its
    offset and summed. Unlike a convolution over the zero-stuffed input,
    the GEMM does no work on the stuffed zeros (stride**nd times less)."""
    nd = x.dim() - 2
    n, c_in = x.shape[0], x.shape[1]
    spatial = tuple(x.shape[2:])
    kernel = tuple(weight.shape[2:])
    c_out_g = weight.shape[1]
    ksize = math.prod(kernel)
    length = n * math.prod(spatial)
    # (G, C_out/G * K, C_in/G) @ (G, C_in/G, N*L): every input position's
    # contribution to each output channel at each kernel offset.
    w = weight.reshape(groups, c_in // groups, c_out_g * ksize).transpose(1, 2)
    xt = x.transpose(0, 1).reshape(groups, c_in // groups, length)
    cols = ember.matmul(w, xt).reshape(groups * c_out_g, ksize, n, *spatial)
    # The full output before `padding` is cropped; output_padding extends
    # the high end.
    full = [(s - 1) * st + d * (k - 1) + 1 + op for s, st, d, k, op in
            zip(spatial, stride, dilation, kernel, output_padding)]
    out = None
    for index, offsets in enumerate(itertools.product(*(range(k) for k in kernel))):
        plane = cols[:, index]
        for dim, st in enumerate(stride):
            plane = _spread(plane, dim + 2, st)
        pads = [(off * d, f - off * d - ((s - 1) * st + 1)) for off, d, f, s, st in
                zip(offsets, dilation, full, spatial, stride)]
        plane = _pad_zeros(plane, pads)
        out = plane if out is None else out + plane
    # The output is full[p : full - p] per dim (torch's size formula).
    out = _pad_zeros(out, [(-p, -p) for p in padding])
    return out.transpose(0, 1)


def _conv_transpose(name, nd, input, weight, bias, stride, padding, output_padding,
                    groups, dilation):
    _check_input_rank(name, input, nd)
    if isinstance(padding, str):
        raise TypeError(f"{name}(): argument 'padding' must be tuple of ints, not str")
    stride = _ntuple(stride, nd, "stride")
    padding = _ntuple(padding, nd, "padding")
    output_padding = _ntuple(output_padding, nd, "output_padding")
    dilation = _ntuple(dilation, nd, "dilation")
    batched = input.dim() == nd + 2
    x = input if batched else input.unsqueeze(0)
    out_channels = weight.shape[1] * groups if weight.dim() == nd + 2 else 0
    _check_common(weight, bias, stride, padding, dilation, groups, nd, out_channels)
    if weight.shape[0] % groups:
        raise RuntimeError(
            f"Given groups={groups}, expected weight to be divisible by {groups} at "
            f"dimension 0, but got weight of size [{_sizes(weight.shape)}] instead")
    if x.shape[1] != weight.shape[0]:
        raise RuntimeError(
            f"Given transposed=1, weight of size {_sizes(weight.shape)}, expected "
            f"input{_sizes(x.shape)} to have {weight.shape[0]} channels, but got "
            f"{x.shape[1]} channels instead")
    if any(op >= s and op >= d for op, s, d in zip(output_padding, stride, dilation)):
        axes = ("height", "width") if nd == 2 else (
            ("depth", "height", "width") if nd == 3 else ("width",))
        parts = [f"output_padding_{a}: {v}" for a, v in zip(axes, output_padding)]
        parts += [f"stride_{a}: {v}" for a, v in zip(axes, stride)]
        parts += [f"dilation_{a}: {v}" for a, v in zip(axes, dilation)]
        raise RuntimeError("output padding must be smaller than either stride or "
                           "dilation, but got " + " ".join(parts))
    kernel = tuple(weight.shape[2:])
    out = [(s - 1) * st - 2 * p + d * (k - 1) + op + 1 for s, st, p, d, k, op in
           zip(x.shape[2:], stride, padding, dilation, kernel, output_padding)]
    if any(o <= 0 for o in out):
        raise RuntimeError(
            f"Given input size per channel: ({' x '.join(map(str, x.shape[2:]))}). "
            f"Calculated output size per channel: ({' x '.join(map(str, out))}). "
            f"Output size is too small")
    if _conv_op_applies(x, weight):
        y = ember._ember._conv_transpose(x, weight, list(stride), list(padding),
                                         list(output_padding), list(dilation), groups)
    else:
        y = _transposed_convolution(x, weight, stride, padding, output_padding, dilation,
                                    groups)
    y = _add_bias(y, bias, nd)
    return y if batched else y.squeeze(0)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0,
                     groups=1, dilation=1):
    """1-D transposed convolution; weight is (C_in, C_out/groups, k)."""
    return _conv_transpose("conv_transpose1d", 1, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0,
                     groups=1, dilation=1):
    """2-D transposed convolution; weight is (C_in, C_out/groups, kH, kW)."""
    return _conv_transpose("conv_transpose2d", 2, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0,
                     groups=1, dilation=1):
    """3-D transposed convolution; weight is (C_in, C_out/groups, kD, kH, kW)."""
    return _conv_transpose("conv_transpose3d", 3, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)



# Errors surface at the user's line (the trampoline drops the package's
# frames), as for ops bound from C++.
for _name in ("conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
              "conv_transpose3d"):
    globals()[_name] = ember._ember._surface(globals()[_name], _name)


# --- Modules ---------------------------------------------------------------------

# Built in torch's order: the error message prints the set as torch does.
_PADDING_MODES = {"zeros", "reflect", "replicate", "circular"}


class _ConvNd(Module):
    """torch's _ConvNd: the shared constructor, parameters and repr."""

    _nd = 0

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation,
                 transposed, output_padding, groups, bias, padding_mode, device=None,
                 dtype=None):
        super().__init__()
        nd = self._nd
        if groups <= 0:
            raise ValueError("groups must be a positive integer")
        if in_channels % groups != 0:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups != 0:
            raise ValueError("out_channels must be divisible by groups")
        kernel_size = _ntuple(kernel_size, nd, "kernel_size")
        stride = _ntuple(stride, nd, "stride")
        dilation = _ntuple(dilation, nd, "dilation")
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"Invalid padding string {padding!r}, should be one of "
                                 f"{ {'same', 'valid'} }")
            if padding == "same" and any(s != 1 for s in stride):
                raise ValueError("padding='same' is not supported for strided "
                                 "convolutions")
        else:
            padding = _ntuple(padding, nd, "padding")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"padding_mode must be one of {_PADDING_MODES}, but got "
                             f"padding_mode='{padding_mode}'")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.transposed = transposed
        self.output_padding = _ntuple(output_padding, nd, "output_padding")
        self.groups = groups
        self.padding_mode = padding_mode
        if isinstance(padding, str):
            reversed_pads = [0, 0] * nd
            if padding == "same":
                for i, (lo, hi) in zip(range(nd - 1, -1, -1),
                                       _same_padding(kernel_size, dilation)):
                    reversed_pads[2 * i] = lo
                    reversed_pads[2 * i + 1] = hi
        else:
            reversed_pads = [p for p in reversed(padding) for _ in range(2)]
        self._reversed_padding_repeated_twice = reversed_pads
        factory_kwargs = {"device": device, "dtype": dtype}
        if transposed:
            shape = (in_channels, out_channels // groups, *kernel_size)
        else:
            shape = (out_channels, in_channels // groups, *kernel_size)
        self.weight = Parameter(ember.empty(*shape, **factory_kwargs))
        if bias:
            self.bias = Parameter(ember.empty(out_channels, **factory_kwargs))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            if fan_in != 0:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def extra_repr(self):
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0,) * len(self.kernel_size):
            s += f", padding={self.padding}"
        if self.dilation != (1,) * len(self.dilation):
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * len(self.output_padding):
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class _Conv(_ConvNd):
    _functional = None

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode="zeros", device=None,
                 dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding,
                         dilation, False, 0, groups, bias, padding_mode, device, dtype)

    def _conv_forward(self, input, weight, bias):
        conv = type(self)._functional
        if self.padding_mode != "zeros":
            padded = ember.nn.functional.pad(input, self._reversed_padding_repeated_twice,
                                             mode=self.padding_mode)
            return conv(padded, weight, bias, self.stride, 0, self.dilation, self.groups)
        return conv(input, weight, bias, self.stride, self.padding, self.dilation,
                    self.groups)

    def forward(self, input):
        return self._conv_forward(input, self.weight, self.bias)


class Conv1d(_Conv):
    """Applies a 1-D convolution over (N, C_in, L) input."""
    _nd = 1
    _functional = staticmethod(conv1d)


class Conv2d(_Conv):
    """Applies a 2-D convolution over (N, C_in, H, W) input."""
    _nd = 2
    _functional = staticmethod(conv2d)


class Conv3d(_Conv):
    """Applies a 3-D convolution over (N, C_in, D, H, W) input."""
    _nd = 3
    _functional = staticmethod(conv3d)


class _ConvTranspose(_ConvNd):
    _functional = None

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros",
                 device=None, dtype=None):
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for '
                             f'{type(self).__name__}')
        super().__init__(in_channels, out_channels, kernel_size, stride, padding,
                         dilation, True, output_padding, groups, bias, padding_mode,
                         device, dtype)

    def _output_padding(self, input, output_size):
        """torch's rule: the output_padding that makes the output
        ``output_size`` (the trailing spatial sizes)."""
        if output_size is None:
            return self.output_padding
        nd = self._nd
        output_size = list(output_size)
        if len(output_size) == nd + 2 or len(output_size) == nd + 1:
            output_size = output_size[-nd:]
        if len(output_size) != nd:
            raise ValueError(f"ConvTranspose{nd}D: for {input.dim()}D input, output_size "
                             f"must have {nd} or {nd + 2} elements (got "
                             f"{len(output_size)})")
        result = []
        for d in range(nd):
            size = input.shape[input.dim() - nd + d]
            smallest = ((size - 1) * self.stride[d] - 2 * self.padding[d]
                        + self.dilation[d] * (self.kernel_size[d] - 1) + 1)
            largest = smallest + self.stride[d] - 1
            if not smallest <= output_size[d] <= largest:
                raise ValueError(
                    f"requested an output size of {output_size}, but valid sizes range "
                    f"from {smallest} to {largest} (for an input of "
                    f"{list(input.shape[2:])})")
            result.append(output_size[d] - smallest)
        return tuple(result)

    def forward(self, input, output_size=None):
        output_padding = self._output_padding(input, output_size)
        return type(self)._functional(input, self.weight, self.bias, self.stride,
                                      self.padding, output_padding, self.groups,
                                      self.dilation)


class ConvTranspose1d(_ConvTranspose):
    """Applies a 1-D transposed convolution over (N, C_in, L) input."""
    _nd = 1
    _functional = staticmethod(conv_transpose1d)


class ConvTranspose2d(_ConvTranspose):
    """Applies a 2-D transposed convolution over (N, C_in, H, W) input."""
    _nd = 2
    _functional = staticmethod(conv_transpose2d)


class ConvTranspose3d(_ConvTranspose):
    """Applies a 3-D transposed convolution over (N, C_in, D, H, W) input."""
    _nd = 3
    _functional = staticmethod(conv_transpose3d)

