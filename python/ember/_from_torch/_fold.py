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

The torch.export path (PyTorch 2.x) has no modules in its graph, only aten
ops: there ``aten.batch_norm`` (or ``_native_batch_norm_legit_no_training``
and its ``getitem(0)``) in eval mode reading the only result of an
``aten.conv1d/2d/3d`` or untransposed ``aten.convolution`` whose weight and
bias are read by that conv alone is folded the same way: the conv's weight
and bias attributes get the folded tensors (a conv without a bias gets one
at its module's ``bias``), the BatchNorm node goes and so does its state.
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


def _folded(weight, bias, mean, var, gamma, beta, eps):
    """The conv's weight and bias with the BatchNorm applied (ember
    Parameters in the weight's dtype); bias, gamma, beta may be None."""
    dtype = weight.detach().numpy().dtype
    mean, var = _array(mean), _array(var)
    scale = 1.0 / np.sqrt(var + eps)
    shift = np.zeros_like(mean)
    if gamma is not None:
        scale = scale * _array(gamma)
    if beta is not None:
        shift = _array(beta)
    bias = _array(bias) if bias is not None else np.zeros_like(mean)
    folded = _array(weight) * scale.reshape((-1,) + (1,) * (weight.dim() - 1))
    return (nn.Parameter(ember.from_numpy(np.ascontiguousarray(folded.astype(dtype))), False),
            nn.Parameter(ember.from_numpy(((bias - mean) * scale + shift).astype(dtype)), False))


def _fold(conv, norm):
    conv._parameters["weight"], conv._parameters["bias"] = _folded(
        conv.weight, conv.bias, norm.running_mean, norm.running_var, norm.weight, norm.bias,
        norm.eps)


def _replace(root, path, module):
    parent, _, name = path.rpartition(".")
    owner = root.get_submodule(parent) if parent else root
    owner.add_module(name, module)


def fold_batch_norms(imported):
    """Folds each BatchNorm that only normalizes a convolution's output into
    that convolution (``imported`` in eval mode, an fx-traced
    ImportedModule); returns how many were folded."""
    graph = getattr(imported, "_graph", None)
    if graph is None:
        return 0  # one converted layer
    if getattr(imported, "_resolve_aten", None) is not None:
        return _fold_aten(imported, graph)
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


# ------------------------------------------------------- torch.export graphs

_ATEN_CONVS = ("conv1d", "conv2d", "conv3d", "convolution")


def _attribute(node):
    """The state path a get_attr node reads, or None."""
    return node.target if isinstance(node, fx.Node) and node.op == "get_attr" else None


def _norm_of(node):
    """(input, weight, bias, mean, var, eps, replaced) of an eval-mode aten
    batch norm node, ``replaced`` the nodes whose uses become the conv's;
    None for any other node."""
    from ember._from_torch._aten import aten_name

    if node.op != "call_function" or node.kwargs:
        return None
    name = aten_name(node.target)
    args = node.args
    if name == "batch_norm" and len(args) >= 8 and args[5] is False:
        return args[0], args[1], args[2], args[3], args[4], args[7], [node]
    if name == "_native_batch_norm_legit_no_training" and len(args) == 7:
        users = list(node.users)
        if not all(u.op == "call_function" and "getitem" in str(u.target) and u.args[1] == 0
                   for u in users):
            return None
        return args[0], args[1], args[2], args[3], args[4], args[6], users
    return None


def _conv_of(node):
    """(weight node, bias node or None) of an aten convolution node whose
    result and parameters are read by nothing else; None otherwise."""
    from ember._from_torch._aten import aten_name

    if (not isinstance(node, fx.Node) or node.op != "call_function" or node.kwargs or
            aten_name(node.target) not in _ATEN_CONVS or len(node.users) != 1):
        return None
    args = node.args
    if aten_name(node.target) == "convolution" and (len(args) < 9 or args[6]):
        return None  # transposed
    weight = args[1]
    bias = args[2] if len(args) > 2 else None
    if _attribute(weight) is None or len(weight.users) != 1:
        return None
    if bias is not None and (_attribute(bias) is None or len(bias.users) != 1):
        return None
    return weight, bias


def _owner(imported, path):
    parent, _, name = path.rpartition(".")
    return (imported.get_submodule(parent) if parent else imported), name


def _forget(imported, graph, node):
    """Drops an unread get_attr node and the state it read."""
    if node is None or node.users:
        return
    owner, name = _owner(imported, node.target)
    graph.erase_node(node)
    if any(n.op == "get_attr" and n.target == node.target for n in graph.nodes):
        return
    owner._parameters.pop(name, None)
    if name in owner._buffers:
        del owner._buffers[name]
        owner._non_persistent_buffers.discard(name)


def _fold_aten(imported, graph):
    folded = 0
    norms = set()  # the folded norms' module paths
    for node in list(graph.nodes):
        norm = _norm_of(node)
        if norm is None:
            continue
        source, gamma, beta, mean, var, eps, replaced = norm
        conv = _conv_of(source)
        if (conv is None or _attribute(mean) is None or _attribute(var) is None or
                (gamma is not None and _attribute(gamma) is None) or
                (beta is not None and _attribute(beta) is None)):
            continue
        weight_node, bias_node = conv
        weight = imported._lookup(weight_node.target)
        if weight.shape[0] != imported._lookup(mean.target).shape[0]:
            continue
        state = lambda n: None if n is None else imported._lookup(n.target)  # noqa: E731
        new_weight, new_bias = _folded(weight, state(bias_node), state(mean), state(var),
                                       state(gamma), state(beta), eps)
        owner, name = _owner(imported, weight_node.target)
        if bias_node is None:
            # The conv's module holds a None bias (bias=False): the folded
            # bias goes there.
            if owner._parameters.get("bias", 0) is not None:
                continue
            bias_path = weight_node.target.rpartition(".")[0]
            bias_path = f"{bias_path}.bias" if bias_path else "bias"
            with graph.inserting_before(source):
                bias_node = graph.create_node("get_attr", bias_path)
            args = list(source.args) + [None] * max(0, 3 - len(source.args))
            args[2] = bias_node
            source.args = tuple(args)
        owner._parameters[name] = new_weight
        bias_owner, bias_name = _owner(imported, bias_node.target)
        bias_owner._parameters[bias_name] = new_bias
        for user in replaced:
            user.replace_all_uses_with(source)
        for user in replaced:
            if user is not node:
                graph.erase_node(user)
        graph.erase_node(node)
        for state_node in (gamma, beta, mean, var):
            _forget(imported, graph, state_node)
        norms.add(mean.target.rpartition(".")[0])
        folded += 1
    if folded:
        # The folded norms' num_batches_tracked (no node reads it in eval).
        for node in list(graph.nodes):
            parent, _, name = str(node.target).rpartition(".")
            if node.op == "get_attr" and name == "num_batches_tracked" and parent in norms:
                _forget(imported, graph, node)
        imported._reprogram()
    return folded
