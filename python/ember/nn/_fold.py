"""``F.unfold`` (im2col) and ``F.fold`` (col2im) with the ``Unfold`` and
``Fold`` modules, and ``Unflatten``.

unfold takes one strided slice of the zero-padded input per kernel offset
(as the pooling layers do) and stacks them: (N, C, H, W) ->
(N, C * prod(kernel_size), L) with channels major, kernel offsets minor, as
torch orders them. fold is its adjoint: every block element is added at
its position in the padded plane by one ``scatter_add`` through an index
table built on the host, and the padding is cropped."""

import numpy as np

import ember
from ember.nn import _spatial
from ember.nn.module import Module


def _blocks(name, spatial, kernel, dilation, padding, stride):
    """The number of sliding blocks per spatial dim (torch's checks)."""
    if any(k <= 0 for k in kernel):
        raise RuntimeError(f"kernel size should be greater than zero, but got kernel_height: "
                           f"{kernel[0]} kernel_width: {kernel[1]}")
    if any(s <= 0 for s in stride):
        raise RuntimeError(f"stride should be greater than zero, but got dH: {stride[0]} "
                           f"dW: {stride[1]}")
    if any(d <= 0 for d in dilation):
        raise RuntimeError(f"dilation should be greater than zero, but got dilationH: "
                           f"{dilation[0]} dilationW: {dilation[1]}")
    if any(p < 0 for p in padding):
        raise RuntimeError(f"padding should be non-negative, but got padH: {padding[0]} "
                           f"padW: {padding[1]}")
    blocks = tuple((n + 2 * p - d * (k - 1) - 1) // s + 1
                   for n, k, d, p, s in zip(spatial, kernel, dilation, padding, stride))
    if any(b < 1 for b in blocks):
        raise RuntimeError(
            f"Given {name}spatial size {tuple(spatial)}, kernel_size={kernel}, "
            f"dilation={dilation}, padding={padding}, calculated shape of the array of sliding "
            f"blocks as {blocks}, but its components must be at least one.")
    return blocks


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """Extracts sliding blocks: (N, C, H, W) or (C, H, W) -> (N, C * kh * kw,
    L), L the number of blocks, each column one flattened block."""
    kernel = _spatial.ntuple(kernel_size, 2, "kernel_size")
    dilation = _spatial.ntuple(dilation, 2, "dilation")
    padding = _spatial.ntuple(padding, 2, "padding")
    stride = _spatial.ntuple(stride, 2, "stride")
    if input.dim() not in (3, 4) or any(n == 0 for n in input.shape[input.dim() - 3:]):
        raise RuntimeError(f"Expected 3D or 4D (batch mode) tensor with optional 0 dim batch "
                           f"size for input, but got: {list(input.shape)}")
    unbatched = input.dim() == 3
    x = input.unsqueeze(0) if unbatched else input
    blocks = _blocks("input with ", tuple(x.shape[2:]), kernel, dilation, padding, stride)
    slices = [s for _, s in _spatial.windows(x, kernel, stride, padding, dilation, blocks, 0)]
    stacked = ember.stack(slices, 2)
    columns = stacked.reshape(x.shape[0], x.shape[1] * len(slices), blocks[0] * blocks[1])
    return columns.squeeze(0) if unbatched else columns


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Sums sliding blocks into a tensor: (N, C * kh * kw, L) or
    (C * kh * kw, L) -> (N, C, *output_size); overlapping elements add."""
    output_size = _spatial.ntuple(output_size, 2, "output_size")
    kernel = _spatial.ntuple(kernel_size, 2, "kernel_size")
    dilation = _spatial.ntuple(dilation, 2, "dilation")
    padding = _spatial.ntuple(padding, 2, "padding")
    stride = _spatial.ntuple(stride, 2, "stride")
    if input.dim() not in (2, 3) or any(n == 0 for n in input.shape[input.dim() - 2:]):
        raise RuntimeError(f"Expected 2D or 3D (batch mode) tensor for input with possibly 0 "
                           f"batch size and non-zero dimensions for input, but got: "
                           f"{list(input.shape)}")
    unbatched = input.dim() == 2
    x = input.unsqueeze(0) if unbatched else input
    count = kernel[0] * kernel[1]
    if x.shape[1] % count:
        raise RuntimeError(f"Expected size of input's dimension 1 to be divisible by the "
                           f"product of kernel_size, but got input.size(1)={x.shape[1]} and "
                           f"kernel_size={kernel}.")
    blocks = _blocks("output ", output_size, kernel, dilation, padding, stride)
    if x.shape[2] != blocks[0] * blocks[1]:
        raise RuntimeError(
            f"Given output_size={output_size}, kernel_size={kernel}, dilation={dilation}, "
            f"padding={padding}, stride={stride}, expected size of input's dimension 2 to "
            f"match the calculated number of sliding blocks {blocks[0]} * {blocks[1]} = "
            f"{blocks[0] * blocks[1]}, but got input.size(2)={x.shape[2]}.")
    batch, channels = x.shape[0], x.shape[1] // count
    padded = tuple(n + 2 * p for n, p in zip(output_size, padding))

    def make():
        kh, kw = np.meshgrid(np.arange(kernel[0]), np.arange(kernel[1]), indexing="ij")
        bh, bw = np.meshgrid(np.arange(blocks[0]), np.arange(blocks[1]), indexing="ij")
        rows = kh.reshape(-1, 1) * dilation[0] + bh.reshape(1, -1) * stride[0]
        cols = kw.reshape(-1, 1) * dilation[1] + bw.reshape(1, -1) * stride[1]
        return (rows * padded[1] + cols).reshape(-1).astype(np.int64)
    index = _spatial.table(("fold", padded, kernel, dilation, stride, blocks), make, x)
    zeros = ember.zeros(batch, channels, padded[0] * padded[1], dtype=x.dtype)
    if x.device.type != "cpu":
        zeros = zeros.to(x.device)
    updates = x.reshape(batch, channels, count * x.shape[2])
    summed = ember._ember._scatter_add_along(zeros, 2, index, updates)
    output = summed.reshape(batch, channels, padded[0], padded[1])
    if padding[0] or padding[1]:
        output = output[:, :, padding[0]:padding[0] + output_size[0],
                        padding[1]:padding[1] + output_size[1]]
    return output.squeeze(0) if unbatched else output


class Unfold(Module):
    """``F.unfold`` as a module."""

    def __init__(self, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.kernel_size = kernel_size
        self.dilation = dilation
        self.padding = padding
        self.stride = stride

    def forward(self, input):
        return unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")


class Fold(Module):
    """``F.fold`` as a module."""

    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.output_size = output_size
        self.kernel_size = kernel_size
        self.dilation = dilation
        self.padding = padding
        self.stride = stride

    def forward(self, input):
        return fold(input, self.output_size, self.kernel_size, self.dilation, self.padding,
                    self.stride)

    def extra_repr(self):
        return (f"output_size={self.output_size}, kernel_size={self.kernel_size}, "
                f"dilation={self.dilation}, padding={self.padding}, stride={self.stride}")


class Unflatten(Module):
    """Expands dim ``dim`` into ``unflattened_size`` (one entry may be -1)."""

    def __init__(self, dim, unflattened_size):
        super().__init__()
        if not isinstance(dim, int):
            raise TypeError("invalid argument type for dim parameter: named dims are not "
                            "supported by ember")
        if not isinstance(unflattened_size, (tuple, list)) or not all(
                isinstance(s, int) for s in unflattened_size):
            raise TypeError("unflattened_size must be tuple of ints, but found type "
                            f"{type(unflattened_size).__name__}")
        self.dim = dim
        self.unflattened_size = unflattened_size

    def forward(self, input):
        dim = self.dim + input.dim() if self.dim < 0 else self.dim
        sizes = list(self.unflattened_size)
        size = input.shape[dim]
        known = 1
        for s in sizes:
            if s != -1:
                known *= s
        if sizes.count(-1) == 1 and known and size % known == 0:
            sizes[sizes.index(-1)] = size // known
        if sizes.count(-1) or int(np.prod(sizes)) != size:
            raise RuntimeError(f"unflatten: Provided sizes {list(self.unflattened_size)} "
                               f"don't multiply up to the size of dim {self.dim} ({size}) in "
                               f"the input tensor")
        shape = list(input.shape)
        return input.reshape(shape[:dim] + sizes + shape[dim + 1:])

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


_spatial.surface(globals(), __name__)
