"""ember.autograd: gradients as a compiler transformation.

``loss.backward()`` and ``grad()`` only record the request in the lazy graph;
the ember-autodiff transformation builds the gradient program when values
are computed, so forward, backward and the optimizer update compile into
one program.

``grad(outputs, inputs, grad_outputs=None, retain_graph=None,
create_graph=False, allow_unused=False)`` returns the gradients of
``outputs`` with respect to ``inputs`` as a tuple, like torch.autograd.grad.
"""

from ember._ember import _autograd_grad as grad  # noqa: F401 (C++: errors at the caller's line)
from ember._api import Variable  # noqa: F401,E402 (a Variable is a Tensor)
from ember._function import (  # noqa: F401,E402
    Function, FunctionCtx, InplaceFunction, NestedIOFunction, once_differentiable)
from ember import _function as function  # noqa: F401,E402 (torch.autograd.function)
import sys as _sys  # noqa: E402

_sys.modules[__name__ + ".function"] = function
