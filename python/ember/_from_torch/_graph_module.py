"""ImportedModule: an ``ember.nn.Module`` that runs an imported fx graph with
Ember ops.

Its module tree mirrors the torch module's: every leaf module the tracer
kept is the converted ``ember.nn`` module at the same path, every other
module an empty ``ember.nn.Module`` holding that module's own parameters and
buffers. So ``state_dict()`` has torch's keys, the parameters are
``ember.nn.Parameter``s (an optimizer trains them) and ``.train()`` /
``.eval()`` switch the leaves (BatchNorm, Dropout) as in torch. Code the
tracer went through was recorded in eval mode (a ``training`` flag read
there is fixed to False).

Every node is resolved to its Ember callable when the module is built, so an
unmapped op raises then, naming the op, module and source line.
"""

import torch
import torch.fx as fx

from ember import nn

from ember._from_torch import _errors
from ember._from_torch._functions import FUNCTIONS, function_name
from ember._from_torch._methods import METHODS
from ember._from_torch._modules import MODULES, convert_module
from ember._from_torch._weights import to_ember, to_ember_dtype


class _Container(nn.Module):
    """A torch module the tracer went through: only holds state and children."""

    def __init__(self, type_name):
        super().__init__()
        object.__setattr__(self, "_torch_type", type_name)

    def _get_name(self):
        return self._torch_type


def _constant(value):
    """A constant argument of a node in Ember's terms."""
    if isinstance(value, torch.dtype):
        return to_ember_dtype(value)
    if isinstance(value, torch.device):
        return value.type
    if isinstance(value, torch.Size):
        return tuple(value)
    if isinstance(value, torch.memory_format):
        return None
    return value


def _mirror(torch_module, path="", leaves=True):
    """The Ember module tree for torch_module (leaves converted, unless the
    graph calls no modules: torch.export's)."""
    if leaves and type(torch_module) in MODULES and path:
        return convert_module(torch_module, path)
    ours = _Container(type(torch_module).__name__)
    for name, p in torch_module._parameters.items():
        ours._parameters[name] = (None if p is None
                                  else nn.Parameter(to_ember(p), p.requires_grad))
    for name, b in torch_module._buffers.items():
        ours.register_buffer(name, None if b is None else to_ember(b),
                             name not in torch_module._non_persistent_buffers_set)
    for name, child in torch_module._modules.items():
        if child is not None:
            ours.add_module(name, _mirror(child, f"{path}.{name}" if path else name, leaves))
    ours.train(torch_module.training)
    return ours


class ImportedModule(nn.Module):
    """A torch.nn.Module imported into Ember (what ``ember.from_torch`` builds)."""

    def __init__(self, torch_module, graph, resolve_aten=None, constants=None):
        super().__init__()
        mirror = _mirror(torch_module, leaves=resolve_aten is None)
        for name, p in mirror._parameters.items():
            self._parameters[name] = p
        for name in mirror._buffers:
            self.register_buffer(name, mirror._buffers[name],
                                 name not in mirror._non_persistent_buffers)
        for name, child in mirror._modules.items():
            self.add_module(name, child)
        object.__setattr__(self, "_torch_type", type(torch_module).__name__)
        object.__setattr__(self, "_graph", graph)
        # Tensors the trace made attributes of its own (fx's _tensor_constantN).
        object.__setattr__(self, "_constants", {})
        object.__setattr__(self, "_resolve_aten", resolve_aten)
        object.__setattr__(self, "_given_constants", constants or {})
        object.__setattr__(self, "_torch_root", torch_module)
        object.__setattr__(self, "_program", self._resolve(torch_module, graph))
        object.__setattr__(self, "_input_names",
                           [n.target for n in graph.nodes if n.op == "placeholder"])
        self.train(torch_module.training)

    def _get_name(self):
        return f"ImportedModule[{self._torch_type}]"

    def _resolve(self, root, graph):
        program = []
        position = {node: i for i, node in enumerate(graph.nodes)}
        last_use = {}
        for node in graph.nodes:
            for used in node.all_input_nodes:
                last_use[used] = position[node]
        frees = {}
        for node, index in last_use.items():
            frees.setdefault(index, []).append(node.name)
        placeholders = 0
        for index, node in enumerate(graph.nodes):
            args = fx.node.map_aggregate(node.args, _constant)
            kwargs = fx.node.map_aggregate(node.kwargs, _constant)
            if node.op == "placeholder":
                fn = (placeholders, node.args[0] if node.args else None)
                placeholders += 1
            elif node.op == "get_attr":
                fn = node.target
                self._add_constant_if_unowned(root, node.target)
            elif node.op == "call_function":
                aten = self._resolve_aten(node.target) if self._resolve_aten else None
                if aten is not None:
                    fn = aten
                elif node.target in FUNCTIONS:
                    fn = FUNCTIONS[node.target][0]
                elif str(node.target).startswith("aten."):
                    raise _errors.unsupported("aten op", str(node.target), node, root)
                else:
                    raise _errors.unsupported("function", function_name(node.target), node, root)
            elif node.op == "call_method":
                if node.target not in METHODS:
                    raise _errors.unsupported("Tensor method", f"Tensor.{node.target}", node,
                                              root)
                fn = node.target
            elif node.op == "call_module":
                fn = node.target
            else:
                fn = None
            program.append((node.op, node.name, fn, args, kwargs, frees.get(index, ()), node))
        return program

    def _reprogram(self):
        """Resolves the graph again after a rewrite (BatchNorm folding)."""
        object.__setattr__(self, "_program", self._resolve(self._torch_root, self._graph))

    def _add_constant_if_unowned(self, root, target):
        """Tensors a get_attr reads that no module owns (torch.export's lifted
        constants, fx's _tensor_constantN) are kept in _constants."""
        if target in self._given_constants:
            self._constants[target] = to_ember(self._given_constants[target])
            return
        try:
            self._lookup(target)
        except AttributeError:
            value = root
            for atom in target.split("."):
                value = getattr(value, atom)
            self._constants[target] = to_ember(value)

    def _lookup(self, target):
        value = self
        for atom in target.split("."):
            value = getattr(value, atom)
        return value

    def forward(self, *inputs):
        env = {}

        def value(arg):
            return fx.node.map_arg(arg, lambda n: env[n.name])

        for op, name, fn, args, kwargs, frees, node in self._program:
            try:
                if op == "placeholder":
                    index, default = fn
                    result = inputs[index] if index < len(inputs) else default
                elif op == "get_attr":
                    result = self._constants.get(fn) if fn in self._constants else self._lookup(fn)
                elif op == "call_function":
                    result = fn(*value(args), **value(kwargs))
                elif op == "call_method":
                    a = value(args)
                    result = getattr(a[0], fn)(*a[1:], **value(kwargs))
                elif op == "call_module":
                    result = self.get_submodule(fn)(*value(args), **value(kwargs))
                else:
                    output = value(args[0])
                    return tuple(output) if isinstance(output, list) else output
            except _errors.UnsupportedTorchOp:
                raise
            except Exception as error:
                note = (f"{error}\n  (ember.from_torch: while running {node.format_node()} "
                        f"{_errors.describe(node, self)})")
                try:
                    wrapped = type(error)(note)
                except Exception:
                    wrapped = RuntimeError(note)
                raise wrapped from error
            env[name] = result
            for dead in frees:
                env.pop(dead, None)
        raise RuntimeError("ember.from_torch: the graph has no output")
