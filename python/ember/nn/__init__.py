"""``ember.nn``: modules, parameters, ``functional`` and ``init``, with
PyTorch's names, arguments and defaults.

    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    loss = nn.CrossEntropyLoss()(model(x), y)
"""

from ember.nn import functional, init  # noqa: F401
from ember.nn._conv import (  # noqa: F401
    Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d)
from ember.nn.module import Module  # noqa: F401
from ember.nn.modules import (  # noqa: F401
    GELU, CrossEntropyLoss, Dropout, Embedding, Flatten, Identity, LayerNorm, Linear,
    LogSoftmax, ModuleList, MSELoss, NLLLoss, ReLU, RMSNorm, Sequential, Sigmoid, Softmax,
    Tanh)
from ember.nn.parameter import Parameter  # noqa: F401
from ember.nn._activations import (  # noqa: F401
    CELU, ELU, GLU, SELU, Hardshrink, Hardsigmoid, Hardswish, Hardtanh, LeakyReLU, LogSigmoid,
    Mish, PReLU, ReLU6, RReLU, SiLU, Softmax2d, Softmin, Softplus, Softshrink, Softsign,
    Tanhshrink, Threshold)
from ember.nn._containers import ModuleDict, ParameterDict, ParameterList  # noqa: F401
from ember.nn._losses import (  # noqa: F401
    BCELoss, BCEWithLogitsLoss, CosineEmbeddingLoss, CTCLoss, GaussianNLLLoss,
    HingeEmbeddingLoss, HuberLoss, KLDivLoss, L1Loss, MarginRankingLoss, MultiLabelMarginLoss,
    MultiLabelSoftMarginLoss, MultiMarginLoss, NLLLoss2d, PoissonNLLLoss, SmoothL1Loss,
    SoftMarginLoss, TripletMarginLoss, TripletMarginWithDistanceLoss)
from ember.nn._sparse import EmbeddingBag  # noqa: F401
from ember.nn import utils  # noqa: F401,E402
from ember.nn._distance import Bilinear, CosineSimilarity, PairwiseDistance  # noqa: F401
from ember.nn._pooling import (  # noqa: F401
    AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveMaxPool1d, AdaptiveMaxPool2d, AvgPool1d,
    AvgPool2d, MaxPool1d, MaxPool2d)
from ember.nn._batchnorm import (  # noqa: F401
    BatchNorm1d, BatchNorm2d, BatchNorm3d, GroupNorm, InstanceNorm1d, InstanceNorm2d,
    InstanceNorm3d, LocalResponseNorm)
from ember.nn._dropout import Dropout1d, Dropout2d, Dropout3d  # noqa: F401
from ember.nn._fold import Fold, Unflatten, Unfold  # noqa: F401
from ember.nn._resize import (  # noqa: F401
    PixelShuffle, PixelUnshuffle, Upsample, UpsamplingBilinear2d, UpsamplingNearest2d)
from ember.nn._rnn import (  # noqa: F401
    GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell, RNNCellBase)
from ember.nn._transformer import (  # noqa: F401
    MultiheadAttention, Transformer, TransformerDecoder, TransformerDecoderLayer,
    TransformerEncoder, TransformerEncoderLayer)
from ember.nn import parallel  # noqa: F401,E402
from ember.nn.parallel import DataParallel  # noqa: F401,E402
