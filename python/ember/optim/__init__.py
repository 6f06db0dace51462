"""``ember.optim``: SGD, Adam, AdamW, RMSprop, Adagrad, Adadelta, Adamax,
NAdam, RAdam and LBFGS with torch's update rules, state dicts and
``zero_grad(set_to_none=True)``.

A step is in-place tensor ops under ``ember.no_grad()``, traced into the same
lazy program as the forward and backward passes.
"""

from ember.optim.adadelta import Adadelta  # noqa: F401
from ember.optim.adagrad import Adagrad  # noqa: F401
from ember.optim.adam import Adam, AdamW  # noqa: F401
from ember.optim.adamax import Adamax  # noqa: F401
from ember.optim.lbfgs import LBFGS  # noqa: F401
from ember.optim.nadam import NAdam  # noqa: F401
from ember.optim.optimizer import Optimizer  # noqa: F401
from ember.optim.radam import RAdam  # noqa: F401
from ember.optim.rmsprop import RMSprop  # noqa: F401
from ember.optim.sgd import SGD  # noqa: F401
from ember.optim import lr_scheduler  # noqa: F401,E402
