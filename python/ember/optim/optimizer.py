"""``optim.Optimizer``: parameter groups, per-parameter state, zero_grad and
state dicts, with torch's layout.

Subclasses implement ``step()`` with in-place tensor ops under no_grad, so
that a step adds to the lazy program of the forward and backward passes and
the whole training step compiles once. Numbers that change from step to
step (Adam's step count) are kept in tensors: a Python number would be a
constant in the program, and each new value would compile a new one.
"""

import collections
import copy

import ember
from ember._ember import Tensor
from ember._grad_mode import no_grad


class _RequiredParameter:
    """The default of a hyperparameter that has none (SGD's lr)."""

    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()


class Optimizer:
    """Holds ``param_groups`` (a list of dicts: "params" and the
    hyperparameters, defaults filled in) and ``state`` (a dict from parameter
    to its state dict).

    ``params`` is an iterable of tensors, or of dicts that each define a group
    (``{"params": [...], "lr": 0.1}``).
    """

    def __init__(self, params, defaults):
        self.defaults = defaults
        self.state = collections.defaultdict(dict)
        self.param_groups = []
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable "
                            "of Tensors or dicts, but got ember.Tensor")
        groups = list(params)
        if len(groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, param_group):
        """Adds a group; hyperparameters it leaves out take the defaults."""
        if not isinstance(param_group, dict):
            raise TypeError("param group must be a dict")
        params = param_group["params"]
        param_group["params"] = [params] if isinstance(params, Tensor) else list(params)
        if isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered "
                            "collections, but the ordering of tensors in sets will change "
                            "between runs. Please use a list instead.")
        for param in param_group["params"]:
            if not isinstance(param, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params "
                                f"is {type(param).__name__}")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(f"parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
            param_group.setdefault(name, default)
        seen = {id(p) for group in self.param_groups for p in group["params"]}
        ids = [id(p) for p in param_group["params"]]
        if len(set(ids)) != len(ids):
            raise ValueError("optimizer contains a parameter group with duplicate parameters")
        if seen & set(ids):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    def zero_grad(self, set_to_none=True):
        """Clears every parameter's ``.grad``: None, or zeros in place."""
        for group in self.param_groups:
            for param in group["params"]:
                if getattr(param, "grad", None) is None:
                    continue
                if set_to_none:
                    param.grad = None
                else:
                    param.grad.zero_()

    def step(self, closure=None):
        """One update of every parameter that has a ``.grad``; returns
        ``closure()`` when given (called first). The updates are in-place
        ops without history, traced into the same program as the backward."""
        loss = closure() if closure is not None else None
        with no_grad():
            for group in self.param_groups:
                self._update_group(group)
        return loss

    def _update_group(self, group):
        """Updates the parameters of one group (each optimizer's rule)."""
        raise NotImplementedError

    def _params_with_grad(self, group):
        for param in group["params"]:
            grad = getattr(param, "grad", None)
            if grad is not None:
                yield param, grad

    # State dicts ------------------------------------------------------------

    def state_dict(self):
        """``{"state": {index: state}, "param_groups": [group]}``, parameters
        numbered in group order as in torch; the state's tensors are the live
        ones (save or clone them)."""
        index_of = {}
        groups = []
        for group in self.param_groups:
            packed = {key: value for key, value in group.items() if key != "params"}
            packed["params"] = []
            for param in group["params"]:
                index_of.setdefault(id(param), len(index_of))
                packed["params"].append(index_of[id(param)])
            groups.append(packed)
        state = {index_of[id(param)]: value for param, value in self.state.items()
                 if id(param) in index_of}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restores the state and hyperparameters of ``state_dict`` (from
        ``state_dict()`` or ``ember.load``) onto this optimizer's parameters,
        matched by position. Floating-point state is converted to the
        parameter's dtype, except the step count."""
        state_dict = copy.copy(state_dict)
        groups = self.param_groups
        saved_groups = state_dict["param_groups"]
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        for group, saved in zip(groups, saved_groups):
            if len(group["params"]) != len(saved["params"]):
                raise ValueError("loaded state dict contains a parameter group that doesn't "
                                 "match the size of optimizer's group")
        param_of = {}
        for group, saved in zip(groups, saved_groups):
            for index, param in zip(saved["params"], group["params"]):
                param_of[index] = param
        state = collections.defaultdict(dict)
        for key, value in state_dict["state"].items():
            # Keys are ints here, strings after a round trip through JSON-like formats.
            index = int(key) if isinstance(key, str) and key.lstrip("-").isdigit() else key
            if index in param_of:
                param = param_of[index]
                state[param] = {name: _cast_state(name, item, param)
                                for name, item in value.items()}
            else:
                state[key] = value
        new_groups = []
        for group, saved in zip(groups, saved_groups):
            restored = dict(saved)
            restored["params"] = group["params"]
            new_groups.append(restored)
        self.state = state
        self.param_groups = new_groups

    def __getstate__(self):
        return {"defaults": self.defaults, "state": self.state,
                "param_groups": self.param_groups}

    def __repr__(self):
        text = type(self).__name__ + " ("
        for index, group in enumerate(self.param_groups):
            text += f"\nParameter Group {index}"
            for key in sorted(group):
                if key != "params":
                    text += f"\n    {key}: {group[key]}"
        return text + "\n)"


def _cast_state(name, value, param):
    """A state tensor on ``param``'s dtype (a fresh copy: the loaded dict
    keeps its own tensors); the step count keeps its dtype."""
    if not isinstance(value, Tensor):
        return value
    if name != "step" and value.is_floating_point() and param.is_floating_point():
        return value.to(param.dtype).clone()
    return value.clone()


def _scalar_state(value):
    """A 0-d float32 tensor (torch 1.13 keeps the step count as one)."""
    return ember.tensor(float(value), dtype=ember.float32)
