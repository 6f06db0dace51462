"""``optim.Adagrad``, with torch's update rule and state layout."""

import ember
from ember.optim._hyper import hyper
from ember.optim.optimizer import Optimizer, _scalar_state


class Adagrad(Optimizer):
    """Per parameter p with gradient g, at step t (torch 1.13's rule):

        g = -g (maximize); g = g + weight_decay * p
        clr = lr / (1 + (t - 1) * lr_decay)
        s = s + g * g
        p = p - clr * g / (sqrt(s) + eps)

    State: "step" (a 0-d float32 tensor, as in torch) and "sum" (s, starting
    at ``initial_accumulator_value``). The decayed rate is computed from the
    step tensor in the program, so a new step count compiles nothing.
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0,
                 initial_accumulator_value=0, eps=1e-10, foreach=None, *, maximize=False):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= lr_decay:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= initial_accumulator_value:
            raise ValueError("Invalid initial_accumulator_value value: "
                             f"{initial_accumulator_value}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value,
                        foreach=foreach, maximize=maximize)
        super().__init__(params, defaults)
        # torch makes the state at construction.
        for group in self.param_groups:
            for param in group["params"]:
                self._init_state(param, group)

    def _init_state(self, param, group):
        state = self.state[param]
        state["step"] = _scalar_state(0)
        state["sum"] = ember.full_like(param, group["initial_accumulator_value"])
        return state

    def _update_group(self, group):
        lr, eps = hyper(group["lr"]), group["eps"]
        weight_decay, lr_decay = group["weight_decay"], group["lr_decay"]
        for param, grad in self._params_with_grad(group):
            state = self.state[param] or self._init_state(param, group)
            step = state["step"]
            step.add_(1)
            if group["maximize"]:
                grad = -grad
            if weight_decay != 0:
                grad = grad + param * weight_decay
            clr = lr / ((step.double() - 1) * lr_decay + 1) if lr_decay != 0 else lr
            state_sum = state["sum"]
            state_sum.add_(grad * grad)
            param.sub_(grad / (state_sum.sqrt() + eps) * clr)
