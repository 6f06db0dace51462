"""``ember.from_torch``: import a ``torch.nn.Module`` into Ember.

    program = ember.from_torch(torchvision.models.resnet18().eval(),
                               (torch.randn(1, 3, 224, 224),),
                               dynamic_dims=[{0: "batch"}])
    program.save("resnet18.ember")          # ember-compile, ember-run, C++
    module = ember.import_torch_module(model, (x,))   # an ember.nn.Module: fine-tune it

The torch module is traced into a torch.fx graph (``_fx_trace``; with a
PyTorch 2.x install, ``torch.export``: ``_export_trace``), every node is
mapped to an Ember op through one table (functions ``_functions``, tensor
methods ``_methods``, torch.nn leaf modules ``_modules``, aten ops ``_aten``)
and the result is an ``ImportedModule``, an ``ember.nn.Module`` whose
parameters are ``ember.nn.Parameter``s viewing the torch tensors' memory
(``_weights``). ``from_torch`` exports that module with ``ember.export``.
An op without a mapping raises ``UnsupportedTorchOp`` naming the op, the
module path and the source line; docs/from_torch.md lists the mapped ops
(``scripts/gen-from-torch-docs``).
"""

import torch

import ember

from ember._from_torch._errors import UnsupportedTorchOp
from ember._from_torch._weights import to_ember

__all__ = ["from_torch", "import_torch_module", "UnsupportedTorchOp"]


def _torch_inputs(example_inputs):
    if isinstance(example_inputs, torch.Tensor):
        return (example_inputs,)
    if isinstance(example_inputs, (tuple, list)):
        return tuple(example_inputs)
    raise TypeError("ember.from_torch: example_inputs must be a torch.Tensor or a tuple of "
                    f"them, not {type(example_inputs).__name__}")


def _uses_torch_export():
    return int(torch.__version__.split(".")[0]) >= 2 and hasattr(torch, "export")


def import_torch_module(module, example_inputs, dynamic_dims=None, method=None):
    """``module`` (a torch.nn.Module) as an Ember ``ImportedModule``: an
    ``ember.nn.Module`` that computes the same function with Ember ops, whose
    parameters and buffers have the module's state_dict keys and share its
    memory. ``method``: "fx" (torch.fx tracing; the only one on PyTorch 1.x)
    or "export" (``torch.export``, PyTorch 2.x; the default there).
    ``dynamic_dims`` (``[{0: "batch"}]``) matters on the export path: there
    the graph's sizes are the example's except for the dims named in it; the
    fx path reads sizes from the inputs as it runs."""
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"ember.from_torch: expected a torch.nn.Module, not "
                        f"{type(module).__name__}")
    inputs = tuple(x.clone() if isinstance(x, torch.Tensor) else x
                   for x in _torch_inputs(example_inputs))
    method = method or ("export" if _uses_torch_export() else "fx")
    if method == "export":
        from ember._from_torch._export_trace import import_exported
        return import_exported(module, inputs, dynamic_dims)
    if method != "fx":
        raise ValueError(f"ember.from_torch: method must be 'fx' or 'export', not {method!r}")
    from ember._from_torch import _fx_trace
    from ember._from_torch._graph_module import ImportedModule
    from ember._from_torch._modules import convert_module, is_leaf_type
    if is_leaf_type(type(module)):  # one torch.nn layer: its ember.nn form
        return convert_module(module)
    graph = _fx_trace.trace(module, inputs, is_leaf_type)
    return ImportedModule(module, graph)


def from_torch(module, example_inputs, dynamic_dims=None, input_names=None,
               output_names=None, method=None, fold_batch_norm=True):
    """Imports ``module`` (a torch.nn.Module, called on ``example_inputs``)
    and exports it: an ``ember.ExportedProgram`` whose weights are the
    module's state_dict. ``dynamic_dims`` is ``ember.export``'s: per input a
    ``{dim: "symbol"}`` dict (``[{0: "batch"}]``). The module is imported in
    eval mode (call ``.eval()`` first for the same result in torch).
    ``fold_batch_norm``: a BatchNorm that only normalizes a convolution's
    output is folded into that convolution's weight and bias (``_fold``;
    torch.fx and torch.export imports), so the program's weights hold the folded convolution
    instead of the two layers' state."""
    imported = import_torch_module(module, example_inputs, dynamic_dims, method)
    imported.eval()
    if fold_batch_norm:
        from ember._from_torch._fold import fold_batch_norms
        fold_batch_norms(imported)
    inputs = tuple(to_ember(x) for x in _torch_inputs(example_inputs))
    if input_names is None:
        input_names = getattr(imported, "_input_names", [])[:len(inputs)] or None
    return ember.export(imported, inputs, dynamic_dims=dynamic_dims,
                        input_names=input_names, output_names=output_names)
