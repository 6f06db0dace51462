"""ember.autograd: gradients as a compiler transformation.

``loss.backward()`` and ``grad()`` only record the request in the lazy graph;
the ember-autodiff transformation builds the gradient program when values
are computed, so forward, backward and the optimizer update compile into
one program.
"""

from ember import _ember


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False):
    """The gradients of ``outputs`` with respect to ``inputs`` (torch.autograd.grad)."""
    single_output = isinstance(outputs, _ember.Tensor)
    outputs = [outputs] if single_output else list(outputs)
    single_input = isinstance(inputs, _ember.Tensor)
    inputs = [inputs] if single_input else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, _ember.Tensor):
        grad_outputs = [grad_outputs]
    else:
        grad_outputs = list(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise RuntimeError(f"grad requires one grad_output per output: got "
                           f"{len(grad_outputs)} for {len(outputs)} outputs")
    if retain_graph is None:
        retain_graph = create_graph
    return tuple(_ember._autograd_grad(outputs, inputs, grad_outputs, retain_graph,
                                       create_graph, allow_unused))
