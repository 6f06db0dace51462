"""Collectives as ops in the compiled graph.

``ember.distributed.all_reduce(..., async_op=True)`` on a *pending* CPU
tensor (a value the lazy graph has not computed yet, such as a gradient
right after ``backward()``; DDP's buckets) does not run the engine at once: it traces one ``ember.all_reduce`` op, and
the collective runs inside the compiled program, where the runtime looks the
process group up by number (runtime/include/ember/Runtime/ProcessGroups.h,
the table the Python API registers its communicators in) and calls its
engine (MPI, Gloo). So a DDP step -- forward, backward, gradient all-reduce,
optimizer update -- stays one compiled program per rank.

Guarantees: the collectives of one program run in program order (the op has
a side effect: no pass merges, drops or reorders it), which is the traced
order; every rank that traces the same step compiles the same program, so
the order is the same on every rank. Collectives match across ranks by
their order on the group, not by program boundaries, so ranks may cut their
programs differently (one prints a loss, the other does not). A collective
runs when its program runs -- when any pending value is read, or at
``ember.sync()`` -- and only if its result is still alive then: a result
every rank drops unread is reduced nowhere, but one that only some ranks
drop would leave the others waiting, so keep it (DDP's gradients are kept). An engine error inside a program is raised as a
RuntimeError when the program returns. Autograd: all_reduce SUM's gradient
is all_reduce SUM of the cotangent (AVG likewise).

It returns a ``TracedWork``: its ``wait()`` has nothing to wait for, since
reading the tensor runs the collective first (an engine error surfaces there).
Blocking calls (``async_op=False``) run the engine at once, so that a hung or
dead peer raises at the call, as in torch. Where the value
is already computed, the dtype is bool, the tensor is on a GPU or requires
grad, or the group is not registered, the Python API calls the engine
directly (``try_all_reduce`` returns False). The cross-rank shape check of
the eager path (EMBER_DIST_CHECK_SHAPES) does not run for traced
collectives.
"""

from .. import _ember

# ember::dist::ReduceOp's order.
_REDUCE_OPS = {"SUM": 0, "AVG": 1, "MIN": 2, "MAX": 3, "PRODUCT": 4}

_TRACEABLE_DTYPES = ("float32", "float64", "float16", "bfloat16", "int32", "int64")


def reduce_op_code(op):
    """ReduceOp member, its name, or its number -> the runtime's number."""
    if isinstance(op, int):
        return op
    name = getattr(op, "name", op)
    if isinstance(name, str) and name.upper() in _REDUCE_OPS:
        return _REDUCE_OPS[name.upper()]
    value = getattr(op, "value", None)
    if isinstance(value, int):
        return value
    raise ValueError(f"unknown reduce op {op!r}")


def can_trace(tensor):
    """Whether all_reduce on ``tensor`` can join its pending program."""
    return (tensor.device.type == "cpu" and not tensor.requires_grad
            and _ember._is_pending(tensor)
            and str(tensor.dtype).removeprefix("ember.") in _TRACEABLE_DTYPES)


class TracedWork:
    """async_op=True's handle for a traced collective: it runs with its
    program, which reading the tensor starts, so there is nothing to wait
    for here."""

    def wait(self, timeout=None):
        return True

    def is_completed(self):
        return True

    def is_success(self):
        return True


def all_reduce(tensor, op, group_id):
    """Traces ``tensor <- all_reduce(tensor)`` in place (one graph op)."""
    from .. import no_grad
    reduced = _ember._all_reduce(tensor, reduce_op_code(op), int(group_id))
    with no_grad():
        tensor.copy_(reduced)
    return tensor


def try_all_reduce(tensor, op, group_id):
    """The Python API's hook: traces the collective and returns True where
    it can join the pending program, else returns False (call the engine)."""
    if group_id is None or group_id < 0 or not can_trace(tensor):
        return False
    all_reduce(tensor, op, group_id)
    return True
