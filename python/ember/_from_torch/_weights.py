"""Converting torch tensors to Ember tensors without copying: a CPU tensor's
memory is viewed by NumPy (``Tensor.numpy()``) and that array by Ember
(``ember.from_numpy``), so both share one buffer. Only a tensor NumPy cannot
view (non-contiguous, bfloat16, on a GPU) is copied first."""

import torch

import ember

_COPIED_DTYPES = {torch.bfloat16: torch.float32}


def to_ember(tensor):
    """An Ember tensor with ``tensor``'s values, sharing its memory where it can."""
    tensor = tensor.detach()
    if tensor.device.type != "cpu":
        tensor = tensor.cpu()
    if tensor.dtype in _COPIED_DTYPES:
        tensor = tensor.to(_COPIED_DTYPES[tensor.dtype])
    if not tensor.is_contiguous():
        tensor = tensor.contiguous()
    return ember.from_numpy(tensor.numpy())


def to_ember_dtype(dtype):
    """torch.float32 -> ember.float32."""
    return getattr(ember, str(dtype).split(".")[-1])

