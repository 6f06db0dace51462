"""``nn.Module``: the base class of layers and models, as in torch.

A module holds its parameters, buffers and submodules in three ordered dicts,
filled by attribute assignment (``self.weight = Parameter(...)``,
``self.fc = Linear(...)``) or the ``register_*`` methods, and found again by
attribute access. ``state_dict()`` names them with dotted prefixes
(``"fc.weight"``), as torch does, so the same keys address the same tensors.
"""

import collections
import collections.abc
import itertools

from ember._ember import Tensor
from ember._ember import is_grad_enabled
from ember._grad_mode import no_grad
from ember.nn import _backward_hooks
from ember.nn._backward_hooks import _global_backward_hooks
from ember.nn._hooks import RemovableHandle
from ember.nn.parameter import Parameter

_IncompatibleKeys = collections.namedtuple("IncompatibleKeys",
                                           ["missing_keys", "unexpected_keys"])


def _check_name(kind, name, owner):
    if not isinstance(name, str):
        raise TypeError(f"{kind} name should be a string. Got {type(name).__name__}")
    if "." in name:
        raise KeyError(f'{kind} name can\'t contain ".", got: {name}')
    if name == "":
        raise KeyError(f'{kind} name can\'t be empty string ""')
    if hasattr(owner, name) and not _is_registered(owner, name):
        raise KeyError(f"attribute '{name}' already exists")


def _is_registered(module, name):
    d = module.__dict__
    return any(name in d.get(slot, ()) for slot in ("_parameters", "_buffers", "_modules"))


# Hooks every module runs (torch.nn.modules.module.register_module_forward_*).
_global_forward_pre_hooks = collections.OrderedDict()
_global_forward_hooks = collections.OrderedDict()


def register_module_forward_pre_hook(hook):
    """Adds ``hook(module, input)`` before every module's forward."""
    handle = RemovableHandle(_global_forward_pre_hooks)
    _global_forward_pre_hooks[handle.id] = hook
    return handle


def register_module_forward_hook(hook):
    """Adds ``hook(module, input, output)`` after every module's forward."""
    handle = RemovableHandle(_global_forward_hooks)
    _global_forward_hooks[handle.id] = hook
    return handle


def register_module_full_backward_hook(hook):
    """Adds ``hook(module, grad_input, grad_output)`` to every module's
    backward (see ``Module.register_full_backward_hook``)."""
    _backward_hooks.install()
    handle = RemovableHandle(_global_backward_hooks)
    _global_backward_hooks[handle.id] = hook
    return handle



def _add_indent(text, spaces):
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    return lines[0] + "\n" + "\n".join(" " * spaces + line for line in lines[1:])


class Module:
    """Base class for all neural network modules; subclasses define ``forward``.

    ``module(x)`` calls ``forward(x)``. Submodules assigned as attributes are
    registered, so ``parameters()``, ``train()``/``eval()``, ``zero_grad()``
    and ``state_dict()`` reach them.
    """

    training: bool

    def __init__(self):
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", collections.OrderedDict())
        object.__setattr__(self, "_buffers", collections.OrderedDict())
        object.__setattr__(self, "_non_persistent_buffers", set())
        object.__setattr__(self, "_modules", collections.OrderedDict())
        object.__setattr__(self, "_forward_pre_hooks", collections.OrderedDict())
        object.__setattr__(self, "_forward_hooks", collections.OrderedDict())

    def forward(self, *args, **kwargs):
        raise NotImplementedError(
            f'Module [{type(self).__name__}] is missing the required "forward" function')

    def __call__(self, *args, **kwargs):
        pre_hooks = self.__dict__.get("_forward_pre_hooks")
        hooks = self.__dict__.get("_forward_hooks")
        backward_hooks = _backward_hooks.wants_backward_hooks(self)
        if not (pre_hooks or hooks or backward_hooks or _global_forward_pre_hooks
                or _global_forward_hooks):
            return self.forward(*args, **kwargs)
        for hook in (*_global_forward_pre_hooks.values(), *(pre_hooks or {}).values()):
            result = hook(self, args)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)
        segment = None
        if backward_hooks and is_grad_enabled():
            args, segment = _backward_hooks.cut_inputs(self, args)
        output = self.forward(*args, **kwargs)
        for hook in (*_global_forward_hooks.values(), *(hooks or {}).values()):
            result = hook(self, args, output)
            if result is not None:
                output = result
        if segment is not None:
            output = _backward_hooks.cut_outputs(segment, output)
        return output

    # Hooks ------------------------------------------------------------------

    def _hooks_dict(self, name):
        if name not in self.__dict__:
            object.__setattr__(self, name, collections.OrderedDict())
        return self.__dict__[name]

    def register_forward_pre_hook(self, hook):
        """Adds ``hook(module, input)``, called before ``forward`` with the
        positional arguments as a tuple; what it returns (other than None)
        replaces them (a non-tuple becomes a 1-tuple). Returns a handle whose
        ``remove()`` takes the hook out."""
        hooks = self._hooks_dict("_forward_pre_hooks")
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        return handle

    def register_forward_hook(self, hook):
        """Adds ``hook(module, input, output)``, called after ``forward``;
        what it returns (other than None) replaces the output. Returns a
        handle whose ``remove()`` takes the hook out."""
        hooks = self._hooks_dict("_forward_hooks")
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        return handle

    def register_full_backward_pre_hook(self, hook):
        """Adds ``hook(module, grad_output)``, called when the gradients of
        the module's outputs are known, before the module's own backward;
        what it returns (other than None) replaces ``grad_output``. As
        torch 2's (torch 1.13 has none). See register_full_backward_hook
        for what a backward hook costs."""
        _backward_hooks.install(self)
        hooks = self._hooks_dict("_backward_pre_hooks")
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        return handle

    def register_full_backward_hook(self, hook):
        """Adds ``hook(module, grad_input, grad_output)``, called when the
        gradients of the module's positional inputs are known. Both are
        tuples with one entry per positional argument (output), None where
        no gradient flows; what the hook returns (other than None) replaces
        ``grad_input``. The hooked module cuts the lazy graph at its inputs
        and outputs (each cut runs the forward before it as its own
        program), and ``backward()`` replays the cut (see
        ember/nn/_backward_hooks.py)."""
        if self.__dict__.get("_legacy_backward_hooks"):
            raise RuntimeError("Cannot use both regular backward hooks and full backward "
                               "hooks on a single Module. Please use only one of them.")
        object.__setattr__(self, "_full_backward_hooks", True)
        _backward_hooks.install(self)
        hooks = self._hooks_dict("_backward_hooks")
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        return handle

    def register_backward_hook(self, hook):
        """torch's deprecated hook: here the same as
        ``register_full_backward_hook`` (torch's arguments for a module of
        one element-wise op)."""
        if self.__dict__.get("_full_backward_hooks"):
            raise RuntimeError("Cannot use both regular backward hooks and full backward "
                               "hooks on a single Module. Please use only one of them.")
        object.__setattr__(self, "_legacy_backward_hooks", True)
        _backward_hooks.install(self)
        hooks = self._hooks_dict("_backward_hooks")
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        return handle

    def _register_state_dict_hook(self, hook):
        """Adds ``hook(module, state_dict, prefix, local_metadata)``, called
        at the end of ``state_dict()`` for this module; what it returns
        (other than None) becomes the state dict."""
        hooks = self._hooks_dict("_state_dict_hooks")
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        return handle

    def register_state_dict_pre_hook(self, hook):
        """Adds ``hook(module, prefix, keep_vars)``, called at the start of
        ``state_dict()`` for this module (torch 2's; 1.13 has none)."""
        hooks = self._hooks_dict("_state_dict_pre_hooks")
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        return handle

    def _register_load_state_dict_pre_hook(self, hook, with_module=False):
        """Adds ``hook(state_dict, prefix, local_metadata, strict,
        missing_keys, unexpected_keys, error_msgs)`` (``module`` first with
        ``with_module``), called before this module's entries load; it may
        edit the state dict (a copy) and the lists."""
        if with_module:
            plain = hook

            def hook(*args):
                return plain(self, *args)
        hooks = self._hooks_dict("_load_state_dict_pre_hooks")
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        return handle

    def register_load_state_dict_post_hook(self, hook):
        """Adds ``hook(module, incompatible_keys)``, called after this module
        and its submodules loaded; it may edit ``incompatible_keys``'
        lists in place (before ``strict`` checks them) and must return
        None."""
        hooks = self._hooks_dict("_load_state_dict_post_hooks")
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        return handle

    # Registration -----------------------------------------------------------

    def register_parameter(self, name, param):
        """Adds ``param`` (a Parameter, or None for an absent one) as ``name``."""
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign parameter before Module.__init__() call")
        _check_name("parameter", name, self)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{type(param).__name__}' object to parameter "
                            f"'{name}' (ember.nn.Parameter or None required)")
        self._parameters[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        """Adds ``tensor`` (or None) as buffer ``name``: state that is not a
        parameter (running statistics); in ``state_dict()`` unless
        ``persistent=False``."""
        if "_buffers" not in self.__dict__:
            raise AttributeError("cannot assign buffer before Module.__init__() call")
        _check_name("buffer", name, self)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{type(tensor).__name__}' object to buffer "
                            f"'{name}' (ember.Tensor or None required)")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers.discard(name)
        else:
            self._non_persistent_buffers.add(name)

    def add_module(self, name, module):
        """Adds ``module`` (or None) as submodule ``name``."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        _check_name("module", name, self)
        self._modules[name] = module

    register_module = add_module

    def __setattr__(self, name, value):
        d = self.__dict__
        params = d.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            self._forget(name, keep="_parameters")
            self.register_parameter(name, value)
            return
        if params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as parameter "
                                f"'{name}' (ember.nn.Parameter or None expected)")
            params[name] = None
            return
        modules = d.get("_modules")
        if isinstance(value, Module):
            if modules is None:
                raise AttributeError("cannot assign module before Module.__init__() call")
            self._forget(name, keep="_modules")
            modules[name] = value
            return
        if modules is not None and name in modules:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as child module "
                                f"'{name}' (ember.nn.Module or None expected)")
            modules[name] = None
            return
        buffers = d.get("_buffers")
        if buffers is not None and name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{type(value).__name__}' as buffer "
                                f"'{name}' (ember.Tensor or None expected)")
            buffers[name] = value
            return
        object.__setattr__(self, name, value)

    def _forget(self, name, keep=None):
        """Removes ``name`` from the instance dict and every registry but
        ``keep`` (where a re-assignment keeps its place in the order)."""
        self.__dict__.pop(name, None)
        for slot in ("_parameters", "_buffers", "_modules"):
            if slot != keep:
                self.__dict__[slot].pop(name, None)
        self._non_persistent_buffers.discard(name)

    def __getattr__(self, name):
        # Only called when normal lookup fails: the registered entries.
        d = self.__dict__
        for slot in ("_parameters", "_buffers", "_modules"):
            entries = d.get(slot)
            if entries is not None and name in entries:
                return entries[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        if _is_registered(self, name):
            self._forget(name)
        else:
            object.__delattr__(self, name)

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters)
                      | set(self._buffers) | set(self._modules))

    # Traversal --------------------------------------------------------------

    def _named_members(self, get_members, prefix="", recurse=True, remove_duplicate=True):
        seen = set()
        modules = (self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)
                   if recurse else [(prefix, self)])
        for module_prefix, module in modules:
            for name, value in get_members(module):
                if value is None:
                    continue
                if remove_duplicate:
                    if id(value) in seen:
                        continue
                    seen.add(id(value))
                yield (module_prefix + "." + name if module_prefix else name), value

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        """Yields ``(name, parameter)``, names dotted from this module
        (``"0.weight"``); a parameter shared by two modules comes once."""
        yield from self._named_members(lambda m: m._parameters.items(), prefix, recurse,
                                       remove_duplicate)

    def parameters(self, recurse=True):
        """Yields the parameters of this module and (``recurse``) its submodules."""
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        yield from self._named_members(lambda m: m._buffers.items(), prefix, recurse,
                                       remove_duplicate)

    def buffers(self, recurse=True):
        for _, buffer in self.named_buffers(recurse=recurse):
            yield buffer

    def named_children(self):
        """Yields ``(name, module)`` for the direct submodules."""
        seen = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self):
        for _, module in self.named_children():
            yield module

    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        """Yields ``(name, module)`` for this module (name ``prefix``) and
        every submodule, depth first."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            sub_prefix = prefix + "." + name if prefix else name
            yield from module.named_modules(memo, sub_prefix, remove_duplicate)

    def modules(self):
        for _, module in self.named_modules():
            yield module

    def get_submodule(self, target):
        """The submodule at dotted path ``target`` (``""`` is this module)."""
        module = self
        if target == "":
            return module
        for item in target.split("."):
            if not hasattr(module, item):
                raise AttributeError(f"{module._get_name()} has no attribute `{item}`")
            module = getattr(module, item)
            if not isinstance(module, Module):
                raise AttributeError(f"`{item}` is not an nn.Module")
        return module

    def get_parameter(self, target):
        """The parameter at dotted path ``target`` (``"fc.weight"``)."""
        module_path, _, name = target.rpartition(".")
        module = self.get_submodule(module_path)
        if not hasattr(module, name):
            raise AttributeError(f"{module._get_name()} has no attribute `{name}`")
        param = getattr(module, name)
        if not isinstance(param, Parameter):
            raise AttributeError(f"`{name}` is not an nn.Parameter")
        return param

    def get_buffer(self, target):
        """The buffer at dotted path ``target`` (``"bn.running_mean"``)."""
        module_path, _, name = target.rpartition(".")
        module = self.get_submodule(module_path)
        if not hasattr(module, name):
            raise AttributeError(f"{module._get_name()} has no attribute `{name}`")
        if name not in module._buffers:
            raise AttributeError(f"`{name}` is not a buffer")
        return getattr(module, name)

    def apply(self, fn):
        """Calls ``fn`` on every submodule, then on this module; returns self."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # Modes and gradients ----------------------------------------------------

    def train(self, mode=True):
        """Sets training mode (Dropout drops) on this module and every
        submodule; returns self."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self):
        """``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        for param in self.parameters():
            param.requires_grad = requires_grad
        return self

    def zero_grad(self, set_to_none=True):
        """Clears ``.grad`` of every parameter: sets it to None, or (with
        ``set_to_none=False``) fills it with zeros."""
        for param in self.parameters():
            if getattr(param, "grad", None) is None:
                continue
            if set_to_none:
                param.grad = None
            else:
                param.grad.zero_()

    # Conversions ------------------------------------------------------------

    def _apply_to_tensors(self, fn):
        """Replaces every parameter and buffer ``t`` by ``fn(t)`` (parameters
        stay Parameters with their ``requires_grad``)."""
        for module in self.modules():
            for name, param in module._parameters.items():
                if param is not None:
                    module._parameters[name] = Parameter(fn(param), param.requires_grad)
            for name, buffer in module._buffers.items():
                if buffer is not None:
                    module._buffers[name] = fn(buffer)
        return self

    def to(self, *args, **kwargs):
        """Converts floating-point parameters and buffers (``to(dtype)``;
        ``to("cpu")`` is a no-op). Unlike torch, converted parameters are new
        Parameter objects: convert before building an optimizer."""
        return self._apply_to_tensors(
            lambda t: t.to(*args, **kwargs) if t.is_floating_point() else t)

    def float(self):
        return self._apply_to_tensors(lambda t: t.float() if t.is_floating_point() else t)

    def double(self):
        return self._apply_to_tensors(lambda t: t.double() if t.is_floating_point() else t)

    def half(self):
        return self._apply_to_tensors(lambda t: t.half() if t.is_floating_point() else t)

    def bfloat16(self):
        return self._apply_to_tensors(
            lambda t: t.bfloat16() if t.is_floating_point() else t)

    def cpu(self):
        return self

    def type(self, dst_type):
        """Casts every parameter and buffer to ``dst_type``."""
        return self._apply_to_tensors(lambda t: t.type(dst_type))

    def share_memory(self):
        """Moves every parameter, gradient and buffer into shared memory, in
        place (``Tensor.share_memory_()``): processes that receive the
        module through ``ember.multiprocessing`` (or are forked after this)
        read and update the same values (Hogwild training)."""
        for tensor in itertools.chain(self.parameters(), self.buffers()):
            tensor.share_memory_()
            if getattr(tensor, "grad", None) is not None:
                tensor.grad.share_memory_()
        return self

    # State dicts ------------------------------------------------------------

    def state_dict(self, destination=None, prefix="", keep_vars=False):
        """An ordered dict from dotted names to the parameters and persistent
        buffers (tensors sharing their storage; ``keep_vars`` keeps the
        Parameter objects themselves)."""
        for hook in (self.__dict__.get("_state_dict_pre_hooks") or {}).values():
            hook(self, prefix, keep_vars)
        if destination is None:
            destination = collections.OrderedDict()
        for name, param in self._parameters.items():
            if param is not None:
                destination[prefix + name] = param if keep_vars else param.detach()
        for name, buffer in self._buffers.items():
            if buffer is not None and name not in self._non_persistent_buffers:
                destination[prefix + name] = buffer if keep_vars else buffer.detach()
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(destination=destination, prefix=prefix + name + ".",
                                  keep_vars=keep_vars)
        local_metadata = {"version": getattr(self, "_version", 1)}
        for hook in (self.__dict__.get("_state_dict_hooks") or {}).values():
            result = hook(self, destination, prefix, local_metadata)
            if result is not None:
                destination = result
        return destination

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict,
                              missing_keys, unexpected_keys, error_msgs):
        """Loads this module's own parameters and persistent buffers from the
        ``prefix``ed keys of ``state_dict`` (torch's per-module step of
        ``load_state_dict``, after the load pre hooks)."""
        for hook in (self.__dict__.get("_load_state_dict_pre_hooks") or {}).values():
            hook(state_dict, prefix, local_metadata, strict, missing_keys,
                 unexpected_keys, error_msgs)
        local = [(n, p) for n, p in self._parameters.items() if p is not None]
        local += [(n, b) for n, b in self._buffers.items()
                  if b is not None and n not in self._non_persistent_buffers]
        with no_grad():
            for name, target in local:
                key = prefix + name
                if key not in state_dict:
                    missing_keys.append(key)
                    continue
                source = state_dict[key]
                if not isinstance(source, Tensor):
                    error_msgs.append(f'While copying the parameter named "{key}", expected '
                                      f"ember.Tensor from checkpoint but received "
                                      f"{type(source).__name__}")
                    continue
                if tuple(source.shape) != tuple(target.shape):
                    error_msgs.append(f"size mismatch for {key}: copying a param with shape "
                                      f"{source.shape} from checkpoint, the shape in current "
                                      f"model is {target.shape}.")
                    continue
                target.copy_(source)
        if strict:
            names = {n for n, _ in local}
            for key in state_dict.keys():
                if key.startswith(prefix):
                    head = key[len(prefix):].split(".", 1)[0]
                    if head not in self._modules and head not in names:
                        unexpected_keys.append(key)

    def load_state_dict(self, state_dict, strict=True):
        """Copies ``state_dict``'s tensors into the parameters and persistent
        buffers of the same names (converting dtype). A shape mismatch always
        raises RuntimeError naming the key; with ``strict``, so do missing
        and unexpected keys. Returns ``(missing_keys, unexpected_keys)``.
        Load pre hooks run per module before its entries load, post hooks
        after its submodules (torch's order)."""
        if not isinstance(state_dict, collections.abc.Mapping):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        missing, unexpected, errors = [], [], []
        state_dict = collections.OrderedDict(state_dict)

        def load(module, local_state_dict, prefix=""):
            module._load_from_state_dict(local_state_dict, prefix, {}, True, missing,
                                         unexpected, errors)
            for name, child in module._modules.items():
                if child is not None:
                    child_prefix = prefix + name + "."
                    load(child, {k: v for k, v in local_state_dict.items()
                                 if k.startswith(child_prefix)}, child_prefix)
            incompatible = _IncompatibleKeys(missing, unexpected)
            for hook in (module.__dict__.get("_load_state_dict_post_hooks") or {}).values():
                if hook(module, incompatible) is not None:
                    raise AssertionError(
                        "Hooks registered with ``register_load_state_dict_post_hook`` are "
                        "not expected to return new values, if incompatible_keys need to "
                        "be modified, it should be done inplace.")

        load(self, state_dict)
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: "
                              + ", ".join(f'"{k}"' for k in unexpected) + ". ")
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: "
                              + ", ".join(f'"{k}"' for k in missing) + ". ")
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {self._get_name()}:\n\t"
                               + "\n\t".join(errors))
        return _IncompatibleKeys(missing, unexpected)

    # Printing ---------------------------------------------------------------

    def _get_name(self):
        return type(self).__name__

    def extra_repr(self):
        """The text inside this module's parentheses in ``repr``; subclasses
        override it (``in_features=4, out_features=3, bias=True``)."""
        return ""

    def __repr__(self):
        lines = []
        extra = self.extra_repr()
        if extra:
            lines = extra.split("\n")
        for name, module in self._modules.items():
            lines.append(f"({name}): " + _add_indent(repr(module), 2))
        text = self._get_name() + "("
        if lines:
            if len(lines) == 1 and not self._modules:
                text += lines[0]
            else:
                text += "\n  " + "\n  ".join(lines) + "\n"
        return text + ")"
