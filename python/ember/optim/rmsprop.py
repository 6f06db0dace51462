"""``optim.RMSprop``, with torch's update rule and state layout."""

import ember
from ember.optim._hyper import hyper
from ember.optim.optimizer import Optimizer


class RMSprop(Optimizer):
    """Per parameter p with gradient g (torch 1.13's rule):

        g = -g (maximize); g = g + weight_decay * p
        v = alpha * v + (1 - alpha) * g * g
        centered: a = alpha * a + (1 - alpha) * g;  avg = sqrt(v - a * a) + eps
        else:     avg = sqrt(v) + eps
        momentum: b = momentum * b + g / avg;  p = p - lr * b
        else:     p = p - lr * g / avg

    State: "step" (an int), "square_avg" (v), "momentum_buffer" (b, with
    momentum), "grad_avg" (a, when centered).
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, foreach=None, maximize=False, differentiable=False):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, foreach=foreach, maximize=maximize,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    def _update_group(self, group):
        lr, alpha, eps = hyper(group["lr"]), group["alpha"], group["eps"]
        momentum, weight_decay = group["momentum"], group["weight_decay"]
        for param, grad in self._params_with_grad(group):
            state = self.state[param]
            if not state:
                state["step"] = 0
                state["square_avg"] = ember.zeros_like(param)
                if momentum > 0:
                    state["momentum_buffer"] = ember.zeros_like(param)
                if group["centered"]:
                    state["grad_avg"] = ember.zeros_like(param)
            state["step"] += 1
            if group["maximize"]:
                grad = -grad
            if weight_decay != 0:
                grad = grad + param * weight_decay
            square_avg = state["square_avg"]
            square_avg.mul_(alpha)
            square_avg.add_(grad * grad * (1 - alpha))
            if group["centered"]:
                grad_avg = state["grad_avg"]
                grad_avg.mul_(alpha)
                grad_avg.add_(grad * (1 - alpha))
                avg = (square_avg - grad_avg * grad_avg).sqrt() + eps
            else:
                avg = square_avg.sqrt() + eps
            if momentum > 0:
                buffer = state["momentum_buffer"]
                buffer.mul_(momentum)
                buffer.add_(grad / avg)
                param.sub_(buffer * lr)
            else:
                param.sub_(grad / avg * lr)
