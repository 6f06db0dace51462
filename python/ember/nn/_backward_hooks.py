"""Module backward hooks (``register_full_backward_hook``,
``register_full_backward_pre_hook``, ``register_backward_hook``) with
torch's semantics, on Ember's lazy autograd.

Ember has no autograd nodes to hang a hook on: ``backward()`` records a
request and ember-autodiff builds the gradient program later. So a hooked
module *cuts* the graph. Its call runs ``forward`` on detached copies of
the tensor inputs (leaves requiring grad) and returns detached copies of
the outputs (leaves requiring grad), remembering both sides as a
``_Segment``. ``Tensor.backward`` is wrapped: after the recorded backward,
the segments are replayed newest first:

- output side: the gradients that reached the returned leaves are the
  module's ``grad_output``; pre hooks may replace them; then the real
  outputs' ``backward(grad_output)`` fills the parameters' gradients and the
  input leaves' ``.grad`` (``grad_input``);
- input side: the full (and legacy) hooks see ``grad_input`` and
  ``grad_output`` and may return a replacement ``grad_input``, which then
  flows on through the real inputs' ``backward``.

Events are replayed in the reverse of the order they were recorded (input
cut, then output cut, per call), which is a valid reverse topological
order for nested and chained hooked modules.

Cost: a leaf must hold values, so each cut runs the forward recorded up
to it as a program of its own: a step with one hooked module in the middle
of a model runs 3 programs instead of 1 (the forward before the hooked
module, the hooked module, the rest with the whole backward and the
optimizer step; test_module_hooks counts them). The backward stays lazy (a
hook receives lazy tensors), so hooks that only compute with the
gradients (scale, clip, store) add no program; a hook that reads values
(``print``, ``.item()``) forces them, as any read does.

Differences from torch: ``ember.autograd.grad`` does not run module
backward hooks, and stops at a hooked module's cut (use ``backward()``);
``register_backward_hook`` (torch's deprecated non-full hook, whose
arguments depend on the module's last autograd node) has the full hook's
arguments, which are torch's for a module of one element-wise op; calls
whose outputs receive no gradient are forgotten at the second
``backward()`` after them.
"""

import collections
import weakref

from ember._ember import Tensor

# Hooks every module runs (torch.nn.modules.module.register_module_full_backward_hook).
_global_backward_hooks = collections.OrderedDict()

_hooked_modules = weakref.WeakSet()   # modules that registered a backward hook
_tape = []          # (time, kind, segment), kind "in" or "out", in recording order
_clock = [0]        # the event counter
_backward_count = [0]


def _tick():
    _clock[0] += 1
    return _clock[0]


class _Segment:
    """One hooked call: the real inputs and outputs (with history) and the
    leaves the forward and the caller saw in their place."""

    def __init__(self, module, args, leaf_args, input_positions):
        self.module = module
        self.args = args
        self.leaf_args = leaf_args
        self.input_positions = input_positions   # positions of cut (grad-requiring) inputs
        self.outputs = None
        self.leaf_outputs = None
        self.output_positions = ()
        self.is_tuple = False
        self.grad_outputs = None
        self.born = _backward_count[0]


def wants_backward_hooks(module):
    d = module.__dict__
    return bool(_global_backward_hooks or d.get("_backward_hooks")
                or d.get("_backward_pre_hooks"))


def _user_hooks(module):
    hooks = list(_global_backward_hooks.values())
    hooks += list((module.__dict__.get("_backward_hooks") or {}).values())
    return hooks


def cut_inputs(module, args):
    """The positional arguments with every grad-requiring tensor replaced by
    a detached leaf; the segment (None when nothing there requires grad,
    the parameters aside: see cut_outputs)."""
    positions = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
    leaf_args = list(args)
    for i in positions:
        leaf_args[i] = args[i].detach().requires_grad_(True)
    segment = _Segment(module, args, leaf_args, positions)
    _tape.append((_tick(), "in", segment))
    return tuple(leaf_args), segment


def cut_outputs(segment, output):
    """The output (a tensor or a tuple) with every grad-requiring tensor
    replaced by a detached leaf, which backward replays from."""
    is_tuple = isinstance(output, tuple)
    outputs = list(output) if is_tuple else [output]
    positions = [i for i, o in enumerate(outputs)
                 if isinstance(o, Tensor) and o.requires_grad]
    if not positions:
        _drop(segment)
        return output
    leaves = list(outputs)
    for i in positions:
        leaves[i] = outputs[i].detach().requires_grad_(True)
    segment.outputs = outputs
    segment.leaf_outputs = leaves
    segment.output_positions = positions
    segment.is_tuple = is_tuple
    _tape.append((_tick(), "out", segment))
    return tuple(leaves) if is_tuple else leaves[0]


def _drop(segment):
    _tape[:] = [event for event in _tape if event[2] is not segment]


def _check_result(result, expected, what):
    if not isinstance(result, tuple):
        result = (result,) if isinstance(result, Tensor) else tuple(result)
    if len(result) != len(expected):
        raise RuntimeError(f"Backward hook returned an invalid number of {what}, "
                           f"got {len(result)}, but expected {len(expected)}")
    return result


def _replay_output(segment, original_backward):
    grads = [None] * len(segment.leaf_outputs)
    for i in segment.output_positions:
        leaf = segment.leaf_outputs[i]
        grads[i] = leaf.grad
        leaf.grad = None
    if all(g is None for g in grads):
        return False
    grad_outputs = tuple(grads)
    for hook in (segment.module.__dict__.get("_backward_pre_hooks") or {}).values():
        result = hook(segment.module, grad_outputs)
        if result is not None:
            grad_outputs = _check_result(result, grad_outputs, "grad_output")
    segment.grad_outputs = grad_outputs
    for i in segment.output_positions:
        if grad_outputs[i] is not None:
            original_backward(segment.outputs[i], grad_outputs[i], retain_graph=True)
    return True


def _replay_input(segment, original_backward):
    grad_outputs = segment.grad_outputs
    if grad_outputs is None:
        return
    grads = [None] * len(segment.args)
    for i in segment.input_positions:
        leaf = segment.leaf_args[i]
        grads[i] = leaf.grad
        leaf.grad = None
    grad_inputs = tuple(grads)
    no_input_grads = not segment.input_positions
    for hook in _user_hooks(segment.module):
        result = hook(segment.module, grad_inputs, grad_outputs)
        if result is None:
            continue
        if no_input_grads:
            if not (isinstance(result, tuple) and all(r is None for r in result)):
                raise RuntimeError("Backward hook for Modules where no input requires "
                                   "gradient should always return None or None for all "
                                   "gradients.")
            continue
        grad_inputs = _check_result(result, grad_inputs, "grad_input")
    for i in segment.input_positions:
        if grad_inputs[i] is not None:
            original_backward(segment.args[i], grad_inputs[i], retain_graph=True)


def replay(original_backward):
    """Runs after every recorded backward: replays the tape newest first;
    keeps calls whose outputs got no gradient for one more backward."""
    _backward_count[0] += 1
    fired = set()
    kept = []
    for event in reversed(list(_tape)):
        _, kind, segment = event
        if kind == "out":
            if _replay_output(segment, original_backward):
                fired.add(id(segment))
        elif id(segment) in fired:
            _replay_input(segment, original_backward)
    for event in _tape:
        segment = event[2]
        if id(segment) not in fired and _backward_count[0] - segment.born <= 1:
            kept.append(event)
    _tape[:] = kept


def _any_hooks():
    return bool(_global_backward_hooks) or any(
        m.__dict__.get("_backward_hooks") or m.__dict__.get("_backward_pre_hooks")
        for m in list(_hooked_modules))


def install(module=None):
    """Wraps ``Tensor.backward`` so that it replays the hooked calls; done
    at a backward hook's registration, and undone by a backward that finds
    no hook and nothing to replay, so that otherwise an error in
    ``backward()`` ends at the caller's line, with no frame of ours."""
    if module is not None:
        _hooked_modules.add(module)
    original = Tensor.backward
    if getattr(original, "_replays_module_hooks", False):
        return

    def backward(self, gradient=None, retain_graph=None, create_graph=False):
        original(self, gradient, retain_graph, create_graph)
        if _tape:
            replay(lambda t, g, retain_graph: original(t, g, retain_graph))
        if not _tape and not _any_hooks():
            Tensor.backward = original

    backward._replays_module_hooks = True
    backward.__doc__ = original.__doc__
    Tensor.backward = backward
