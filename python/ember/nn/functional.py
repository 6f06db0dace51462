"""``nn.functional``: the stateless forms of the layers and losses.

Everything is written with ember tensor ops, so it traces lazily into the
program of the surrounding step. Differences from torch are noted per
function (class indices are not bounds-checked: that would read the targets
on the host and end the lazy program).
"""

import math

import ember

_REDUCTIONS = ("none", "mean", "sum")


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{reduction} is not a valid value for reduction")


def _legacy_reduction(size_average, reduce, reduction):
    """torch's deprecated ``size_average``/``reduce`` pair, when either is
    given, decides the reduction (both default to True)."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if size_average and reduce:
        return "mean"
    return "sum" if reduce else "none"


def linear(input, weight, bias=None):
    """``input @ weight.T + bias``; weight is (out_features, in_features)."""
    output = ember.matmul(input, weight.t())
    return output if bias is None else output + bias


def relu(input, inplace=False):
    if inplace:
        return input.clamp_(min=0)
    return ember.relu(input)


def gelu(input, approximate="none"):
    """x * Phi(x); ``approximate="tanh"`` uses
    0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
    if approximate == "none":
        return ember.gelu(input)
    if approximate == "tanh":
        inner = math.sqrt(2.0 / math.pi) * (input + 0.044715 * input * input * input)
        return 0.5 * input * (1.0 + ember.tanh(inner))
    raise ValueError(f"approximate argument must be either none or tanh, got {approximate}")


def tanh(input):
    return ember.tanh(input)


def sigmoid(input):
    return ember.sigmoid(input)


def _softmax_dim(name, dim):
    if dim is None:
        raise TypeError(f"{name}(): the dim argument is required (torch's implicit "
                        f"choice of dim is deprecated and not supported)")
    return dim


def softmax(input, dim=None, dtype=None):
    return ember.softmax(input, _softmax_dim("softmax", dim), dtype=dtype)


def log_softmax(input, dim=None, dtype=None):
    return ember.log_softmax(input, _softmax_dim("log_softmax", dim), dtype=dtype)


def _normalized_rows(name, input, normalized_shape, weight, bias):
    """Checks torch's shape rules and flattens ``normalized_shape`` into one
    innermost dim, the ``ember.layer_norm``/``rms_norm`` op's rows; returns
    the flattened input, weight and bias and the row length."""
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    normalized_shape = tuple(normalized_shape)
    count = len(normalized_shape)
    if count == 0 or tuple(input.shape[input.dim() - count:]) != normalized_shape:
        raise RuntimeError(
            f"Given normalized_shape={list(normalized_shape)}, expected input with shape "
            f"[*, {', '.join(str(d) for d in normalized_shape)}], but got input of size "
            f"{list(input.shape)}")
    for label, param in (("weight", weight), ("bias", bias)):
        if param is not None and tuple(param.shape) != normalized_shape:
            raise RuntimeError(
                f"Expected {label} to be of same shape as normalized_shape, but got "
                f"{label} of shape {list(param.shape)} and normalized_shape = "
                f"{list(normalized_shape)}")
    if count == 1:
        return input, weight, bias
    row = math.prod(normalized_shape)
    flat = input.reshape(*input.shape[:input.dim() - count], row)
    return (flat, None if weight is None else weight.reshape(row),
            None if bias is None else bias.reshape(row))


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalizes over the last ``len(normalized_shape)`` dims with the
    biased variance, then scales by ``weight`` and shifts by ``bias``: one
    ``ember.layer_norm`` op (on the CPU one trip through memory per row)."""
    rows, w, b = _normalized_rows("layer_norm", input, normalized_shape, weight, bias)
    output = ember._ember._layer_norm_rows(rows, w, b, float(eps))
    return output if rows is input else output.reshape(input.shape)


# torch.finfo(dtype).eps, rms_norm's default.
_EPS = {ember.float16: 2.0 ** -10, ember.bfloat16: 2.0 ** -7,
        ember.float32: 2.0 ** -23, ember.float64: 2.0 ** -52}


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """``input / sqrt(mean(input^2) + eps) * weight`` over the last
    ``len(normalized_shape)`` dims (torch 2.4's ``F.rms_norm``; ``eps=None``
    is ``finfo(input.dtype).eps``)."""
    rows, w, _ = _normalized_rows("rms_norm", input, normalized_shape, weight, None)
    if eps is None:
        eps = _EPS.get(input.dtype, _EPS[ember.float32])
    output = ember._ember._rms_norm_rows(rows, w, None, float(eps))
    return output if rows is input else output.reshape(input.shape)


def dropout(input, p=0.5, training=True, inplace=False):
    """Zeroes each element with probability ``p`` (ember.rand) and scales
    the rest by 1 / (1 - p); the identity unless ``training``."""
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        output = ember.zeros_like(input)
    else:
        keep = ember.rand(tuple(input.shape), device=input.device) < (1.0 - p)
        output = ember.where(keep, input * (1.0 / (1.0 - p)), 0.0)
    return input.copy_(output) if inplace else output


def embedding(input, weight, padding_idx=None):
    """Rows of ``weight`` picked by the integer tensor ``input``: the result
    has shape ``input.shape + (embedding_dim,)``. ``padding_idx`` only
    matters for gradients (and Embedding's initialization)."""
    if input.is_floating_point() or input.dtype == ember.bool:
        raise RuntimeError(
            f"Expected tensor for argument #1 'indices' to have one of the following scalar "
            f"types: Long, Int; but got {input.dtype} instead")
    rows = weight.index_select(0, input.reshape(-1))
    return rows.reshape(*input.shape, weight.shape[1])


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """Mean (or sum, or element-wise) squared difference."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    difference = input - target
    return _reduce(difference * difference, reduction)


def _class_mask(target, num_classes, ignore_index):
    """(..., C) bool: element [..., c] is target[...] == c. Targets outside
    [0, C) and ``ignore_index`` give rows of False."""
    mask = target.unsqueeze(-1) == ember.arange(num_classes, device=target.device)
    if 0 <= ignore_index < num_classes:
        mask = mask & (target != ignore_index).unsqueeze(-1)
    return mask


def _classes_last(input, target):
    """(N, C, d1, ...) input and (N, d1, ...) target -> (M, C) and (M,)."""
    if input.dim() == 1:
        return input.unsqueeze(0), target.reshape(1), True
    if input.dim() > 2:
        permutation = [0] + list(range(2, input.dim())) + [1]
        input = input.permute(*permutation).reshape(-1, input.shape[1])
        target = target.reshape(-1)
    return input, target, False


def _check_targets(input, target):
    expected = tuple(input.shape[:1]) + tuple(input.shape[2:]) if input.dim() > 1 else ()
    if tuple(target.shape) != expected:
        raise ValueError(f"Expected target size {list(expected)}, got {list(target.shape)}")
    if target.is_floating_point() or target.dtype == ember.bool:
        raise RuntimeError(f"expected scalar type Long but found {target.dtype}")


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean"):
    """The negative of ``input[i, target[i]]`` (log-probabilities, classes on
    dim 1), weighted by ``weight[target[i]]``; targets equal to
    ``ignore_index`` count for nothing, also in the mean's denominator."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    _check_targets(input, target)
    shape = tuple(target.shape)
    logp, flat_target, _ = _classes_last(input, target)
    num_classes = logp.shape[1]
    mask = _class_mask(flat_target, num_classes, ignore_index)
    picked = ember.where(mask, logp, 0.0).sum(-1)
    if weight is None:
        row_weight = mask.sum(-1).to(logp.dtype)
    else:
        row_weight = ember.where(mask, weight, 0.0).sum(-1)
    loss = -(picked * row_weight) if weight is not None else -picked
    if reduction == "none":
        return loss.reshape(*shape)
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / row_weight.sum()


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100,
                  reduce=None, reduction="mean", label_smoothing=0.0):
    """``nll_loss(log_softmax(input, 1), target)`` for class indices
    (classes on dim 1, or the only dim); a floating ``target`` of the
    input's shape holds class probabilities instead. ``label_smoothing``
    mixes in the uniform distribution, as in torch. Logits with int64
    class indices and no smoothing take one ``ember.cross_entropy_rows``
    op: on the CPU each row of logits read once forward and once backward;
    on a GPU ember-decompose expands it into primitives."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be between 0.0 and 1.0. Got: "
                         f"{label_smoothing}")
    if _cross_entropy_in_rows(input, target, weight, label_smoothing):
        return _cross_entropy_rows(input, target, weight, ignore_index, reduction)
    class_dim = 0 if input.dim() == 1 else 1
    logp = ember.log_softmax(input, class_dim)
    num_classes = input.shape[class_dim]
    if target.is_floating_point():
        return _cross_entropy_with_probabilities(logp, target, weight, reduction,
                                                 label_smoothing, class_dim)
    loss = nll_loss(logp, target, weight, ignore_index=ignore_index, reduction=reduction)
    if label_smoothing == 0.0:
        return loss
    # The smoothing term: -sum_c w_c logp_c / C for each kept target.
    _check_targets(input, target)
    flat_logp, flat_target, _ = _classes_last(logp, target)
    mask = _class_mask(flat_target, num_classes, ignore_index)
    kept = mask.sum(-1) > 0
    terms = flat_logp if weight is None else flat_logp * weight
    smooth = ember.where(kept, -terms.sum(-1), 0.0)
    if reduction == "none":
        smooth = smooth.reshape(*target.shape)
    elif reduction == "sum":
        smooth = smooth.sum()
    else:
        if weight is None:
            denominator = kept.sum()
        else:
            denominator = ember.where(mask, weight, 0.0).sum()
        smooth = smooth.sum() / denominator
    return (1.0 - label_smoothing) * loss + smooth * (label_smoothing / num_classes)


def _cross_entropy_in_rows(input, target, weight, label_smoothing):
    """Whether cross_entropy takes the fused row op: float logits (on any
    device, the target on the same one) with classes on dim 1 (or the only
    dim), int64 class indices of the matching shape, no label smoothing, a weight (if any) of C elements of
    the input's dtype. The other cases compose log_softmax and nll_loss."""
    expected = (tuple(input.shape[:1]) + tuple(input.shape[2:])
                if input.dim() > 1 else ())
    return (input.dim() >= 1 and input.is_floating_point()
            and target.dtype == ember.int64 and tuple(target.shape) == expected
            and target.device == input.device and label_smoothing == 0.0
            and (weight is None or (weight.dim() == 1 and weight.dtype == input.dtype
                                    and tuple(weight.shape) == (input.shape[0 if input.dim() == 1 else 1],))))


def _cross_entropy_rows(input, target, weight, ignore_index, reduction):
    """cross_entropy as one ``ember.cross_entropy_rows`` op (each row of
    logits read once forward and once backward, rows in parallel), then the
    weighting and reduction on the (N,) losses. Classes not on the last
    dim ((N, C, d1, ...)) are moved there first (one copy)."""
    shape = tuple(target.shape)
    input, target, _ = _classes_last(input, target)
    loss = ember._ember._cross_entropy_rows(input, target, int(ignore_index))
    num_classes = input.shape[1]
    kept = (target >= 0) & (target < num_classes)
    if 0 <= ignore_index < num_classes:
        kept = kept & (target != ignore_index)
    if weight is None:
        row_weight = kept.to(input.dtype)
    else:
        picked = weight[target.clamp(0, max(num_classes - 1, 0))]
        row_weight = ember.where(kept, picked, 0.0)
        loss = loss * row_weight
    if reduction == "none":
        return loss.reshape(*shape)
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / row_weight.sum()


def _cross_entropy_with_probabilities(logp, target, weight, reduction, label_smoothing,
                                      class_dim):
    if tuple(target.shape) != tuple(logp.shape):
        raise RuntimeError(f"Expected target of the input's shape {list(logp.shape)} for "
                           f"class probabilities, got {list(target.shape)}")
    num_classes = logp.shape[class_dim]
    if label_smoothing > 0.0:
        target = target * (1.0 - label_smoothing) + label_smoothing / num_classes
    terms = logp * target
    if weight is not None:
        shape = [1] * logp.dim()
        shape[class_dim] = num_classes
        terms = terms * weight.reshape(*shape)
    loss = -terms.sum(class_dim)
    if reduction == "mean":
        # torch divides by the batch size (every element but the classes).
        return loss.sum() / (logp.numel() // num_classes)
    return _reduce(loss, reduction)


from ember.nn._functional_more import *  # noqa: E402,F401,F403
from ember.nn._functional_nn import *  # noqa: E402,F401,F403
from ember.nn._padding import pad  # noqa: E402,F401
from ember.nn._pooling import (  # noqa: E402,F401
    adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_max_pool1d,
    adaptive_max_pool1d_with_indices, adaptive_max_pool2d, adaptive_max_pool2d_with_indices,
    avg_pool1d, avg_pool2d, max_pool1d, max_pool1d_with_indices, max_pool2d,
    max_pool2d_with_indices)
from ember.nn._batchnorm import (  # noqa: E402,F401
    batch_norm, group_norm, instance_norm, local_response_norm)
from ember.nn._dropout import dropout1d, dropout2d, dropout3d  # noqa: E402,F401
from ember.nn._fold import fold, unfold  # noqa: E402,F401
from ember.nn._resize import (  # noqa: E402,F401
    interpolate, upsample, upsample_bilinear, upsample_nearest)
from ember.nn._conv import (  # noqa: E402,F401
    conv1d, conv2d, conv3d, conv_transpose1d, conv_transpose2d, conv_transpose3d)
from ember.nn._attention import (  # noqa: E402,F401
    multi_head_attention_forward, scaled_dot_product_attention)
