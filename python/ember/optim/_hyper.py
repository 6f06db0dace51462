"""Hyperparameters as graph inputs.

A Python number in a traced op is a run-time value of the compiled program
unless it is one of the few constants the compiler folds (0, +-1, +-2,
+-0.5): an lr that a scheduler takes to 0 or 0.5 would then compile a new
program. A 0-d float64 tensor is always an input, whatever its value, so a
changing learning rate never recompiles; as a 0-d tensor it does not change
the parameters' dtype (torch's promotion rules).
"""

import ember


def hyper(value):
    """``value`` (a number, or a tensor kept as it is) as a 0-d float64 tensor."""
    if isinstance(value, ember.Tensor):
        return value
    return ember.tensor(float(value), dtype=ember.float64)
