"""``parameters_to_vector`` and ``vector_to_parameters``: the parameters
as one flat vector, and back."""

import ember
from ember._ember import Tensor
from ember._grad_mode import no_grad


def _check_vector(vec):
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected torch.Tensor, but got: {type(vec).__name__}")


def parameters_to_vector(parameters):
    """The parameters flattened and concatenated, in order (differentiable)."""
    return ember.cat([param.reshape(-1) for param in parameters])


def vector_to_parameters(vec, parameters):
    """Copies consecutive slices of the 1-D ``vec`` into ``parameters``
    (each reshaped to its parameter's shape). torch makes each parameter a
    view of ``vec``; here the values are copied into the parameters'
    storage, so optimizers holding them keep working."""
    _check_vector(vec)
    pointer = 0
    with no_grad():
        for param in parameters:
            count = param.numel()
            param.copy_(vec[pointer:pointer + count].reshape(tuple(param.shape)))
            pointer += count
