"""``optim.NAdam``, with torch's update rule and state layout."""

import math

import ember
from ember.optim._hyper import check_adam_hyperparameters, hyper
from ember.optim.optimizer import Optimizer, _scalar_state


class NAdam(Optimizer):
    """Adam with Nesterov momentum (Dozat). Per parameter p with gradient g,
    at step t (torch 1.13's rule):

        g = g + weight_decay * p
        mu_t = beta1 * (1 - 0.5 * 0.96^(t * momentum_decay)), mu_{t+1} likewise
        P = P * mu_t  (the product of the mu's so far)
        m = beta1 * m + (1 - beta1) * g;  v = beta2 * v + (1 - beta2) * g * g
        d = sqrt(v / (1 - beta2^t)) + eps
        p = p - lr * (1 - mu_t) / (1 - P) * g / d
              - lr * mu_{t+1} / (1 - P * mu_{t+1}) * m / d

    State: "step" and "mu_product" (0-d float32 tensors, as in torch),
    "exp_avg" (m), "exp_avg_sq" (v); the schedule is computed from them in
    the program, so a new step count compiles nothing.
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 momentum_decay=4e-3, foreach=None):
        check_adam_hyperparameters(lr, betas, eps, weight_decay)
        if not 0.0 <= momentum_decay:
            raise ValueError(f"Invalid momentum_decay value: {momentum_decay}")
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        momentum_decay=momentum_decay, foreach=foreach)
        super().__init__(params, defaults)

    def _update_group(self, group):
        lr, eps, weight_decay = hyper(group["lr"]), group["eps"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        # 0.96^x as exp(x * log 0.96): an exponent tensor.
        decay = group["momentum_decay"] * math.log(0.96)
        for param, grad in self._params_with_grad(group):
            state = self.state[param]
            if not state:
                state["step"] = _scalar_state(0)
                state["mu_product"] = _scalar_state(1)
                state["exp_avg"] = ember.zeros_like(param)
                state["exp_avg_sq"] = ember.zeros_like(param)
            step, mu_product = state["step"], state["mu_product"]
            step.add_(1)
            t = step.double()
            bias_correction2 = 1 - beta2 ** t
            if weight_decay != 0:
                grad = grad + param * weight_decay
            mu = (1 - ember.exp(t * decay) * 0.5) * beta1
            mu_next = (1 - ember.exp((t + 1) * decay) * 0.5) * beta1
            mu_product.mul_(mu)
            mu_product_next = mu_product.double() * mu * mu_next
            exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
            exp_avg.mul_(beta1)
            exp_avg.add_(grad * (1 - beta1))
            exp_avg_sq.mul_(beta2)
            exp_avg_sq.add_(grad * grad * (1 - beta2))
            denom = (exp_avg_sq / bias_correction2).sqrt() + eps
            param.sub_(grad / denom * (lr * (1 - mu) / (1 - mu_product.double())))
            param.sub_(exp_avg / denom * (lr * mu_next / (1 - mu_product_next)))
