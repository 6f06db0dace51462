"""Pooling: ``max_pool``/``avg_pool`` 1d/2d, their adaptive forms and the
modules, with torch's arguments, output sizes and messages.

Each is a composition of ember ops, so it gets autograd and runs on every
device. A window of ``prod(kernel_size)`` positions is that many strided
slices of the (padded) input, one per kernel offset, each of the output's
shape: average pooling adds them; max pooling keeps a running maximum with
``where((v > best) | isnan(v), v, best)``, torch's scan (the first maximum
in row-major kernel order wins a tie, a NaN wins), so the gradient reaches
exactly the element torch's ``max_pool2d_backward`` routes it to. All of it
is element-wise over the output and fuses into one kernel. When a gradient
is needed, the winners' flat indices are found too (by equality with the
maximum) and the output is gathered through them, so the backward is the
gather's adjoint: one scatter-add of the cotangent into the input (on the
CPU; a GPU differentiates the chain: one slice insert per kernel offset). Adaptive windows of varying length are
gathered with host-built index tables (or, for the average, a matmul with
an averaging matrix)."""

import math

import numpy as np

import ember
from ember.nn import _spatial
from ember.nn.module import Module


# Kernels of more offsets than this pool over a trailing window dim instead of
# a chain of one strided slice per offset (whose fused kernel would bind one
# buffer per slice: Vulkan allows 32).
_CHAIN_LIMIT = 16


# --- Shapes and windows ----------------------------------------------------------

def _output_size(size, kernel, stride, pad, dilation, ceil_mode):
    """torch's ``pooling_output_shape``: the last window must start inside
    the input or its left padding."""
    span = size + 2 * pad - dilation * (kernel - 1) - 1 + ((stride - 1) if ceil_mode else 0)
    out = span // stride + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    return out


def _check_pool_input(name, input, nd):
    """The batched form of ``input`` (a batch dim added to an unbatched one)
    and whether it was added; torch's messages for a wrong rank or an empty
    spatial/channel dim."""
    dims = input.dim()
    spatial_ok = dims in (nd + 1, nd + 2) and all(
        input.shape[d] != 0 for d in range(dims - nd - 1 if dims == nd + 2 else 0, dims))
    if not spatial_ok:
        if name.startswith("max_pool1d"):
            raise RuntimeError(
                f"max_pool1d: Expected 2D or 3D (batch mode) tensor with optional 0 dim "
                f"batch size for input, but got:{list(input.shape)}")
        if name.startswith("avg_pool1d"):
            raise RuntimeError(
                f"Expected 2 to 3 dimensions, but got {dims}-dimensional tensor for "
                f"argument #1 'self' (while checking arguments for avg_pool1d)")
        raise RuntimeError("non-empty 3D or 4D (batch mode) tensor expected for input")
    if dims == nd + 1:
        return input.unsqueeze(0), True
    return input, False


def _pool_geometry(name, x, nd, kernel_size, stride, padding, dilation, ceil_mode):
    """Expands and checks the arguments for the last ``nd`` dims of the
    batched input ``x``; returns (kernel, stride, padding, dilation, output
    sizes) as nd-tuples."""
    kernel = _spatial.ntuple(kernel_size, nd, f"{name}: kernel_size")
    if stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0):
        stride = kernel
    stride = _spatial.ntuple(stride, nd, f"{name}: stride")
    padding = _spatial.ntuple(padding, nd, f"{name}: padding")
    dilation = _spatial.ntuple(dilation, nd, f"{name}: dilation")
    if any(s <= 0 for s in stride) or any(k <= 0 for k in kernel):
        if any(k <= 0 for k in kernel):
            raise RuntimeError(f"kernel size should be greater than zero, but got "
                               f"kernel_size={list(kernel)}")
        raise RuntimeError("stride should not be zero")
    if any(d <= 0 for d in dilation):
        raise RuntimeError(f"dilation should be greater than zero, but got "
                           f"dilation={list(dilation)}")
    for k, p in zip(kernel, padding):
        if p < 0 or p > k // 2:
            raise RuntimeError(f"pad should be at most half of kernel size, but got "
                               f"pad={p} and kernel_size={k}")
    sizes = tuple(x.shape[x.dim() - nd:])
    out = tuple(_output_size(n, k, s, p, d, ceil_mode)
                for n, k, s, p, d in zip(sizes, kernel, stride, padding, dilation))
    if any(o < 1 for o in out):
        channels = x.shape[x.dim() - nd - 1]
        given = "x".join(str(v) for v in (channels,) + sizes)
        calculated = "x".join(str(v) for v in (channels,) + out)
        raise RuntimeError(f"Given input size: ({given}). Calculated output size: "
                           f"({calculated}). Output size is too small")
    return kernel, stride, padding, dilation, out


def _running_max(candidates, positions=None):
    """The running maximum of the tensors in ``candidates`` (torch's pooling
    scan: a later value replaces the best only if greater, or NaN) and, with
    ``positions`` (one int per candidate), the position of the winner."""
    best, where = None, None
    for i, value in enumerate(candidates):
        if best is None:
            best = value
            if positions is not None:
                where = positions[0]
            continue
        better = (value > best) | (value != value)
        best = ember.where(better, value, best)
        if positions is not None:
            where = ember.where(better, positions[i], where)
    return best, where


def _winner_offsets(candidates, offsets):
    """The running maximum of ``candidates`` (torch's scan) and the winner's
    offset (``offsets[k]`` of the winning candidate ``k``; int64): the first
    candidate equal to the maximum, or, where the maximum is NaN, the last
    NaN (torch's scan replaces the best by every NaN). Found by equality
    after the maximum, as float selects (exact: the offsets are small),
    which is cheaper than carrying an int64 position through the scan."""
    best, _ = _running_max(candidates)
    first = None
    for k in reversed(range(len(candidates))):
        hit = candidates[k] == best
        first = ember.where(hit, float(offsets[k]), 0.0 if first is None else first)
    last_nan = None
    for k in range(len(candidates)):
        nan = candidates[k] != candidates[k]
        last_nan = ember.where(nan, float(offsets[k]), 0.0 if last_nan is None else last_nan)
    offset = ember.where(best != best, last_nan, first)
    return best, offset.to(ember.int64)


def _max_last(stacked, positions=None):
    """The maximum over the trailing dim of ``stacked`` (the first one wins a
    tie, as in torch's scan; ``argmax`` counts NaN as the maximum) and, with
    ``positions`` (broadcasting to ``stacked``), the winner's position. The
    value is picked through a one-hot mask, so its gradient reaches only the
    winner."""
    count = stacked.shape[-1]
    winner = ember.argmax(stacked, -1, keepdim=True)
    mask = winner == _spatial.table(("arange", count),
                                    lambda: np.arange(count, dtype=np.int64), stacked)
    best = ember.where(mask, stacked, 0).sum(-1)
    if positions is None:
        return best, None
    return best, ember.where(mask, positions, 0).sum(-1)


def _flat_offsets(sizes, kernel, dilation):
    """For each kernel offset (row-major), its distance in the flattened
    input from the window's first element."""
    strides = [int(np.prod(sizes[i + 1:])) for i in range(len(sizes))]
    return [sum(k * d * st for k, d, st in zip(offsets, dilation, strides))
            for offsets in np.ndindex(*kernel)]


def _window_starts(like, sizes, stride, padding, out):
    """(out...) int64 table: the flat input index of each window's first
    element (negative inside the left padding)."""
    def make():
        strides = [int(np.prod(sizes[i + 1:])) for i in range(len(sizes))]
        grids = np.meshgrid(*[np.arange(o, dtype=np.int64) * s - p
                              for o, s, p in zip(out, stride, padding)], indexing="ij")
        return sum(g * st for g, st in zip(grids, strides)).astype(np.int64)
    return _spatial.table(("pool_starts", sizes, stride, padding, out), make, like)


def _max_pool(name, nd, input, kernel_size, stride, padding, dilation, ceil_mode,
              return_indices):
    if not input.is_floating_point():
        raise RuntimeError(f'"{name}" not implemented for '
                           f"'{str(input.dtype).split('.')[-1].capitalize()}'")
    x, unbatched = _check_pool_input(name, input, nd)
    kernel, stride, padding, dilation, out = _pool_geometry(
        name, x, nd, kernel_size, stride, padding, dilation, ceil_mode)
    sizes = tuple(x.shape[x.dim() - nd:])
    # The CPU finds the winners and scatters the gradient to them; a GPU
    # kernel binds one buffer per slice read (Vulkan allows 32), and the
    # winner search reads each slice three times, so there the gradient
    # goes through the running maximum's where chain.
    scatter_gradient = x.device.type == "cpu"
    if math.prod(kernel) > _CHAIN_LIMIT:
        stacked = _spatial.stacked_windows(x, kernel, stride, padding, dilation, out,
                                           float("-inf"))
        positions = None
        if return_indices:
            offsets = _flat_offsets(sizes, kernel, dilation)
            starts = _window_starts(x, sizes, stride, padding, out)
            positions = starts.unsqueeze(-1) + _spatial.table(
                ("offsets", tuple(offsets)), lambda: np.asarray(offsets, np.int64), x)
        output, indices = _max_last(stacked, positions)
    elif not return_indices and not (scatter_gradient and x.requires_grad
                                     and ember.is_grad_enabled()):
        output, _ = _running_max(
            [s for _, s in _spatial.windows(x, kernel, stride, padding, dilation, out,
                                            float("-inf"))])
    elif not scatter_gradient:
        slices = [s for _, s in _spatial.windows(x, kernel, stride, padding, dilation, out,
                                                 float("-inf"))]
        offsets = _flat_offsets(sizes, kernel, dilation)
        output, offset = _running_max(slices, offsets)
        indices = _window_starts(x, sizes, stride, padding, out) + offset
    else:
        # The winners' flat indices, then the output gathered through them:
        # the gradient is the gather's adjoint, one scatter-add of the
        # cotangent into the input (not one slice insert per kernel offset
        # through the running maximum's where chain).
        slices = [s for _, s in _spatial.windows(x.detach(), kernel, stride, padding,
                                                 dilation, out, float("-inf"))]
        offsets = _flat_offsets(sizes, kernel, dilation)
        best, offset = _winner_offsets(slices, offsets)
        indices = _window_starts(x, sizes, stride, padding, out) + offset
        if x.requires_grad and ember.is_grad_enabled():
            batch = tuple(x.shape[:x.dim() - nd])
            flat = x.reshape(batch + (-1,))
            output = flat.gather(len(batch), indices.expand(batch + out).reshape(
                batch + (-1,))).reshape(batch + out)
        else:
            output = best
    if not return_indices:
        return output.squeeze(0) if unbatched else output
    indices = indices.expand(output.shape)
    if unbatched:
        return output.squeeze(0), indices.squeeze(0)
    return output, indices


def max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=True):
    """max_pool1d returning ``(output, indices)``: indices into the
    (unpadded) length dim."""
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation,
                     ceil_mode, True)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Maximum over sliding windows of the last dim of (N, C, L) or (C, L);
    padding counts as -inf."""
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation,
                     ceil_mode, return_indices)


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=True):
    """max_pool2d returning ``(output, indices)``: indices into the
    flattened (unpadded) H x W plane, torch's convention."""
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation,
                     ceil_mode, True)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Maximum over sliding windows of the last two dims of (N, C, H, W) or
    (C, H, W); padding counts as -inf."""
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation,
                     ceil_mode, return_indices)


def _window_counts(size, kernel, stride, pad, out, include_pad):
    """Per output position along one dim: how many elements its window
    averages (torch's ``divide_factor``: windows clipped at the padded
    border, and at the input's when ``count_include_pad`` is off)."""
    counts = []
    for o in range(out):
        start = o * stride - pad
        end = min(start + kernel, size + pad)
        full = end - start
        start, end = max(start, 0), min(end, size)
        counts.append(full if include_pad else end - start)
    return counts


def _avg_pool(name, nd, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override):
    x, unbatched = _check_pool_input(name, input, nd)
    kernel, stride, padding, dilation, out = _pool_geometry(
        name, x, nd, kernel_size, stride, padding, 1, ceil_mode)
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    if math.prod(kernel) > _CHAIN_LIMIT:
        total = _spatial.stacked_windows(x, kernel, stride, padding, dilation, out, 0).sum(-1)
    else:
        total = None
        for _, window in _spatial.windows(x, kernel, stride, padding, dilation, out, 0):
            total = window if total is None else total + window
    if divisor_override is not None:
        divisor = divisor_override
    else:
        sizes = tuple(x.shape[x.dim() - nd:])
        counts = [_window_counts(n, k, s, p, o, count_include_pad)
                  for n, k, s, p, o in zip(sizes, kernel, stride, padding, out)]
        if all(len(set(c)) == 1 for c in counts):
            divisor = math.prod(c[0] for c in counts)
        else:
            def make():
                grid = np.ones((), np.int64)
                for c in counts:
                    grid = np.multiply.outer(grid, np.asarray(c, np.int64))
                return grid
            divisor = _spatial.table(("avg_divisor", tuple(map(tuple, counts))), make, x,
                                     x.dtype)
    output = total / divisor if x.is_floating_point() else _int_divide(total, divisor)
    return output.squeeze(0) if unbatched else output


def _int_divide(total, divisor):
    # torch divides an integer window sum by the count in C++ (truncation).
    if not isinstance(divisor, ember.Tensor):
        divisor = ember.full([], divisor, dtype=total.dtype)
        if total.device.type != "cpu":
            divisor = divisor.to(total.device)
    return ember.div(total, divisor, rounding_mode="trunc")


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    """Mean over sliding windows of the last dim of (N, C, L) or (C, L)."""
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, None)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """Mean over sliding windows of the last two dims of (N, C, H, W) or
    (C, H, W); ``count_include_pad`` counts zero padding in the divisor,
    ``divisor_override`` replaces it."""
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


# --- Adaptive pooling ---------------------------------------------------------

def _adaptive_input(name, input, nd, output_size):
    dims = input.dim()
    if nd == 1 and dims not in (2, 3):
        raise RuntimeError(f"Expected 2 to 3 dimensions, but got {dims}-dimensional tensor "
                           f"for argument #1 'self' (while checking arguments for {name})")
    if nd == 2 and dims not in (3, 4):
        colon = ":" if name == "adaptive_max_pool2d" else ""
        raise RuntimeError(f"{name}(): Expected 3D or 4D tensor, but got{colon} "
                           f"{list(input.shape)}")
    for d in range(1 if dims == nd + 2 else 0, dims):
        if input.shape[d] == 0:
            raise RuntimeError(
                f"{name}(): Expected input to have non-zero size for non-batch dimensions, "
                f"but input has sizes {list(input.shape)} with dimension {d} being empty")
    if isinstance(output_size, (list, tuple)):
        if len(output_size) != nd:
            if name.startswith("adaptive_max"):
                raise RuntimeError(f"{name}(): internal error: output_size.size() must be "
                                   f"{nd}")
            raise RuntimeError(f"{name}: output_size must be {nd}")
        sizes = tuple(output_size)
    else:
        sizes = (output_size,) * nd
    spatial = tuple(input.shape[dims - nd:])
    sizes = tuple(n if o is None else int(o) for o, n in zip(sizes, spatial))
    if any(o < 0 for o in sizes):
        raise RuntimeError(f"{name}: elements of output_size must be greater than or equal "
                           f"to 0 but received {list(sizes)}")
    x, unbatched = (input.unsqueeze(0), True) if dims == nd + 1 else (input, False)
    return x, unbatched, spatial, sizes


def _adaptive_bounds(size, out):
    """torch's adaptive windows: [floor(i n / o), ceil((i + 1) n / o))."""
    return [((i * size) // out, -((-(i + 1) * size) // out)) for i in range(out)]


def _adaptive_mean(x, dim, size, out):
    """Mean of each adaptive window along ``dim``: a reshape where the
    windows tile the dim evenly, else a matmul with the averaging matrix."""
    if out == size:
        return x
    if out == 1:
        return x.mean(dim, keepdim=True)
    if size % out == 0:
        shape = list(x.shape)
        shape[dim:dim + 1] = [out, size // out]
        return x.reshape(shape).mean(dim + 1)

    def make():
        weights = np.zeros((size, out), np.float64)
        for i, (start, end) in enumerate(_adaptive_bounds(size, out)):
            weights[start:end, i] = 1.0 / (end - start)
        return weights
    weights = _spatial.table(("adaptive_mean", size, out), make, x, x.dtype)
    last = x.dim() - 1
    if dim == last:
        return ember.matmul(x, weights)
    return ember.matmul(x.transpose(dim, last), weights).transpose(dim, last)


def _adaptive_avg(name, nd, input, output_size):
    x, unbatched, spatial, out = _adaptive_input(name, input, nd, output_size)
    if not x.is_floating_point():
        raise RuntimeError(f'"{name}" not implemented for '
                           f"'{str(x.dtype).split('.')[-1].capitalize()}'")
    if any(o == 0 for o in out):
        result = ember.zeros(list(x.shape[:x.dim() - nd]) + list(out), dtype=x.dtype)
        result = result if x.device.type == "cpu" else result.to(x.device)
    elif all(o == 1 for o in out):
        # A global pool (a squeeze-excitation block's, a classifier head's):
        # one mean over the flattened planes, a reduction along contiguous
        # memory, where a mean per dim first reduces across rows (at
        # (32, 576, 7, 7) on the CPU: 0.23 ms against 1.7 ms).
        result = x.flatten(x.dim() - nd).mean(-1, keepdim=True)
        for _ in range(nd - 1):
            result = result.unsqueeze(-1)
    else:
        result = x
        first = x.dim() - nd
        for i, (n, o) in enumerate(zip(spatial, out)):
            result = _adaptive_mean(result, first + i, n, o)
    return result.squeeze(0) if unbatched else result


def adaptive_avg_pool1d(input, output_size):
    """Means over ``output_size`` windows of the last dim, window i covering
    [floor(i L / out), ceil((i + 1) L / out))."""
    return _adaptive_avg("adaptive_avg_pool1d", 1, input, output_size)


def adaptive_avg_pool2d(input, output_size):
    """Means over an ``output_size`` grid of windows of the last two dims
    (``None`` keeps that dim's size)."""
    return _adaptive_avg("adaptive_avg_pool2d", 2, input, output_size)


def _adaptive_max(name, nd, input, output_size, return_indices):
    x, unbatched, spatial, out = _adaptive_input(name, input, nd, output_size)
    if not x.is_floating_point():
        raise RuntimeError(f'"{name}" not implemented for '
                           f"'{str(x.dtype).split('.')[-1].capitalize()}'")
    if all(n % o == 0 for n, o in zip(spatial, out) if o) and all(out):
        # Even windows: a plain max pool with kernel = stride = n / out.
        kernel = tuple(n // o for n, o in zip(spatial, out))
        result = _max_pool(name, nd, x, kernel, kernel, 0, 1, False, return_indices)
    else:
        result = _adaptive_max_gathered(x, spatial, out, return_indices)
    if not return_indices:
        return result.squeeze(0) if unbatched else result
    output, indices = result
    if unbatched:
        return output.squeeze(0), indices.squeeze(0)
    return output, indices


def _adaptive_max_gathered(x, spatial, out, return_indices):
    """Adaptive max pooling with windows of varying length: per dim, the
    window positions padded to the longest window by repeating the last one
    (a repeat never wins the scan: it is not greater than itself) are
    gathered into a (out, width) pair of dims; then a running max over every
    (width...) position, as for the plain pool."""
    nd = len(spatial)
    first = x.dim() - nd
    tables = []
    gathered = x
    for i, (n, o) in enumerate(zip(spatial, out)):
        bounds = _adaptive_bounds(n, o)
        width = max(end - start for start, end in bounds)
        positions = np.array([[min(start + j, end - 1) for j in range(width)]
                              for start, end in bounds], np.int64)
        tables.append(positions)
        index = _spatial.table(("adaptive_max", n, o), lambda p=positions: p.reshape(-1), x)
        dim = first + 2 * i
        gathered = gathered.index_select(dim, index)
        shape = list(gathered.shape)
        shape[dim:dim + 1] = [o, width]
        gathered = gathered.reshape(shape)
    widths = [t.shape[1] for t in tables]
    if math.prod(widths) > _CHAIN_LIMIT:
        order = list(range(first)) + [first + 2 * i for i in range(nd)] + \
            [first + 2 * i + 1 for i in range(nd)]
        stacked = gathered.permute(order).reshape(
            list(gathered.shape[:first]) + list(out) + [math.prod(widths)])
        positions = None
        if return_indices:
            positions = ember.stack([_adaptive_position(x, spatial, out, tables, offsets)
                                     for offsets in np.ndindex(*widths)], -1)
        best, where = _max_last(stacked, positions)
        return best if not return_indices else (best, where)
    candidates, flat = [], []
    for offsets in np.ndindex(*widths):
        index = [slice(None)] * first
        for j in offsets:
            index += [slice(None), int(j)]
        candidates.append(gathered[tuple(index)])
        if return_indices:
            flat.append(_adaptive_position(x, spatial, out, tables, offsets))
    if not return_indices:
        best, _ = _running_max(candidates)
        return best
    best, where = _running_max(candidates, flat)
    return best, where.expand(best.shape)


def _adaptive_position(like, spatial, out, tables, offsets):
    """(out...) int64: the flat input index of window position ``offsets``."""
    def make():
        strides = [int(np.prod(spatial[i + 1:])) for i in range(len(spatial))]
        grids = np.meshgrid(*[t[:, j] for t, j in zip(tables, offsets)], indexing="ij")
        return sum(g * s for g, s in zip(grids, strides)).astype(np.int64)
    key = ("adaptive_max_index", spatial, out, tuple(int(j) for j in offsets))
    return _spatial.table(key, make, like)


def adaptive_max_pool1d_with_indices(input, output_size, return_indices=True):
    return _adaptive_max("adaptive_max_pool1d", 1, input, output_size, True)


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """Maxima over ``output_size`` adaptive windows of the last dim."""
    return _adaptive_max("adaptive_max_pool1d", 1, input, output_size, return_indices)


def adaptive_max_pool2d_with_indices(input, output_size, return_indices=True):
    return _adaptive_max("adaptive_max_pool2d", 2, input, output_size, True)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Maxima over an ``output_size`` grid of adaptive windows of the last
    two dims; ``return_indices`` also gives flat H x W indices."""
    return _adaptive_max("adaptive_max_pool2d", 2, input, output_size, return_indices)


# --- Modules --------------------------------------------------------------------

class _MaxPoolNd(Module):
    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if (stride is not None) else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, dilation={self.dilation}, "
                f"ceil_mode={self.ceil_mode}")


class MaxPool1d(_MaxPoolNd):
    """``F.max_pool1d`` as a module (stride defaults to kernel_size)."""

    def forward(self, input):
        return max_pool1d(input, self.kernel_size, self.stride, self.padding,
                          self.dilation, ceil_mode=self.ceil_mode,
                          return_indices=self.return_indices)


class MaxPool2d(_MaxPoolNd):
    """``F.max_pool2d`` as a module (stride defaults to kernel_size)."""

    def forward(self, input):
        return max_pool2d(input, self.kernel_size, self.stride, self.padding,
                          self.dilation, ceil_mode=self.ceil_mode,
                          return_indices=self.return_indices)


class AvgPool1d(Module):
    """``F.avg_pool1d`` as a module."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True):
        super().__init__()
        self.kernel_size = _spatial.ntuple(kernel_size, 1, "kernel_size")
        self.stride = _spatial.ntuple(stride if stride is not None else kernel_size, 1,
                                      "stride")
        self.padding = _spatial.ntuple(padding, 1, "padding")
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad

    def forward(self, input):
        return avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                          self.count_include_pad)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}")


class AvgPool2d(Module):
    """``F.avg_pool2d`` as a module."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True, divisor_override=None):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if (stride is not None) else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input):
        return avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                          self.count_include_pad, self.divisor_override)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}")


class _AdaptivePool(Module):
    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptivePool):
    def forward(self, input):
        return adaptive_avg_pool1d(input, self.output_size)


class AdaptiveAvgPool2d(_AdaptivePool):
    def forward(self, input):
        return adaptive_avg_pool2d(input, self.output_size)


class _AdaptiveMaxPool(_AdaptivePool):
    def __init__(self, output_size, return_indices=False):
        super().__init__(output_size)
        self.return_indices = return_indices


class AdaptiveMaxPool1d(_AdaptiveMaxPool):
    def forward(self, input):
        return adaptive_max_pool1d(input, self.output_size, self.return_indices)


class AdaptiveMaxPool2d(_AdaptiveMaxPool):
    def forward(self, input):
        return adaptive_max_pool2d(input, self.output_size, self.return_indices)


_spatial.surface(globals(), __name__)
