"""The call_module half of the mapping table: torch.nn leaf modules, each
converted to the ``ember.nn`` module of the same name with the same
configuration; its parameters and buffers keep their state_dict keys.

Ember's modules take PyTorch's constructor arguments, and torch modules keep
those arguments as attributes of the same name (``in_channels``, ``stride``,
``eps``...), so one generic converter reads the constructor's signature and
fills it from the torch module; ``_ARGUMENTS`` holds the few that are not
stored under their own name (``bias=`` is a tensor or None; a transformer
layer keeps its sizes in its sublayers). Modules torch.nn has and ember.nn
lacks are written here in terms of Ember's functional ops (padding).
Containers (Sequential, ModuleList, ModuleDict) are not in the table: the
tracer goes through them.
"""

import inspect

import torch

import ember
import ember.nn.functional as EF
from ember import nn

from ember._from_torch._weights import to_ember


class _Pad(nn.Module):
    """ZeroPad2d, ConstantPad*, ReflectionPad*, ReplicationPad* as F.pad."""

    def __init__(self, padding, mode, value=0.0):
        super().__init__()
        self.padding, self.mode, self.value = tuple(padding), mode, value

    def forward(self, input):
        return EF.pad(input, self.padding, self.mode, self.value)

    def extra_repr(self):
        return f"padding={self.padding}, mode={self.mode!r}, value={self.value}"


def _pad_converter(mode):
    def convert(m, _convert):
        return _Pad(m.padding, mode, getattr(m, "value", 0.0))
    return convert


class _ExportableEmbedding(nn.Embedding):
    """nn.Embedding whose lookup also exports. Ember's gathers read the
    indices on the host (to check their bounds), which an exported program
    cannot do, so while exporting the lookup is a one-hot product: each index
    compared with every row number, times the table. It costs
    tokens x rows x dim multiply-adds (fine for the vocabularies of small
    models); an out-of-range index gives a zero row where torch raises."""

    def forward(self, input):
        return exportable_embedding(input, self.weight, super().forward)


def exportable_embedding(input, weight, eager=None):
    """F.embedding(input, weight), as a one-hot product while exporting."""
    from ember import _export
    if not _export.exporting():
        return eager(input) if eager is not None else EF.embedding(input, weight)
    rows = ember.arange(weight.shape[0], dtype=input.dtype)
    one_hot = (input.unsqueeze(-1) == rows).to(weight.dtype)
    return one_hot @ weight


def _activation(value, convert):
    """A transformer layer's activation: F.relu / F.gelu or a module."""
    from ember._from_torch._functions import FUNCTIONS
    if isinstance(value, torch.nn.Module):
        return convert(value, "activation")
    if value in FUNCTIONS:
        return FUNCTIONS[value][0]
    if isinstance(value, str):
        return value
    raise NotImplementedError(f"activation {value!r} has no Ember mapping")


def _layer_arguments(m, convert):
    return {"d_model": m.self_attn.embed_dim, "nhead": m.self_attn.num_heads,
            "dim_feedforward": m.linear1.out_features, "dropout": m.dropout.p,
            "activation": _activation(m.activation, convert),
            "layer_norm_eps": m.norm1.eps, "batch_first": m.self_attn.batch_first,
            "norm_first": m.norm_first}


def _stack_arguments(m, convert):
    return {"num_layers": len(m.layers), "norm": convert(m.norm, "norm") if m.norm is not None
            else None}


# {torch class name: function(torch module, convert) -> {argument: value}}
_ARGUMENTS = {
    "MultiheadAttention": lambda m, c: {
        "bias": m.in_proj_bias is not None, "add_bias_kv": m.bias_k is not None},
    "TransformerEncoderLayer": _layer_arguments,
    "TransformerDecoderLayer": _layer_arguments,
    "TransformerEncoder": lambda m, c: dict(
        _stack_arguments(m, c), encoder_layer=c(m.layers[0], "layers.0"),
        enable_nested_tensor=False),
    "TransformerDecoder": lambda m, c: dict(
        _stack_arguments(m, c), decoder_layer=c(m.layers[0], "layers.0")),
}
# Constructor arguments a torch module does not keep; their defaults serve.
_SKIPPED = {"self", "device", "dtype", "_weight", "_freeze", "init"}


def _generic(ember_class):
    signature = inspect.signature(ember_class.__init__)

    def convert(m, convert_child):
        special = _ARGUMENTS.get(type(m).__name__, lambda m, c: {})(m, convert_child)
        arguments = {}
        for name, parameter in signature.parameters.items():
            if name in _SKIPPED or parameter.kind in (parameter.VAR_POSITIONAL,
                                                      parameter.VAR_KEYWORD):
                continue
            if name in special:
                arguments[name] = special[name]
            elif hasattr(m, name):
                value = getattr(m, name)
                if isinstance(value, torch.Tensor) or (value is None and name == "bias"):
                    value = value is not None  # bias=: whether the module has one
                elif isinstance(value, torch.nn.Module) or callable(value):
                    continue
                arguments[name] = value
            elif parameter.default is parameter.empty:
                raise NotImplementedError(
                    f"cannot convert {type(m).__name__}: its ember.nn form needs "
                    f"'{name}', which the torch module does not keep")
        return ember_class(**arguments)
    return convert


def _build():
    table = {}
    # Containers are traced through; nn.Transformer (not converted yet) too.
    containers = {"Module", "Transformer", "Sequential", "ModuleList", "ModuleDict", "ParameterList",
                  "ParameterDict", "Container", "RNNBase", "RNNCellBase"}
    for name in dir(torch.nn):
        cls = getattr(torch.nn, name)
        if not (inspect.isclass(cls) and issubclass(cls, torch.nn.Module)) or name in containers:
            continue
        ours = getattr(nn, name, None)
        if inspect.isclass(ours) and issubclass(ours, nn.Module):
            table[cls] = (_generic(ours), f"torch.nn.{name}")
    table[torch.nn.Embedding] = (_generic(_ExportableEmbedding), "torch.nn.Embedding")
    for name, mode in (("ZeroPad2d", "constant"), ("ConstantPad1d", "constant"),
                       ("ConstantPad2d", "constant"), ("ConstantPad3d", "constant"),
                       ("ReflectionPad1d", "reflect"), ("ReflectionPad2d", "reflect"),
                       ("ReflectionPad3d", "reflect"), ("ReplicationPad1d", "replicate"),
                       ("ReplicationPad2d", "replicate"), ("ReplicationPad3d", "replicate")):
        if hasattr(torch.nn, name):
            table[getattr(torch.nn, name)] = (_pad_converter(mode), f"torch.nn.{name}")
    return table


MODULES = _build()


def is_leaf_type(cls):
    return cls in MODULES


def _set_tensor(module, path, tensor, is_parameter, persistent=True):
    *owners, name = path.split(".")
    for owner in owners:
        module = getattr(module, owner)
    if is_parameter:
        if tensor is None:
            module._parameters[name] = None
        else:
            module._parameters[name] = nn.Parameter(to_ember(tensor), tensor.requires_grad)
    else:
        module.register_buffer(name, None if tensor is None else to_ember(tensor), persistent)


def copy_state(torch_module, ember_module, where):
    """Replaces ember_module's parameters and buffers by views of torch_module's,
    path by path; the two must have the same state_dict keys."""
    theirs = set(torch_module.state_dict().keys())
    ours = set(ember_module.state_dict().keys())
    if theirs != ours:
        raise NotImplementedError(
            f"ember.from_torch: the Ember form of {type(torch_module).__name__} at "
            f"'{where}' has state_dict keys {sorted(ours ^ theirs)} that differ from "
            f"torch's")
    for name, p in torch_module.named_parameters():
        _set_tensor(ember_module, name, p, True)
    for owner_path, owner in torch_module.named_modules():
        for name, b in owner._buffers.items():
            path = f"{owner_path}.{name}" if owner_path else name
            _set_tensor(ember_module, path, b, False,
                        name not in owner._non_persistent_buffers_set)


def convert_module(torch_module, where=""):
    """The ember.nn module for a torch.nn leaf module (its weights shared)."""
    converter, _ = MODULES[type(torch_module)]

    def convert_child(child, name):
        return convert_module(child, f"{where}.{name}" if where else name)

    ember_module = converter(torch_module, convert_child)
    copy_state(torch_module, ember_module, where)
    ember_module.train(torch_module.training)
    return ember_module
