"""``optim.Adamax``, with torch's update rule and state layout."""

import ember
from ember.optim._hyper import check_adam_hyperparameters, hyper
from ember.optim.optimizer import Optimizer, _scalar_state


class Adamax(Optimizer):
    """Adam with the infinity norm. Per parameter p with gradient g, at step
    t (torch 1.13's rule):

        g = -g (maximize); g = g + weight_decay * p
        m = beta1 * m + (1 - beta1) * g
        u = max(beta2 * u, |g| + eps)
        p = p - lr / (1 - beta1^t) * m / u

    State: "step" (a 0-d float32 tensor), "exp_avg" (m), "exp_inf" (u). The
    bias correction is computed from the step tensor in the program.
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 foreach=None, *, maximize=False):
        check_adam_hyperparameters(lr, betas, eps, weight_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        foreach=foreach, maximize=maximize)
        super().__init__(params, defaults)

    def _update_group(self, group):
        lr, eps, weight_decay = hyper(group["lr"]), group["eps"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        for param, grad in self._params_with_grad(group):
            state = self.state[param]
            if not state:
                state["step"] = _scalar_state(0)
                state["exp_avg"] = ember.zeros_like(param)
                state["exp_inf"] = ember.zeros_like(param)
            step = state["step"]
            step.add_(1)
            if group["maximize"]:
                grad = -grad
            if weight_decay != 0:
                grad = grad + param * weight_decay
            exp_avg, exp_inf = state["exp_avg"], state["exp_inf"]
            exp_avg.mul_(beta1)
            exp_avg.add_(grad * (1 - beta1))
            exp_inf.copy_(ember.maximum(exp_inf * beta2, grad.abs() + eps))
            clr = lr / (1 - beta1 ** step.double())
            param.sub_(exp_avg / exp_inf * clr)
