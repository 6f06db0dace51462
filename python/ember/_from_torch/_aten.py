"""The aten half of the mapping table, for graphs from ``torch.export``
(PyTorch 2.x): an op is matched by its name (``aten.conv2d.default`` ->
``conv2d``, any overload). Most aten schemas are the torch functions' own
(``conv2d(input, weight, bias, stride, padding, dilation, groups)``), so the
op runs as the Ember function or Tensor method of that name; ``OVERRIDES``
adapts those whose arguments differ (``batch_norm``'s order, ``slice``,
``layer_norm``'s extra flag...)."""


import ember
import ember.nn.functional as EF


def _method(name):
    def call(self, *args, **kwargs):
        return getattr(self, name)(*args, **kwargs)
    call.__name__ = name
    return call


def _slice(x, dim=0, start=None, end=None, step=1):
    index = [slice(None)] * x.dim()
    size = x.shape[dim]
    if end is not None and end > size:
        end = size
    index[dim % x.dim()] = slice(start, end, step)
    return x[tuple(index)]


def _batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps,
                cudnn_enabled=True):
    return EF.batch_norm(input, running_mean, running_var, weight, bias, training, momentum,
                         eps)


def _bn_no_training(input, weight, bias, running_mean, running_var, momentum, eps):
    return (EF.batch_norm(input, running_mean, running_var, weight, bias, False, momentum,
                          eps), None, None)


def _layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5,
                cudnn_enable=True):
    return EF.layer_norm(input, normalized_shape, weight, bias, eps)


def _dropout(input, p=0.5, train=False):
    return EF.dropout(input, p, train)


def _sdpa(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
          enable_gqa=False):
    return EF.scaled_dot_product_attention(query, key, value, attn_mask, dropout_p, is_causal,
                                           scale=scale)


def _to(x, *args, dtype=None, **kwargs):
    for arg in args:
        if isinstance(arg, ember.dtype):
            dtype = arg
    return x if dtype is None else x.to(dtype)


def _embedding(weight, indices, padding_idx=-1, scale_grad_by_freq=False, sparse=False):
    from ember._from_torch._modules import exportable_embedding
    return exportable_embedding(indices, weight)


OVERRIDES = {
    "embedding": _embedding,
    "sym_size": lambda x, dim: x.shape[dim],
    "slice": _slice,
    "batch_norm": _batch_norm,
    "_native_batch_norm_legit_no_training": _bn_no_training,
    "layer_norm": _layer_norm,
    "dropout": _dropout,
    "scaled_dot_product_attention": _sdpa,
    "_assert_tensor_metadata": lambda *a, **k: None,
    "_assert_scalar": lambda *a, **k: None,
    "to": _to,
    "_to_copy": _to,
    "alias": lambda x: x,
    "detach": lambda x: x.detach(),
    "lift_fresh_copy": lambda x: x.clone(),
    "clone": lambda x, memory_format=None: x.clone(),
    "contiguous": lambda x, memory_format=None: x.contiguous(),
    "unflatten": lambda x, dim, sizes: x.unflatten(dim, tuple(sizes)),
    "hardtanh": lambda x, min_val=-1.0, max_val=1.0: EF.hardtanh(x, min_val, max_val),
    "mean": lambda x, dim=None, keepdim=False, dtype=None: (
        x.mean() if dim is None else x.mean(dim=dim, keepdim=keepdim)),
    "sum": lambda x, dim=None, keepdim=False, dtype=None: (
        x.sum() if dim is None else x.sum(dim=dim, keepdim=keepdim)),
}

# Ops whose aten schema is the Ember function's of the same name.
FUNCTION_NAMES = [
    "add", "sub", "mul", "div", "neg", "pow", "sqrt", "rsqrt", "exp", "log", "abs", "tanh",
    "sigmoid", "relu", "gelu", "silu", "hardswish", "hardsigmoid", "erf", "sin", "cos",
    "matmul", "bmm", "mm", "addmm", "linear", "conv1d", "conv2d", "conv3d",
    "conv_transpose1d", "conv_transpose2d", "cat", "stack", "softmax", "log_softmax",
    "max_pool2d", "avg_pool2d", "adaptive_avg_pool1d", "adaptive_avg_pool2d", "where",
    "maximum", "minimum", "clamp", "eq", "ne", "lt", "le", "gt", "ge", "logical_not",
    "arange", "zeros", "ones", "full", "zeros_like", "ones_like", "full_like",
    "masked_fill", "tril", "triu", "group_norm", "pad", "split", "chunk", "unbind",
    "einsum", "cumsum", "amax", "amin", "argmax", "var", "std", "baddbmm", "rsub",
    "leaky_relu", "elu", "softplus", "mish", "glu", "upsample_nearest2d",
    "upsample_bilinear2d", "pixel_shuffle", "roll", "flip", "index_select", "gather",
]
# Ops that run as the Ember Tensor's method of the same name.
METHOD_NAMES = [
    "view", "reshape", "permute", "transpose", "t", "expand", "unsqueeze", "squeeze",
    "flatten", "select", "narrow", "repeat", "type_as", "expand_as", "view_as",
    "reshape_as", "new_zeros", "new_ones", "float", "max", "min",
]


def _build():
    table = dict(OVERRIDES)
    for name in FUNCTION_NAMES:
        ours = getattr(EF, name, None) or getattr(ember, name, None)
        if ours is not None and name not in table:
            table[name] = ours
    for name in METHOD_NAMES:
        if callable(getattr(ember.Tensor, name, None)) and name not in table:
            table[name] = _method(name)
    return table


ATEN = _build()


def aten_name(target):
    """'conv2d' for aten.conv2d.default; None when target is no aten op."""
    text = str(target)
    if not text.startswith("aten."):
        return None
    return text.split(".")[1]


def resolve(target):
    """The Ember callable for an aten op, or None when unmapped."""
    name = aten_name(target)
    return ATEN.get(name) if name is not None else None


