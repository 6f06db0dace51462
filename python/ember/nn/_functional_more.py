"""More of ``nn.functional``: activations, distances and losses written as
compositions of Ember ops (so each gets autograd and fusion for free).
Re-exported by ember.nn.functional."""

import math

import ember

_decomp = ember._decomp
# functional.py imports this module at its end, so its helpers exist by now.
from ember.nn.functional import _legacy_reduction, _reduce  # noqa: E402


def _inplace(input, result, inplace):
    if inplace:
        input.copy_(result)
        return input
    return result


# --- Activations ------------------------------------------------------------

def relu6(input, inplace=False):
    return _inplace(input, ember.clamp(input, 0, 6), inplace)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    if not input.is_floating_point():
        min_val, max_val = int(min_val), int(max_val)
    return _inplace(input, ember.clamp(input, min_val, max_val), inplace)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    return _inplace(input, ember.where(input > 0, input, input * negative_slope), inplace)


def elu(input, alpha=1.0, inplace=False):
    return _inplace(input, ember.where(input > 0, input, alpha * ember.expm1(input)),
                    inplace)


def celu(input, alpha=1.0, inplace=False):
    return _inplace(input, ember.where(input > 0, input,
                                       alpha * ember.expm1(input / alpha)), inplace)


def selu(input, inplace=False):
    alpha, scale = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
    return _inplace(input, scale * ember.where(input > 0, input,
                                               alpha * ember.expm1(input)), inplace)


def silu(input, inplace=False):
    return _inplace(input, input * ember.sigmoid(input), inplace)


def mish(input, inplace=False):
    return _inplace(input, input * ember.tanh(softplus(input)), inplace)


def hardsigmoid(input, inplace=False):
    return _inplace(input, ember.clamp(input / 6 + 0.5, 0, 1), inplace)


def hardswish(input, inplace=False):
    return _inplace(input, input * ember.clamp(input + 3, 0, 6) / 6, inplace)


def logsigmoid(input):
    # -softplus(-x), stable for large |x|.
    return -softplus(-input)


def softplus(input, beta=1, threshold=20):
    scaled = input * beta
    soft = ember.log1p(ember.exp(-ember.abs(scaled))) + ember.relu(scaled)
    return ember.where(scaled > threshold, input, soft / beta)


def softsign(input):
    return input / (1 + ember.abs(input))


def tanhshrink(input):
    return input - ember.tanh(input)


def softshrink(input, lambd=0.5):
    return ember.where(input > lambd, input - lambd,
                       ember.where(input < -lambd, input + lambd, 0.0))


def hardshrink(input, lambd=0.5):
    return ember.where((input > lambd) | (input < -lambd), input, 0.0)


def threshold(input, threshold, value, inplace=False):
    return _inplace(input, ember.where(input > threshold, input, value), inplace)


def glu(input, dim=-1):
    a, b = _decomp.chunk(input, 2, dim)
    return a * ember.sigmoid(b)


def prelu(input, weight):
    if weight.numel() != 1 and input.dim() > 1:
        shape = [1] * input.dim()
        shape[1] = weight.numel()
        weight = weight.reshape(shape)
    return ember.where(input > 0, input, weight * input)


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    x = input if dtype is None else input.to(dtype)
    return ember.softmax(-x, dim)


# --- Normalization and distances --------------------------------------------

def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    norm = _decomp.norm(input, p, dim, keepdim=True)
    return input / ember.clamp(norm, eps, None)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    dot = (x1 * x2).sum(dim)
    n1 = ember.clamp(_decomp.norm(x1, 2, dim), eps, None)
    n2 = ember.clamp(_decomp.norm(x2, 2, dim), eps, None)
    return dot / (n1 * n2)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    return _decomp.norm(x1 - x2 + eps, p, -1, keepdim=keepdim)


def pdist(input, p=2):
    n = input.shape[0]
    rows, cols = [], []
    for i in range(n):
        for j in range(i + 1, n):
            rows.append(i)
            cols.append(j)
    if not rows:
        return ember.zeros(0, dtype=input.dtype)
    a = ember.index_select(input, 0, _decomp._dev(ember.tensor(rows), input))
    b = ember.index_select(input, 0, _decomp._dev(ember.tensor(cols), input))
    return _decomp.norm(a - b, p, -1)


def one_hot(tensor, num_classes=-1):
    if tensor.dtype != ember.int64:
        raise RuntimeError("one_hot is only applicable to index tensor.")
    if num_classes < 0:
        num_classes = int(tensor.max().item()) + 1 if tensor.numel() else 0
    return (tensor.unsqueeze(-1) == _decomp._arange(num_classes, tensor)).to(ember.int64)


def pixel_shuffle(input, upscale_factor):
    r = upscale_factor
    *batch, c, h, w = input.shape
    x = input.reshape(list(batch) + [c // (r * r), r, r, h, w])
    n = len(batch)
    x = x.permute(list(range(n)) + [n, n + 3, n + 1, n + 4, n + 2])
    return x.reshape(list(batch) + [c // (r * r), h * r, w * r])


def pixel_unshuffle(input, downscale_factor):
    r = downscale_factor
    *batch, c, h, w = input.shape
    x = input.reshape(list(batch) + [c, h // r, r, w // r, r])
    n = len(batch)
    x = x.permute(list(range(n)) + [n, n + 2, n + 4, n + 1, n + 3])
    return x.reshape(list(batch) + [c * r * r, h // r, w // r])


def bilinear(input1, input2, weight, bias=None):
    result = ember.einsum("...i,oij,...j->...o", input1, weight, input2)
    return result if bias is None else result + bias


# --- Losses --------------------------------------------------------------------

def l1_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return _reduce(ember.abs(input - target), reduction)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean",
                   beta=1.0):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    diff = ember.abs(input - target)
    if beta == 0:
        return _reduce(diff, reduction)
    loss = ember.where(diff < beta, 0.5 * diff * diff / beta, diff - 0.5 * beta)
    return _reduce(loss, reduction)


def huber_loss(input, target, reduction="mean", delta=1.0):
    diff = ember.abs(input - target)
    loss = ember.where(diff < delta, 0.5 * diff * diff, delta * (diff - 0.5 * delta))
    return _reduce(loss, reduction)


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction="mean"):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"Using a target size ({ember.Size(target.shape)}) that is different "
                         f"to the input size ({ember.Size(input.shape)}) is deprecated. "
                         f"Please ensure they have the same size.")
    # torch clamps the logs at -100.
    log_p = ember.clamp(ember.log(input), -100, None)
    log_q = ember.clamp(ember.log(1 - input), -100, None)
    loss = -(target * log_p + (1 - target) * log_q)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None,
                                     reduce=None, reduction="mean", pos_weight=None):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"Target size ({ember.Size(target.shape)}) must be the same as "
                         f"input size ({ember.Size(input.shape)})")
    # (1 - t) x + (1 + (pw - 1) t) * softplus(-x), stable for any x.
    soft = softplus(-input)
    if pos_weight is not None:
        loss = (1 - target) * input + (1 + (pos_weight - 1) * target) * soft
    else:
        loss = (1 - target) * input + soft
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean",
           log_target=False):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if log_target:
        loss = ember.exp(target) * (target - input)
    else:
        loss = ember.where(target > 0, target * (ember.log(ember.where(
            target > 0, target, 1.0)) - input), 0.0)
    if reduction == "batchmean":
        return loss.sum() / input.shape[0] if input.dim() else loss.sum()
    return _reduce(loss, reduction)


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return _reduce(softplus(-target * input), reduction)


def margin_ranking_loss(input1, input2, target, margin=0, size_average=None,
                        reduce=None, reduction="mean"):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return _reduce(ember.relu(-target * (input1 - input2) + margin), reduction)


def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None,
                         reduction="mean"):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    positive = ember.where(target == 1, input, 0.0)
    negative = ember.where(target == -1, ember.relu(margin - input), 0.0)
    return _reduce(positive + negative, reduction)


def cosine_embedding_loss(input1, input2, target, margin=0, size_average=None,
                          reduce=None, reduction="mean"):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    eps = 1e-12
    dot = (input1 * input2).sum(-1)
    n1 = (input1 * input1).sum(-1) + eps
    n2 = (input2 * input2).sum(-1) + eps
    cos = dot / ember.sqrt(n1 * n2)
    loss = ember.where(target == 1, 1 - cos, ember.relu(cos - margin))
    return _reduce(loss, reduction)


def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None,
                     eps=1e-8, reduce=None, reduction="mean"):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if log_input:
        loss = ember.exp(input) - target * input
    else:
        loss = input - target * ember.log(input + eps)
    if full:
        stirling = target * ember.log(ember.where(target > 1, target, 1.0)) - target + \
            0.5 * ember.log(2 * math.pi * ember.where(target > 1, target, 1.0))
        loss = loss + ember.where(target > 1, stirling, 0.0)
    return _reduce(loss, reduction)


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    if tuple(var.shape) != tuple(input.shape):
        if tuple(input.shape[:-1]) == tuple(var.shape):
            var = var.unsqueeze(-1)
        elif not (tuple(input.shape[:-1]) == tuple(var.shape[:-1]) and var.shape[-1] == 1):
            raise ValueError("var is of incorrect size")
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction + " is not valid")
    # torch clamps under no_grad: the gradient reaches var as if unclamped.
    detached = var.detach()
    var = var + (ember.clamp(detached, eps, None) - detached)
    loss = 0.5 * (ember.log(var) + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None,
                                reduce=None, reduction="mean"):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    loss = -(target * logsigmoid(input) + (1 - target) * logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    loss = loss.mean(-1) if input.dim() else loss
    return _reduce(loss, reduction)


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6,
                        swap=False, size_average=None, reduce=None, reduction="mean"):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = ember.minimum(d_neg, pairwise_distance(positive, negative, p, eps))
    return _reduce(ember.relu(d_pos - d_neg + margin), reduction)


# Errors surface at the user's line (the trampoline drops the package's
# frames), as for ops bound from C++.
for _name, _fn in list(globals().items()):
    if callable(_fn) and not _name.startswith("_") and getattr(_fn, "__module__", None) == __name__:
        globals()[_name] = ember._ember._surface(_fn, _name)
