"""``ember.nn``: modules, parameters, ``functional`` and ``init``, with
PyTorch's names, arguments and defaults.

    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    loss = nn.CrossEntropyLoss()(model(x), y)
"""

from ember.nn import functional, init  # noqa: F401
from ember.nn.module import Module  # noqa: F401
from ember.nn.modules import (  # noqa: F401
    GELU, CrossEntropyLoss, Dropout, Embedding, Flatten, Identity, LayerNorm, Linear,
    LogSoftmax, ModuleList, MSELoss, NLLLoss, ReLU, RMSNorm, Sequential, Sigmoid, Softmax,
    Tanh)
from ember.nn.parameter import Parameter  # noqa: F401
from ember.nn._transformer import (  # noqa: F401
    MultiheadAttention, Transformer, TransformerDecoder, TransformerDecoderLayer,
    TransformerEncoder, TransformerEncoderLayer)
