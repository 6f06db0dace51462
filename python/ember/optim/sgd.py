"""``optim.SGD``: stochastic gradient descent with momentum, as in torch."""

from ember.optim._hyper import hyper
from ember.optim.optimizer import Optimizer, required


class SGD(Optimizer):
    """Per parameter p with gradient g, the update torch documents:

        g = -g                                        (if maximize)
        g = g + weight_decay * p                      (if weight_decay)
        b = g on the first step, else momentum * b + (1 - dampening) * g
        g = g + momentum * b if nesterov else b       (if momentum)
        p = p - lr * g

    ``b`` is ``state[p]["momentum_buffer"]``.
    """

    def __init__(self, params, lr=required, momentum=0, dampening=0, weight_decay=0,
                 nesterov=False, *, maximize=False, foreach=None, differentiable=False):
        if lr is not required and lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize,
                        foreach=foreach, differentiable=differentiable)
        super().__init__(params, defaults)

    def _update_group(self, group):
        lr, momentum = hyper(group["lr"]), group["momentum"]
        dampening, weight_decay = group["dampening"], group["weight_decay"]
        for param, grad in self._params_with_grad(group):
            if group["maximize"]:
                grad = -grad
            if weight_decay != 0:
                grad = grad + param * weight_decay
            if momentum != 0:
                state = self.state[param]
                buffer = state.get("momentum_buffer")
                if buffer is None:
                    buffer = grad.clone()
                    state["momentum_buffer"] = buffer
                else:
                    buffer.mul_(momentum)
                    buffer.add_(grad * (1 - dampening) if dampening != 0 else grad)
                grad = grad + buffer * momentum if group["nesterov"] else buffer
            param.sub_(grad * lr)
