"""``nn.Parameter``: a tensor that a Module registers as one of its parameters."""

import ember
from ember._ember import Tensor


class Parameter(Tensor):
    """A Tensor that, assigned as a Module attribute, becomes one of the
    module's parameters (``Module.parameters()``, ``state_dict()``).

    ``Parameter(data)`` shares ``data``'s storage, as in torch; it requires
    grad by default. Ops on a Parameter return plain Tensors.
    """

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            data = ember.empty(0)
        if not isinstance(data, Tensor):
            raise TypeError(
                f"Parameter(): data must be an ember.Tensor, not {type(data).__name__}")
        super().__init__(data)
        self.requires_grad = requires_grad

    def __repr__(self):
        text = super().__repr__()
        if self.requires_grad and "requires_grad=" not in text:
            text = text[:-1] + ", requires_grad=True)"
        return "Parameter containing:\n" + text

    def __deepcopy__(self, memo):
        if id(self) not in memo:
            memo[id(self)] = Parameter(self.clone(), self.requires_grad)
        return memo[id(self)]
