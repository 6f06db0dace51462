"""The call_function half of the mapping table: ``torch.*``, ``torch.nn.functional.*``,
``operator.*``, Python builtins and torchvision's functional ops, each to the
Ember function that computes it.

Ember's API follows PyTorch's names, arguments and defaults, so a function
that both ``torch`` and ``ember`` (or both ``torch.nn.functional`` and
``ember.nn.functional``) define maps to Ember's; ``OVERRIDES`` holds the
functions whose Ember form differs or that only shape the trace
(``torch._assert``). ``FUNCTIONS`` is built once: {torch callable: (ember
callable, "torch.name")}.
"""

import builtins
import inspect
import math

import torch

import ember
import ember.nn.functional as EF

from ember._from_torch._fx_trace import OPERATORS


def _no_op(*args, **kwargs):
    return None


def stochastic_depth(input, p, mode, training=True):
    """torchvision.ops.stochastic_depth: drops whole rows (mode "row") or the
    whole batch (mode "batch") with probability p in training, scaling the
    survivors by 1/(1-p); the identity in eval mode or at p=0."""
    if p < 0.0 or p > 1.0:
        raise ValueError(f"drop probability has to be between 0 and 1, but got {p}")
    if mode not in ("batch", "row"):
        raise ValueError(f"mode has to be either 'batch' or 'row', but got {mode}")
    if not training or p == 0.0:
        return input
    survival = 1.0 - p
    shape = [input.shape[0]] + [1] * (input.dim() - 1) if mode == "row" else [1] * input.dim()
    noise = (ember.rand(*shape) < survival).to(input.dtype)
    if survival > 0.0:
        noise = noise / survival
    return input * noise


def _torchvision_functions():
    try:
        import torchvision.ops
    except ImportError:  # torchvision is optional
        return {}
    return {torchvision.ops.stochastic_depth: (stochastic_depth,
                                               "torchvision.ops.stochastic_depth")}


def _public_functions(module):
    for name in dir(module):
        if name.startswith("_"):
            continue
        value = getattr(module, name)
        if callable(value) and not inspect.isclass(value):
            yield name, value


def _build():
    table = {}
    for op in OPERATORS:
        table[op] = (op, f"operator.{op.__name__}")
    for fn in (builtins.getattr, builtins.len, builtins.int, builtins.float, builtins.abs,
               builtins.max, builtins.min):
        table[fn] = (fn, fn.__name__)
    for fn in (math.sqrt, math.ceil, math.floor):
        table[fn] = (fn, f"math.{fn.__name__}")
    table[torch._assert] = (_no_op, "torch._assert")
    # F first: F.relu and torch.relu are different objects, F.conv2d is torch.conv2d.
    for name, fn in _public_functions(torch.nn.functional):
        ours = getattr(EF, name, None)
        if callable(ours) and not inspect.isclass(ours) and fn not in table:
            table[fn] = (ours, f"torch.nn.functional.{name}")
    for name, fn in _public_functions(torch):
        ours = getattr(ember, name, None)
        if callable(ours) and not inspect.isclass(ours) and fn not in table:
            try:
                hash(fn)
            except TypeError:
                continue
            table[fn] = (ours, f"torch.{name}")
    table.update(_torchvision_functions())
    return table


FUNCTIONS = _build()


def function_name(fn):
    """A readable qualified name for a call_function target."""
    if fn in FUNCTIONS:
        return FUNCTIONS[fn][1]
    module = getattr(fn, "__module__", None) or ""
    if module.startswith("torch._C") or not module:
        for prefix, owner in (("torch.nn.functional", torch.nn.functional), ("torch", torch)):
            if getattr(owner, getattr(fn, "__name__", ""), None) is fn:
                return f"{prefix}.{fn.__name__}"
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)
    return f"{module}.{name}" if module else name
