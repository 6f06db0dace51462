"""``ember.autograd.Function``: gradients written by hand, compiled in.

torch's API (``forward``/``backward`` staticmethods, ``ctx``, ``apply``)
with Ember's autograd underneath: ``apply`` runs the forward without history,
then the backward once, on placeholder cotangents, tracing it into the
lazy graph. Those ops become the region of an ``ember.custom_vjp`` op whose
results are the forward outputs; when a gradient program is built,
ember-autodiff inlines the region with the real cotangents. The user's
backward therefore runs inside the same compiled program as the forward,
the rest of the backward and the optimizer step (no separate eager run, no
host round trip), and the gradients are what it computes, not the
derivative of the forward.

Differences from torch, all from tracing the backward at ``apply``:
- errors in ``backward`` (a wrong number of gradients, a wrong shape) are
  raised by ``apply``, not by ``loss.backward()``;
- ``backward`` cannot read values (``.item()``, ``print``, ``bool()`` of a
  tensor): its grad_outputs are symbolic;
- with ``set_materialize_grads(False)`` an unused output's grad is still a
  tensor of zeros, never None;
- an input whose gradient ``backward`` returns as None gets zeros in
  ``.grad`` when the backward also reads it.

``ctx.mark_dirty`` has torch's semantics: the modified input is returned as
itself and carries the Function's history (see ``apply``).
"""

import ember
from ember import _ember


class FunctionCtx:
    """The ``ctx`` a Function's forward and backward share; any attribute
    may be set on it."""

    def __init__(self):
        self._saved = ()
        self._non_differentiable = set()
        self._dirty = set()
        self.materialize_grads = True
        self.needs_input_grad = ()

    def save_for_backward(self, *tensors):
        for t in tensors:
            if t is not None and not isinstance(t, ember.Tensor):
                raise TypeError("save_for_backward can only save variables, but "
                                f"argument {tensors.index(t)} is of type "
                                f"{type(t).__name__}")
        self._saved = tensors

    @property
    def saved_tensors(self):
        return self._saved

    saved_variables = saved_tensors

    def mark_non_differentiable(self, *tensors):
        self._non_differentiable.update(id(t) for t in tensors)

    def mark_dirty(self, *tensors):
        self._dirty.update(id(t) for t in tensors)

    def set_materialize_grads(self, value):
        self.materialize_grads = bool(value)


# torch's names for the ctx class.
BackwardCFunction = FunctionCtx


def once_differentiable(fn):
    """torch's decorator for a backward that is not differentiable itself;
    an Ember backward is made of ember ops, so it stays differentiable."""
    return fn


def _sum_to(grad, shape):
    """``grad`` summed down to ``shape`` (torch's at::sum_to)."""
    lead = grad.dim() - len(shape)
    if lead:
        grad = grad.sum(dim=tuple(range(lead)))
    dims = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if dims:
        grad = grad.sum(dim=dims, keepdim=True)
    return grad


def _expandable(shape, to):
    """Whether ``shape`` broadcasts to ``to`` (torch's is_expandable_to)."""
    if len(shape) > len(to):
        return False
    for a, b in zip(reversed(shape), reversed(to)):
        if a != b and a != 1:
            return False
    return True


def _check_gradients(cls, args, needs, grads):
    """The backward's result as one gradient per positional input, checked
    as torch checks it."""
    if not isinstance(grads, tuple):
        grads = (grads,)
    name = cls.__name__ + "Backward"
    if len(grads) < len(args) or (len(grads) > len(args) and
                                  any(g is not None for g in grads[len(args):])):
        raise RuntimeError(f"function {name} returned an incorrect number of "
                           f"gradients (expected {len(args)}, got {len(grads)})")
    checked = []
    for i, (arg, grad) in enumerate(zip(args, grads)):
        if grad is None:
            checked.append(None)
            continue
        if not isinstance(arg, ember.Tensor):
            raise RuntimeError(f"function {name} returned a gradient different "
                               f"than None at position {i + 1}, but the "
                               "corresponding forward input was not a Variable")
        if not isinstance(grad, ember.Tensor):
            raise TypeError(f"{name} returned a {type(grad).__name__} as the "
                            f"gradient at index {i}; expected a Tensor or None")
        if not needs[i]:
            checked.append(None)
            continue
        shape = list(arg.shape)
        if list(grad.shape) != shape:
            if not _expandable(shape, list(grad.shape)):
                raise RuntimeError(
                    f"Function {name} returned an invalid gradient at index {i} - "
                    f"got {list(grad.shape)} but expected shape compatible with "
                    f"{shape}")
            grad = _sum_to(grad, shape)
        if grad.dtype != arg.dtype:
            grad = grad.to(arg.dtype)
        checked.append(grad)
    return checked


def _check_dirty(ctx, args, output):
    """The ids of the inputs the forward marked dirty, checked as torch
    checks them: each must be returned, and none may be a leaf that
    requires grad."""
    if not ctx._dirty:
        return set()
    returned = {id(o) for o in (output if isinstance(output, tuple) else (output,))}
    if not ctx._dirty <= returned:
        raise RuntimeError("Some elements marked as dirty during the forward method "
                           "were not returned as output. The inputs that are modified "
                           "inplace must all be outputs of the Function.")
    for a in args:
        if (id(a) in ctx._dirty and isinstance(a, ember.Tensor) and a.is_leaf
                and a.requires_grad and ember.is_grad_enabled()):
            raise RuntimeError("a leaf Variable that requires grad has been used in "
                               "an in-place operation.")
    return ctx._dirty


class Function:
    """Subclass with ``forward(ctx, *args, **kwargs)`` and
    ``backward(ctx, *grad_outputs)`` staticmethods, and call ``apply``
    (or ``forward(*args)`` plus ``setup_context(ctx, inputs, output)``)."""

    def __init__(self, *args, **kwargs):
        pass

    def __call__(self, *args, **kwargs):
        raise RuntimeError(
            "Legacy autograd function with non-static forward method is deprecated. "
            "Please use new-style autograd function with static forward method. "
            "(Example: https://pytorch.org/docs/stable/autograd.html#torch.autograd.Function)")

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("You must implement the forward function for "
                                  "custom autograd.Function.")

    @staticmethod
    def setup_context(ctx, inputs, output):
        raise NotImplementedError("setup_context is not implemented.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("You must implement either the backward or vjp "
                                  "method for your custom autograd.Function to use "
                                  "it with backward mode AD.")

    vjp = backward

    @classmethod
    def apply(cls, *args, **kwargs):
        ctx = FunctionCtx()
        grad_enabled = ember.is_grad_enabled()
        needs = tuple(grad_enabled and isinstance(a, ember.Tensor) and a.requires_grad
                      for a in args)
        ctx.needs_input_grad = needs
        separate_setup = cls.setup_context is not Function.setup_context
        # What an input was before the forward, with its history: the
        # primal of an input the forward modifies in place (mark_dirty).
        # Lazy: unused, it is never computed.
        before = {}
        if any(needs):
            before = {id(a): a.clone() for a, need in zip(args, needs)
                      if need and not a.is_leaf}
        with ember.no_grad():
            if separate_setup:
                output = cls.forward(*args, **kwargs)
            else:
                output = cls.forward(ctx, *args, **kwargs)
        if separate_setup:
            cls.setup_context(ctx, args, output)
        dirty = _check_dirty(ctx, args, output)
        if not any(needs):
            return output

        is_tuple = isinstance(output, tuple)
        outputs = list(output) if is_tuple else [output]
        positions = [i for i, o in enumerate(outputs) if isinstance(o, ember.Tensor)]
        if not positions:
            return output
        inputs = {id(a) for a in args if isinstance(a, ember.Tensor)}
        differentiable = []
        for i in positions:
            o = outputs[i]
            differentiable.append(id(o) not in ctx._non_differentiable and
                                  o.dtype.is_floating_point)
            # An input returned as it is, or a tensor with history of its
            # own: the output is a new tensor on the same memory.
            if id(o) in inputs or o.requires_grad:
                outputs[i] = o.detach()

        primals = [before.get(id(a), a) if id(a) in dirty else a
                   for a, need in zip(args, needs) if need]
        trace = _ember._CustomFunctionTrace(primals, [outputs[i] for i in positions])
        try:
            grad_outputs = [None] * len(outputs)
            for i, cotangent in zip(positions, trace.cotangents()):
                grad_outputs[i] = cotangent
            with ember.enable_grad():
                grads = cls.backward(ctx, *grad_outputs)
            grads = _check_gradients(cls, args, needs, grads)
        except BaseException:
            trace.abandon()
            raise
        trace.finish([g for g, need in zip(grads, needs) if need], differentiable,
                     cls.__name__ + "Backward")
        # A modified input is returned as itself, now holding the Function's
        # result and its history (torch's in-place semantics).
        for i in positions:
            original = (list(output) if is_tuple else [output])[i]
            if id(original) in dirty:
                original.copy_(outputs[i])
                outputs[i] = original
        return tuple(outputs) if is_tuple else outputs[0]


class InplaceFunction(Function):
    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace


class NestedIOFunction(Function):
    pass
