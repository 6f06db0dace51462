"""``clip_grad_norm_`` and ``clip_grad_value_``: in-place rescaling or
clamping of ``.grad``, traced lazily into the training step's program (the
norm is never read on the host unless ``error_if_nonfinite`` asks)."""

import math
import warnings

import ember
from ember._ember import Tensor
from ember._grad_mode import no_grad


def _grads(parameters):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if getattr(p, "grad", None) is not None]


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False,
                    foreach=None):
    """Scales the gradients of ``parameters`` in place so that their joint
    ``norm_type``-norm (as if concatenated; ``inf`` is the largest
    magnitude) is at most ``max_norm``: each is multiplied by
    ``min(1, max_norm / (total_norm + 1e-6))``. Returns the total norm."""
    grads = _grads(parameters)
    max_norm = float(max_norm)
    norm_type = float(norm_type)
    if len(grads) == 0:
        return ember.tensor(0.0)
    with no_grad():
        if norm_type == math.inf:
            norms = [g.abs().max() for g in grads]
            total_norm = norms[0] if len(norms) == 1 else ember.stack(norms).max()
        else:
            norms = [ember.norm(g, norm_type) for g in grads]
            total_norm = ember.norm(ember.stack(norms), norm_type)
        if error_if_nonfinite and bool(ember.logical_or(total_norm.isnan(),
                                                        total_norm.isinf())):
            raise RuntimeError(
                f"The total norm of order {norm_type} for gradients from `parameters` is "
                f"non-finite, so it cannot be clipped. To disable this error and scale the "
                f"gradients by the non-finite norm anyway, set "
                f"`error_if_nonfinite=False`")
        clip_coef = ember.clamp(max_norm / (total_norm + 1e-6), None, 1.0)
        for g in grads:
            g.mul_(clip_coef.to(g.dtype))
    return total_norm


def clip_grad_norm(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Deprecated: ``clip_grad_norm_``."""
    warnings.warn("torch.nn.utils.clip_grad_norm is now deprecated in favor of "
                  "torch.nn.utils.clip_grad_norm_.", stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite)


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamps the gradients of ``parameters`` in place to
    [-clip_value, clip_value]."""
    clip_value = float(clip_value)
    with no_grad():
        for g in _grads(parameters):
            g.clamp_(min=-clip_value, max=clip_value)
