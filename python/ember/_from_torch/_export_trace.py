"""The PyTorch 2.x path of ``from_torch``: ``torch.export.export`` gives a
graph of aten ops whose parameters and buffers are placeholders named in
the graph signature; they become ``get_attr`` nodes of their state_dict keys
so that ``ImportedModule`` reads them from its mirrored module tree, and
each aten op resolves through ``_aten``. ``dynamic_dims`` symbols become
``torch.export.Dim``s."""

import torch

from ember._from_torch import _aten


def _dynamic_shapes(dynamic_dims, inputs):
    if not dynamic_dims:
        return None
    if isinstance(dynamic_dims, dict):
        per_input = [dynamic_dims.get(i, {}) for i in range(len(inputs))]
    else:
        per_input = list(dynamic_dims)
    symbols = {}
    shapes = []
    for dims in per_input:
        shapes.append({dim: symbols.setdefault(name, torch.export.Dim(name))
                       for dim, name in (dims or {}).items()} or None)
    return tuple(shapes)


def import_exported(module, inputs, dynamic_dims):
    from ember._from_torch._graph_module import ImportedModule

    was_training = module.training
    module.eval()
    try:
        program = torch.export.export(module, tuple(inputs),
                                      dynamic_shapes=_dynamic_shapes(dynamic_dims, inputs))
    finally:
        module.train(was_training)
    signature = program.graph_signature
    state = dict(signature.inputs_to_parameters)
    state.update(signature.inputs_to_buffers)
    state.update(getattr(signature, "inputs_to_lifted_tensor_constants", {}))
    graph = program.graph
    user_outputs = set(signature.user_outputs)
    for node in list(graph.nodes):
        stack = node.meta.get("nn_module_stack") or {}
        node.meta["module_path"] = list(stack.values())[-1][0] if stack else ""
        node.meta["innermost_last"] = True
        if node.op == "placeholder" and node.name in state:
            with graph.inserting_before(node):
                # create_node: graph.get_attr warns that the graph has no owner.
                attribute = graph.create_node("get_attr", state[node.name])
            node.replace_all_uses_with(attribute)
            graph.erase_node(node)
        elif node.op == "output":
            outputs = node.args[0]
            kept = tuple(o for o in outputs if getattr(o, "name", None) in user_outputs)
            node.args = (kept[0] if len(kept) == 1 else kept,)
    constants = {}
    for name, value in getattr(program, "constants", {}).items():
        constants[name] = value
    return ImportedModule(module, graph, resolve_aten=_aten.resolve, constants=constants)
