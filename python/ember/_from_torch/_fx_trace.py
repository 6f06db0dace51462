"""Tracing a torch.nn.Module into a torch.fx graph that ``from_torch`` imports.

PyTorch 1.13's ``torch.fx.symbolic_trace`` cannot trace code that unpacks a
shape (``n, c, h, w = x.shape``, as torchvision's ViT does), calls ``len`` on
a proxy or branches on a value. The tracer here runs the module on the
example inputs alongside the trace: every node also gets its concrete value
(``node.meta["example_value"]``), so that iterating a proxy yields one
``getitem`` node per element (sizes stay symbolic in the graph) and a branch
on a proxy takes the example's side (the graph is specialised to it, like
``torch.jit.trace``). Leaf modules are those the module table converts
(``_modules.MODULES``); every other module is traced through. Each node
records the source line that created it (``stack_trace``) and the dotted
path of the module whose forward created it (``meta["module_path"]``), for
the error an unmapped op raises.
"""

import inspect
import operator
import os

import torch
import torch.fx as fx


_TORCH_DIR = os.path.dirname(os.path.abspath(torch.__file__))
_OUR_DIR = os.path.dirname(os.path.abspath(__file__))


class _ValueProxy(fx.Proxy):
    """A proxy whose concrete example value answers ``len`` and ``bool``."""

    def __len__(self):
        return len(self.node.meta["example_value"])

    def __iter__(self):
        # fx 1.13 reads the caller's bytecode here, which fails on Python 3.11.
        return self.tracer.iter(self)


def _concrete(value):
    return fx.node.map_aggregate(
        value, lambda v: v.meta["example_value"] if isinstance(v, fx.Node) else v)


class ExampleTracer(fx.Tracer):
    """fx.Tracer that also computes each node's value on the example inputs."""

    def __init__(self, is_leaf_type):
        super().__init__()
        self.record_stack_traces = True
        # Buffers as get_attr nodes too, so that indexing one by a size traces.
        self.proxy_buffer_attributes = True
        self._is_leaf_type = is_leaf_type
        self._module_paths = [""]
        self._inputs = []
        self._root = None
        self._computing = False

    def getattr(self, attr, attr_val, parameter_proxy_cache):
        if self._computing:
            return attr_val
        return super().getattr(attr, attr_val, parameter_proxy_cache)

    def _find_user_frame(self):
        # The first frame outside torch and this package: the user's code.
        frame = inspect.currentframe()
        while frame is not None:
            path = frame.f_code.co_filename
            if not (path.startswith(_TORCH_DIR) or path.startswith(_OUR_DIR)
                    or path.startswith("<")):
                return frame
            frame = frame.f_back
        return None

    def is_leaf_module(self, m, qualified_name):
        return self._is_leaf_type(type(m))

    def call_module(self, m, forward, args, kwargs):
        if self._computing:  # a leaf's own submodules, while computing its value
            return forward(*args, **kwargs)
        self._module_paths.append(self.path_of_module(m))
        try:
            return super().call_module(m, forward, args, kwargs)
        finally:
            self._module_paths.pop()

    def proxy(self, node):
        return _ValueProxy(node, self)

    def iter(self, obj):
        return iter([obj[i] for i in range(len(obj.node.meta["example_value"]))])

    def to_bool(self, obj):
        return bool(obj.node.meta["example_value"])

    def keys(self, obj):
        return obj.node.meta["example_value"].keys()

    def create_node(self, kind, target, args, kwargs, name=None, type_expr=None):
        node = super().create_node(kind, target, args, kwargs, name, type_expr)
        node.meta["module_path"] = self._module_paths[-1]
        if kind == "placeholder":
            index = len([n for n in node.graph.nodes if n.op == "placeholder"]) - 1
            node.meta["example_value"] = self._inputs[index] if index < len(self._inputs) else None
        elif kind == "get_attr":
            value = self._root
            self._computing = True
            try:
                for atom in target.split("."):
                    value = getattr(value, atom)
            finally:
                self._computing = False
            node.meta["example_value"] = value
        elif kind == "output":
            pass
        else:
            a, k = _concrete(args), _concrete(kwargs)
            self._computing = True
            grad = torch.is_grad_enabled()
            torch.set_grad_enabled(False)
            try:
                if kind == "call_function":
                    value = target(*a, **k)
                elif kind == "call_method":
                    value = getattr(a[0], target)(*a[1:], **k)
                else:
                    module = self._root.get_submodule(target)
                    value = type(module)._call_impl(module, *a, **k)
            except Exception:  # noqa: BLE001 (only a branch on it needs the value)
                value = None
            finally:
                self._computing = False
                torch.set_grad_enabled(grad)
            node.meta["example_value"] = value
        return node

    def trace_with_examples(self, root, example_inputs):
        self._root = root
        self._inputs = list(example_inputs)
        # Arguments the example leaves out keep their defaults, as constants.
        parameters = list(inspect.signature(root.forward).parameters.values())
        concrete = {p.name: p.default for p in parameters[len(self._inputs):]
                    if p.default is not p.empty}
        return self.trace(root, concrete_args=concrete or None)


def trace(module, example_inputs, is_leaf_type):
    """(fx.GraphModule, graph) of ``module`` traced on ``example_inputs``, in
    eval mode (the module's mode is restored after)."""
    was_training = module.training
    module.eval()
    try:
        tracer = ExampleTracer(is_leaf_type)
        graph = tracer.trace_with_examples(module, example_inputs)
    finally:
        module.train(was_training)
    return graph


# The operator module's functions fx records, for the table's docs.
OPERATORS = [operator.add, operator.sub, operator.mul, operator.truediv, operator.floordiv,
             operator.mod, operator.pow, operator.matmul, operator.neg, operator.pos,
             operator.getitem, operator.eq, operator.ne, operator.lt, operator.le,
             operator.gt, operator.ge, operator.and_, operator.or_, operator.xor,
             operator.invert, operator.iadd, operator.isub, operator.imul,
             operator.itruediv, operator.abs]
