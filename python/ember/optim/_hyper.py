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


def check_adam_hyperparameters(lr, betas, eps, weight_decay):
    """torch's argument checks (and messages) shared by the Adam family."""
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")
    if not 0.0 <= eps:
        raise ValueError(f"Invalid epsilon value: {eps}")
    if not 0.0 <= betas[0] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
    if not 0.0 <= betas[1] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
    if not 0.0 <= weight_decay:
        raise ValueError(f"Invalid weight_decay value: {weight_decay}")
