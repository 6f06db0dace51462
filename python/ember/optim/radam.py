"""``optim.RAdam``, with torch's update rule and state layout."""

import ember
from ember.optim._hyper import check_adam_hyperparameters, hyper
from ember.optim.optimizer import Optimizer, _scalar_state


class RAdam(Optimizer):
    """Rectified Adam (Liu et al.). Per parameter p with gradient g, at step
    t (torch 1.13's rule):

        g = g + weight_decay * p
        m = beta1 * m + (1 - beta1) * g;  v = beta2 * v + (1 - beta2) * g * g
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t)
        rho_t > 5: p = p - lr * m / (1 - beta1^t) * r * sqrt(1 - beta2^t) / (sqrt(v) + eps)
                   with r = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
        else:      p = p - lr * m / (1 - beta1^t)

    State: "step" (a 0-d float32 tensor), "exp_avg" (m), "exp_avg_sq" (v).
    The branch on rho_t is a select in the program, so the steps before and
    after the switch run the same compiled code.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 foreach=None):
        check_adam_hyperparameters(lr, betas, eps, weight_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        foreach=foreach)
        super().__init__(params, defaults)

    def _update_group(self, group):
        lr, eps, weight_decay = hyper(group["lr"]), group["eps"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        rho_inf = 2 / (1 - beta2) - 1
        for param, grad in self._params_with_grad(group):
            state = self.state[param]
            if not state:
                state["step"] = _scalar_state(0)
                state["exp_avg"] = ember.zeros_like(param)
                state["exp_avg_sq"] = ember.zeros_like(param)
            step = state["step"]
            step.add_(1)
            t = step.double()
            bias_correction1 = 1 - beta1 ** t
            bias_correction2 = 1 - beta2 ** t
            if weight_decay != 0:
                grad = grad + param * weight_decay
            exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
            exp_avg.mul_(beta1)
            exp_avg.add_(grad * (1 - beta1))
            exp_avg_sq.mul_(beta2)
            exp_avg_sq.add_(grad * grad * (1 - beta2))
            corrected = exp_avg / bias_correction1
            rho_t = rho_inf - t * 2 * beta2 ** t / bias_correction2
            rectified = rho_t > 5
            # Clamped so that the branch not taken computes no NaN.
            ratio = ((rho_t - 4) * (rho_t - 2) * rho_inf /
                     ((rho_inf - 4) * (rho_inf - 2) * rho_t)).clamp(min=0)
            adaptive = bias_correction2.sqrt() / (exp_avg_sq.sqrt() + eps)
            update = ember.where(rectified, corrected * lr * adaptive * ratio.sqrt(),
                                 corrected * lr)
            param.sub_(update)
