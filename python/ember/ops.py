"""``ember.ops``: C++ custom ops, by namespace (``ember.ops.mylib.swish``).

A library built against ``ember/Runtime/CustomOp.h`` (with
``ember.utils.cpp_extension.load``, or by Bazel's ``ember_custom_op_library``)
registers ops named ``"namespace::op"``; once it is loaded each one is
``ember.ops.<namespace>.<op>(*tensors, **attributes)``. A call traces one
``ember.custom_call`` into the lazy graph: the op's shape function runs at
once (its errors are raised here), and the compiled program calls the op's
CPU kernel through the runtime; fusion stops at it.

Gradients come from the op's registered backward: a C++ op named in its
definition (``Op(...).backward("mylib::swish_backward")``, taking the
inputs, the outputs and the outputs' gradients, returning one gradient per
input), or a Python function given to ``ember.library.register_autograd``.
An op with several outputs returns a tuple; its backward gets one gradient
per output.
Either runs as the backward of an ``ember.autograd.Function``, traced into
the same compiled program as the rest of the backward. See
docs/custom-ops.md.
"""

import ember
from ember import _ember


def load_library(path):
    """Loads a custom op library (a shared object) and registers its ops
    (torch.ops.load_library). Returns the names it registered."""
    return _ember._load_custom_op_library(str(path))


# Python backwards registered with ember.library.register_autograd, by op.
_python_autograd = {}


def _as_tuple(output):
    return output if isinstance(output, tuple) else (output,)


def _apply_backward_op(backward_name, num_inputs, attr_names):
    """A Function backward that calls the registered C++ backward op on
    (inputs..., outputs..., grad_outputs...); its attributes take the
    forward's values where the names match, else their defaults. An output
    the loss does not use gets zeros as its gradient (the backward is traced
    at the call)."""

    class CppBackward(ember.autograd.Function):
        @staticmethod
        def forward(ctx, name, attrs, *inputs):
            output = _ember._custom_op(name, list(inputs), attrs)
            ctx.save_for_backward(*inputs, *_as_tuple(output))
            ctx.attrs = attrs
            return output

        @staticmethod
        def backward(ctx, *grads):
            saved = ctx.saved_tensors
            outputs = saved[num_inputs:]
            grads = [g if g is not None else ember.zeros_like(o)
                     for g, o in zip(grads, outputs)]
            op = _op_named(backward_name)
            forward = dict(zip(attr_names, ctx.attrs))
            attrs = [forward.get(n, d) for n, d in zip(op._info["attr_names"],
                                                       op._info["attr_defaults"])]
            result = _as_tuple(op._call_raw(list(saved) + grads, attrs))
            return (None, None) + tuple(result[:num_inputs])

    return CppBackward


def _apply_python_backward(backward, setup_context):
    class PythonBackward(ember.autograd.Function):
        @staticmethod
        def forward(ctx, name, attrs, *inputs):
            output = _ember._custom_op(name, list(inputs), attrs)
            ctx.attrs = attrs
            if setup_context is not None:
                # torch's inputs: every argument, the attributes after the
                # tensors; output: the tensor, or the tuple of them.
                setup_context(ctx, tuple(inputs) + tuple(attrs), output)
            ctx._outputs_float = [o.dtype.is_floating_point for o in _as_tuple(output)]
            return output

        @staticmethod
        def backward(ctx, *grads):
            # One cotangent per output; None for outputs that are not
            # differentiable (integer dtypes).
            grads = [g if is_float else None
                     for g, is_float in zip(grads, ctx._outputs_float)]
            result = _as_tuple(backward(ctx, *grads))
            return (None, None) + result

    return PythonBackward


class CustomOp:
    """One registered op: ``op(*tensors, **attributes)``."""

    def __init__(self, name):
        self.name = name
        info = _ember._custom_op_info(name)
        if info is None:
            raise AttributeError(f"no custom op named '{name}' is registered")
        self._info = info
        self.__name__ = name.split("::")[1]
        self.__qualname__ = self.__name__

    def __repr__(self):
        return f"<ember custom op {self.name} from {self._info['library']}>"

    def _attrs(self, extra, kwargs):
        names = self._info["attr_names"]
        values = list(self._info["attr_defaults"])
        if len(extra) > len(names):
            raise TypeError(f"{self.name}() takes {self._info['num_inputs']} tensor "
                            f"input(s) and {len(names)} attribute(s), got "
                            f"{self._info['num_inputs'] + len(extra)} positional "
                            "arguments")
        for i, value in enumerate(extra):
            values[i] = float(value)
        for key, value in kwargs.items():
            if key not in names:
                raise TypeError(f"{self.name}() got an unexpected keyword argument "
                                f"'{key}' (attributes: {', '.join(names) or 'none'})")
            values[names.index(key)] = float(value)
        return values

    def _call_raw(self, tensors, attrs):
        return _ember._custom_op(self.name, list(tensors), list(attrs))

    def __call__(self, *args, **kwargs):
        """The op's output: one tensor, or a tuple of them for an op whose
        shape function declares several outputs."""
        n = self._info["num_inputs"]
        tensors, extra = args[:n], args[n:]
        if len(tensors) != n or not all(isinstance(t, ember.Tensor) for t in tensors):
            raise TypeError(f"{self.name}() expects {n} tensor input(s) first")
        attrs = self._attrs(extra, kwargs)
        needs_grad = ember.is_grad_enabled() and any(t.requires_grad for t in tensors)
        if not needs_grad:
            return self._call_raw(tensors, attrs)
        if self.name in _python_autograd:
            backward, setup = _python_autograd[self.name]
            fn = _apply_python_backward(backward, setup)
        elif self._info["backward"]:
            fn = _apply_backward_op(self._info["backward"], n,
                                    self._info["attr_names"])
        else:
            raise RuntimeError(
                f"{self.name}: an input requires grad but the op has no backward; "
                "register one (Op(...).backward(\"ns::op_backward\") in C++, or "
                "ember.library.register_autograd in Python) or call it under "
                "ember.no_grad()")
        return fn.apply(self.name, attrs, *tensors)


def _op_named(name):
    return CustomOp(name)


class _Namespace:
    def __init__(self, namespace):
        self._namespace = namespace

    def __getattr__(self, op):
        if op.startswith("__"):
            raise AttributeError(op)
        name = f"{self._namespace}::{op}"
        if _ember._custom_op_info(name) is None:
            raise AttributeError(f"no custom op named '{name}' is registered "
                                 "(load its library first)")
        return CustomOp(name)

    def __dir__(self):
        prefix = self._namespace + "::"
        return [n[len(prefix):] for n in _ember._custom_op_names()
                if n.startswith(prefix)]


def __getattr__(namespace):
    if namespace.startswith("__"):
        raise AttributeError(namespace)
    return _Namespace(namespace)
