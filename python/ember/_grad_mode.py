"""The no-grad context the pure-Python layers (nn.init, optim, load_state_dict)
wrap their in-place updates in.

Autograd is being added to the tensor core; until ``ember.no_grad`` exists
there is nothing to disable, and the context does nothing.
"""

import contextlib

import ember


def no_grad():
    """``ember.no_grad()`` when autograd exists, else a context that does nothing."""
    return getattr(ember, "no_grad", contextlib.nullcontext)()
