"""Batch, instance, group and local-response normalization: the functional
forms and the modules, with torch's arguments, buffers (``running_mean``,
``running_var``, ``num_batches_tracked``: torch's state_dict keys), train
and eval behaviour and messages.

Batch statistics are ember reductions, so autograd and every device come
for free. The running statistics are updated in place under ``no_grad``
with values of the current step's lazy program: they are computed together
with that step's gradients, and the next step reads them as computed
inputs, so a training loop runs the same program every step (the momentum
of the cumulative average, ``1 / num_batches_tracked``, is a tensor, not a
number read back from the device). Group and instance norm normalize
(N * groups) rows with the ``layer_norm`` op (one row pass on the CPU)."""

import ember
from ember._grad_mode import no_grad
from ember.nn import _spatial, init
from ember.nn.module import Module
from ember.nn.parameter import Parameter


def _channel_shape(x):
    """[1, C, 1, ...]: a per-channel vector shaped to broadcast over x."""
    shape = [1] * x.dim()
    shape[1] = x.shape[1]
    return shape


def _check_vector(name, vector, channels):
    if vector is not None and vector.numel() != channels:
        raise RuntimeError(f"{name} should contain {channels} elements not {vector.numel()}")


def _affine(x, weight, bias):
    shape = _channel_shape(x)
    if weight is not None:
        x = x * weight.reshape(shape)
    if bias is not None:
        x = x + bias.reshape(shape)
    return x


def _blend(running, value, factor):
    """``running`` <- (1 - factor) running + factor value, in place."""
    if isinstance(factor, ember.Tensor):
        factor = factor.to(running.dtype)
    running.copy_(running * (1.0 - factor) + value.to(running.dtype) * factor)


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Normalizes each channel (dim 1) by the batch's mean and biased
    variance over every other dim (``training``), or by ``running_mean`` and
    ``running_var``; then scales by ``weight`` and shifts by ``bias``. In
    training the running statistics, if given, move ``momentum`` of the way
    towards the batch's mean and unbiased variance (``momentum`` may be a
    0-d tensor)."""
    if input.numel() == 0:
        # torch returns a copy (keeping the gradient chain), before any check.
        output = input.clone()
        if weight is not None:
            output = output * weight[0]
        if bias is not None:
            output = output + bias[0]
        return output
    if input.dim() < 2:
        # torch's errors for a non-empty input without a channel dim.
        if not training and (running_mean is None or running_var is None):
            raise RuntimeError("running_mean must be defined in evaluation mode")
        if running_mean is not None and running_mean.numel():
            raise RuntimeError(f"running_mean should contain 0 elements not "
                               f"{running_mean.numel()}")
        raise IndexError(f"Dimension out of range (expected to be in range of "
                         f"[{-max(input.dim(), 1)}, {max(input.dim(), 1) - 1}], but got 1)")
    channels = input.shape[1]
    for name, vector in (("running_mean", running_mean), ("running_var", running_var),
                         ("weight", weight), ("bias", bias)):
        _check_vector(name, vector, channels)
    shape = _channel_shape(input)
    if not training:
        if running_mean is None or running_var is None:
            raise RuntimeError("running_mean must be defined in evaluation mode")
        scale = ember.rsqrt(running_var.reshape(shape) + eps)
        return _affine((input - running_mean.reshape(shape)) * scale, weight, bias)
    count = input.numel() // channels if channels else 0
    if count <= 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input "
                         f"size {_size_repr(input)}")
    dims = [0] + list(range(2, input.dim()))
    mean = input.mean(dims, keepdim=True)
    centered = input - mean
    variance = (centered * centered).mean(dims, keepdim=True)
    output = _affine(centered * ember.rsqrt(variance + eps), weight, bias)
    if running_mean is not None or running_var is not None:
        with no_grad():
            if running_mean is not None:
                _blend(running_mean, mean.detach().reshape(channels), momentum)
            if running_var is not None:
                unbiased = variance.detach().reshape(channels) * (count / (count - 1))
                _blend(running_var, unbiased, momentum)
    return output


def _size_repr(x):
    return f"torch.Size({list(x.shape)})"


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats=True, momentum=0.1, eps=1e-5):
    """Normalizes each (sample, channel) over its spatial dims
    (``use_input_stats``), or by the running statistics; per-channel
    ``weight`` and ``bias``. Running statistics, if given, move towards the
    batch average of the instances' means and unbiased variances."""
    if input.dim() < 2:
        raise IndexError(f"Dimension out of range (expected to be in range of "
                         f"[{-max(input.dim(), 1)}, {max(input.dim(), 1) - 1}], but got 1)")
    batch, channels = input.shape[0], input.shape[1]
    spatial = input.numel() // (batch * channels) if batch * channels else 0
    if use_input_stats and spatial <= 1:
        raise ValueError(f"Expected more than 1 spatial element when training, got input "
                         f"size {_size_repr(input)}")
    for name, vector in (("weight", weight), ("bias", bias)):
        if vector is not None and vector.numel() != channels:
            raise RuntimeError(f"{name} should contain {batch * channels} elements not "
                               f"{vector.numel()}")
    for name, vector in (("running_mean", running_mean), ("running_var", running_var)):
        if vector is not None and vector.numel() != channels:
            raise RuntimeError(f"{name} should contain {batch * channels} elements not "
                               f"{vector.numel() * batch}")
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise RuntimeError("Expected running_mean and running_var to be defined when "
                               "use_input_stats is false")
        return batch_norm(input, running_mean, running_var, weight, bias, False, momentum,
                          eps)
    rows = input.reshape(batch * channels, spatial)
    output = ember._ember._layer_norm_rows(rows, None, None, float(eps)).reshape(input.shape)
    if running_mean is not None or running_var is not None:
        with no_grad():
            detached = rows.detach()
            mean = detached.mean(-1, keepdim=True)
            centered = detached - mean
            if running_mean is not None:
                _blend(running_mean, mean.reshape(batch, channels).mean(0), momentum)
            if running_var is not None:
                unbiased = (centered * centered).sum(-1) / (spatial - 1)
                _blend(running_var, unbiased.reshape(batch, channels).mean(0), momentum)
    return _affine(output, weight, bias)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalizes each sample's channels in ``num_groups`` groups (each
    group over its channels and spatial dims, biased variance); per-channel
    ``weight`` and ``bias``."""
    if input.dim() < 2:
        raise IndexError(f"Dimension out of range (expected to be in range of "
                         f"[{-max(input.dim(), 1)}, {max(input.dim(), 1) - 1}], but got 1)")
    batch, channels = input.shape[0], input.shape[1]
    if num_groups <= 0 or channels % num_groups:
        raise RuntimeError(f"Expected number of channels in input to be divisible by "
                           f"num_groups, but got input of shape {list(input.shape)} and "
                           f"num_groups={num_groups}")
    for name, vector in (("weight", weight), ("bias", bias)):
        if vector is not None and (vector.dim() != 1 or vector.numel() != channels):
            raise RuntimeError(f"Expected {name} to be a vector of size equal to the number "
                               f"of channels in input, but got {name} of shape "
                               f"{list(vector.shape)} and input of shape "
                               f"{list(input.shape)}")
    if input.numel() == 0:
        return _affine(input, weight, bias)
    rows = input.reshape(batch * num_groups, input.numel() // (batch * num_groups))
    output = ember._ember._layer_norm_rows(rows, None, None, float(eps)).reshape(input.shape)
    return _affine(output, weight, bias)


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    """``input / (k + alpha / size * sum of squares over the ``size``
    neighbouring channels) ** beta``, channels on dim 1, zero beyond the
    edges (torch's window: ``size // 2`` before, ``(size - 1) // 2`` after)."""
    if input.dim() < 3:
        raise ValueError(f"Expected 3D or higher dimensionality input (got {input.dim()} "
                         f"dimensions)")
    if input.numel() == 0:
        return input
    channels = input.shape[1]
    squares = input * input
    pads = [(size // 2, (size - 1) // 2)] + [(0, 0)] * (input.dim() - 2)
    padded = _spatial.constant_pad(squares, pads, 0)
    total = None
    for offset in range(size):
        window = padded.narrow(1, offset, channels)
        total = window if total is None else total + window
    divisor = (total / size * alpha + k) ** beta
    return input / divisor


# --- Modules --------------------------------------------------------------------

class _NormBase(Module):
    """weight/bias (``affine``) and the running statistics
    (``track_running_stats``) of torch's ``_NormBase``."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, device=None, dtype=None):
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        factory_kwargs = {"device": device, "dtype": dtype}
        if affine:
            self.weight = Parameter(ember.empty(num_features, **factory_kwargs))
            self.bias = Parameter(ember.empty(num_features, **factory_kwargs))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", ember.zeros(num_features, **factory_kwargs))
            self.register_buffer("running_var", ember.ones(num_features, **factory_kwargs))
            self.register_buffer("num_batches_tracked",
                                 ember.tensor(0, dtype=ember.int64, device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self):
        if self.track_running_stats:
            self.running_mean.zero_()
            self.running_var.fill_(1)
            self.num_batches_tracked.zero_()

    def reset_parameters(self):
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            init.zeros_(self.bias)

    def _check_input_dim(self, input):
        raise NotImplementedError

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")


class _BatchNorm(_NormBase):
    def forward(self, input):
        self._check_input_dim(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            with no_grad():
                self.num_batches_tracked.add_(1)
            if self.momentum is None:
                # The cumulative average: 1 / batches seen, as a tensor, so
                # that it changes every step without being read back.
                factor = 1.0 / self.num_batches_tracked.to(input.dtype)
                if factor.device != input.device:
                    # Module.to(device) leaves the integer counter on the host.
                    factor = factor.to(input.device)
        use_batch_stats = self.training or (self.running_mean is None
                                            and self.running_var is None)
        keep_stats = not self.training or self.track_running_stats
        return batch_norm(input, self.running_mean if keep_stats else None,
                          self.running_var if keep_stats else None, self.weight, self.bias,
                          use_batch_stats, factor, self.eps)


class BatchNorm1d(_BatchNorm):
    """Batch normalization of (N, C) or (N, C, L) over all but the channels."""

    def _check_input_dim(self, input):
        if input.dim() not in (2, 3):
            raise ValueError(f"expected 2D or 3D input (got {input.dim()}D input)")


class BatchNorm2d(_BatchNorm):
    """Batch normalization of (N, C, H, W) over all but the channels."""

    def _check_input_dim(self, input):
        if input.dim() != 4:
            raise ValueError(f"expected 4D input (got {input.dim()}D input)")


class BatchNorm3d(_BatchNorm):
    """Batch normalization of (N, C, D, H, W) over all but the channels."""

    def _check_input_dim(self, input):
        if input.dim() != 5:
            raise ValueError(f"expected 5D input (got {input.dim()}D input)")


class _InstanceNorm(_NormBase):
    _spatial_dims = 1

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False,
                 track_running_stats=False, device=None, dtype=None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device,
                         dtype)

    def _check_input_dim(self, input):
        ranks = (self._spatial_dims + 1, self._spatial_dims + 2)
        if input.dim() not in ranks:
            raise ValueError(f"expected {ranks[0]}D or {ranks[1]}D input (got "
                             f"{input.dim()}D input)")

    def forward(self, input):
        self._check_input_dim(input)
        unbatched = input.dim() == self._spatial_dims + 1
        if unbatched:
            input = input.unsqueeze(0)
        output = instance_norm(input, self.running_mean, self.running_var, self.weight,
                               self.bias, self.training or not self.track_running_stats,
                               self.momentum if self.momentum is not None else 0.0,
                               self.eps)
        return output.squeeze(0) if unbatched else output


class InstanceNorm1d(_InstanceNorm):
    """Instance normalization of (N, C, L) or (C, L) over L."""
    _spatial_dims = 1


class InstanceNorm2d(_InstanceNorm):
    """Instance normalization of (N, C, H, W) or (C, H, W) over H, W."""
    _spatial_dims = 2


class InstanceNorm3d(_InstanceNorm):
    """Instance normalization of (N, C, D, H, W) or (C, D, H, W)."""
    _spatial_dims = 3


class GroupNorm(Module):
    """``F.group_norm`` with per-channel weight (ones) and bias (zeros)."""

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, device=None,
                 dtype=None):
        super().__init__()
        if num_channels % num_groups != 0:
            raise ValueError("num_channels must be divisible by num_groups")
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = eps
        self.affine = affine
        factory_kwargs = {"device": device, "dtype": dtype}
        if affine:
            self.weight = Parameter(ember.empty(num_channels, **factory_kwargs))
            self.bias = Parameter(ember.empty(num_channels, **factory_kwargs))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        if self.affine:
            init.ones_(self.weight)
            init.zeros_(self.bias)

    def forward(self, input):
        return group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"


class LocalResponseNorm(Module):
    """``F.local_response_norm`` as a module."""

    def __init__(self, size, alpha=1e-4, beta=0.75, k=1.0):
        super().__init__()
        self.size = size
        self.alpha = alpha
        self.beta = beta
        self.k = k

    def forward(self, input):
        return local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self):
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


_spatial.surface(globals(), __name__)
