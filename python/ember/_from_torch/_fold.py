"""BatchNorm folded into the convolution before it, for ``ember.from_torch``.

An exported program runs in eval mode, where BatchNorm is an affine map per
channel with its running statistics: y = (x - mean) * g / sqrt(var + eps) +
beta. Applied to a convolution's output x = w * input + b it is the same
convolution with

    w' = w * s,   b' = (b - mean) * s + beta,   s = g / sqrt(var + eps)

per output channel, so the program keeps one convolution with a bias (which
the CPU runs as one call with its bias and activation, ember-fuse-conv-
epilogue) instead of a convolution and a pass over its output. Only the
inference export does this: ``import_torch_module``'s trainable module keeps
its BatchNorm layers, which train (batch statistics, running averages).

Folded where the graph calls a Conv1d/2d/3d module whose output only a
BatchNorm module of running statistics reads, and each of the two modules is
called once and read nowhere else. The folded weights are new tensors
(computed in float64, stored in the weight's dtype); the torch module is not
changed. The BatchNorm becomes an Identity, so the program's weights hold
the folded conv weight and bias and no BatchNorm statistics.
"""

import collections

import numpy as np
import torch.fx as fx

import ember
from ember import nn

_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


def _array(tensor):
    return tensor.detach().numpy().astype(np.float64)


def _fold(conv, norm):
    weight = conv.weight
    dtype = weight.detach().numpy().dtype
    mean, var = _array(norm.running_mean), _array(norm.running_var)
    scale = 1.0 / np.sqrt(var + norm.eps)
    shift = np.zeros_like(mean)
    if norm.weight is not None:
        scale = scale * _array(norm.weight)
    if norm.bias is not None:
        shift = _array(norm.bias)
    bias = _array(conv.bias) if conv.bias is not None else np.zeros_like(mean)
    folded = _array(weight) * scale.reshape((-1,) + (1,) * (weight.dim() - 1))
    conv._parameters["weight"] = nn.Parameter(
        ember.from_numpy(np.ascontiguousarray(folded.astype(dtype))), False)
    conv._parameters["bias"] = nn.Parameter(
        ember.from_numpy(((bias - mean) * scale + shift).astype(dtype)), False)


def _replace(root, path, module):
    parent, _, name = path.rpartition(".")
    owner = root.get_submodule(parent) if parent else root
    owner.add_module(name, module)


def fold_batch_norms(imported):
    """Folds each BatchNorm that only normalizes a convolution's output into
    that convolution (``imported`` in eval mode, an fx-traced
    ImportedModule); returns how many were folded."""
    graph = getattr(imported, "_graph", None)
    if graph is None or getattr(imported, "_resolve_aten", None) is not None:
        return 0  # one converted layer, or torch.export's aten graph
    calls = collections.Counter(n.target for n in graph.nodes if n.op == "call_module")
    read = [n.target for n in graph.nodes if n.op == "get_attr"]

    def only_called(node):
        return (calls[node.target] == 1 and
                not any(t == node.target or t.startswith(node.target + ".") for t in read))

    folded = 0
    for node in graph.nodes:
        if node.op != "call_module" or len(node.args) != 1 or node.kwargs:
            continue
        norm = imported.get_submodule(node.target)
        source = node.args[0]
        if (type(norm) not in _NORMS or norm.training or norm.running_mean is None or
                norm.running_var is None or not isinstance(source, fx.Node) or
                source.op != "call_module" or len(source.users) != 1 or
                not only_called(node) or not only_called(source)):
            continue
        conv = imported.get_submodule(source.target)
        if type(conv) not in _CONVS or conv.out_channels != norm.num_features:
            continue
        _fold(conv, norm)
        _replace(imported, node.target, nn.Identity())
        folded += 1
    return folded
