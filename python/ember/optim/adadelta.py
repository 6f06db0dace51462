"""``optim.Adadelta``, with torch's update rule and state layout."""

import ember
from ember.optim._hyper import hyper
from ember.optim.optimizer import Optimizer


class Adadelta(Optimizer):
    """Per parameter p with gradient g (torch 1.13's rule):

        g = -g (maximize); g = g + weight_decay * p
        v = rho * v + (1 - rho) * g * g
        delta = sqrt(u + eps) / sqrt(v + eps) * g
        u = rho * u + (1 - rho) * delta * delta
        p = p - lr * delta

    State: "step" (an int), "square_avg" (v), "acc_delta" (u).
    """

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *,
                 maximize=False):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay,
                        maximize=maximize, foreach=foreach)
        super().__init__(params, defaults)

    def _update_group(self, group):
        lr, rho, eps = hyper(group["lr"]), group["rho"], group["eps"]
        weight_decay = group["weight_decay"]
        for param, grad in self._params_with_grad(group):
            state = self.state[param]
            if not state:
                state["step"] = 0
                state["square_avg"] = ember.zeros_like(param)
                state["acc_delta"] = ember.zeros_like(param)
            state["step"] += 1
            if group["maximize"]:
                grad = -grad
            if weight_decay != 0:
                grad = grad + param * weight_decay
            square_avg, acc_delta = state["square_avg"], state["acc_delta"]
            square_avg.mul_(rho)
            square_avg.add_(grad * grad * (1 - rho))
            delta = (acc_delta + eps).sqrt() / (square_avg + eps).sqrt() * grad
            acc_delta.mul_(rho)
            acc_delta.add_(delta * delta * (1 - rho))
            param.sub_(delta * lr)
