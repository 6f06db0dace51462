"""``optim.Adam`` and ``optim.AdamW``, with torch's update rules."""

import ember
from ember._ember import Tensor
from ember.optim._hyper import check_adam_hyperparameters, hyper
from ember.optim.optimizer import Optimizer, _scalar_state


class Adam(Optimizer):
    """Adam (Kingma & Ba). Per parameter p with gradient g, at step t:

        g = g + weight_decay * p                      (Adam's L2 penalty)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        v_max = max(v_max, v)                         (amsgrad; v_max replaces v below)
        p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    State per parameter, as in torch 1.13: "step" (a 0-d float32 tensor),
    "exp_avg" (m), "exp_avg_sq" (v) and, with amsgrad, "max_exp_avg_sq".
    The bias corrections are computed from the step tensor in float64, in
    the program, so a new step count does not compile a new program.
    """

    _decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False, fused=False):
        check_adam_hyperparameters(lr, betas, eps, weight_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, foreach=foreach, maximize=maximize,
                        capturable=capturable)
        # torch 1.13's AdamW has no differentiable or fused options.
        if not self._decoupled:
            defaults.update(differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)

    def _state_for(self, param, amsgrad):
        state = self.state[param]
        if not state:
            state["step"] = _scalar_state(0)
            state["exp_avg"] = ember.zeros_like(param)
            state["exp_avg_sq"] = ember.zeros_like(param)
        elif not isinstance(state["step"], Tensor):
            state["step"] = _scalar_state(state["step"])
        if amsgrad and "max_exp_avg_sq" not in state:
            state["max_exp_avg_sq"] = ember.zeros_like(param)
        return state

    def _update_group(self, group):
        lr, eps, weight_decay = hyper(group["lr"]), group["eps"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        amsgrad = group["amsgrad"]
        for param, grad in self._params_with_grad(group):
            if group["maximize"]:
                grad = -grad
            state = self._state_for(param, amsgrad)
            step = state["step"]
            step.add_(1)
            if weight_decay != 0:
                if self._decoupled:
                    param.mul_(1 - lr * weight_decay)
                else:
                    grad = grad + param * weight_decay
            exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
            exp_avg.mul_(beta1)
            exp_avg.add_(grad * (1 - beta1))
            exp_avg_sq.mul_(beta2)
            exp_avg_sq.add_(grad * grad * (1 - beta2))
            t = step.double()
            step_size = lr / (1 - beta1 ** t)
            bias_correction2_sqrt = (1 - beta2 ** t).sqrt()
            second_moment = exp_avg_sq
            if amsgrad:
                max_exp_avg_sq = state["max_exp_avg_sq"]
                max_exp_avg_sq.copy_(ember.maximum(max_exp_avg_sq, exp_avg_sq))
                second_moment = max_exp_avg_sq
            denom = second_moment.sqrt() / bias_correction2_sqrt + eps
            param.sub_(exp_avg * step_size / denom)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): before the
    Adam update, ``p = p * (1 - lr * weight_decay)``; the gradient is not
    penalized. weight_decay defaults to 0.01."""

    _decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False, foreach=None, capturable=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach,
                         maximize=maximize, capturable=capturable)
