"""The call_method half of the mapping table: a Tensor method in the fx graph
runs as the Ember Tensor's method of the same name (Ember's Tensor follows
torch.Tensor's methods and arguments). ``METHODS`` is the set of names both
define; a method outside it is unmapped."""

import torch

import ember


def _build():
    names = set()
    for name in dir(torch.Tensor):
        if name.startswith("_") or not callable(getattr(torch.Tensor, name, None)):
            continue
        if callable(getattr(ember.Tensor, name, None)):
            names.add(name)
    return frozenset(names)


METHODS = _build()
