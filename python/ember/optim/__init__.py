"""``ember.optim``: SGD, Adam and AdamW with torch's update rules, state
dicts and ``zero_grad(set_to_none=True)``.

A step is in-place tensor ops under ``ember.no_grad()``, traced into the same
lazy program as the forward and backward passes.
"""

from ember.optim.adam import Adam, AdamW  # noqa: F401
from ember.optim.optimizer import Optimizer  # noqa: F401
from ember.optim.sgd import SGD  # noqa: F401
from ember.optim import lr_scheduler  # noqa: F401,E402
