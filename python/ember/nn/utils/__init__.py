"""``ember.nn.utils``: gradient clipping, parameter/vector conversion and
the weight re-parametrizations, and ``rnn`` (padding and packing
sequences), with torch's names."""

from ember.nn.utils.clip_grad import (  # noqa: F401
    clip_grad_norm, clip_grad_norm_, clip_grad_value_)
from ember.nn.utils.convert_parameters import (  # noqa: F401
    parameters_to_vector, vector_to_parameters)
from ember.nn.utils.spectral_norm import remove_spectral_norm, spectral_norm  # noqa: F401
from ember.nn.utils.weight_norm import remove_weight_norm, weight_norm  # noqa: F401
from ember.nn.utils import rnn  # noqa: F401
