"""``ember.library``: Python-side registration for C++ custom ops (a small
part of torch.library).

``register_autograd(name, backward, setup_context=None)`` gives the custom
op ``name`` a backward written in Python (torch 2.4's signature): after the
forward, ``setup_context(ctx, inputs, output)`` saves what the backward
needs (``inputs``: the tensor inputs, then the attribute values;
``output``: the tensor, or the tuple of an op with several outputs);
``backward(ctx, *grads)`` gets one gradient per output (None for an
integer output; zeros for one the loss does not use, as with torch's
materialized grads: the backward is traced at the call) and returns one
gradient per tensor input (or None). The backward is traced into the
compiled gradient program like an ``ember.autograd.Function``'s; it may
call other custom ops. It takes precedence over a backward op named in
the op's C++ definition.
"""

from ember import _ember, ops


def register_autograd(name, backward, *, setup_context=None):
    if _ember._custom_op_info(name) is None:
        raise RuntimeError(f"register_autograd: no custom op named '{name}' is "
                           "registered (load its library first)")
    ops._python_autograd[name] = (backward, setup_context)
