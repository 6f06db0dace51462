"""More of ``nn.functional``: rrelu, embedding_bag, ctc_loss and the margin
losses, as compositions of Ember ops (autograd, fusion and every device for
free). Re-exported by ember.nn.functional.

Lengths, offsets and CTC targets are read on the host: they choose the
shape of the computation (which rows form a bag, how many time steps an
alignment takes), as they do in torch's CPU kernels.
"""

import ember

# functional.py imports this module at its end, so its helpers exist by now.
from ember.nn.functional import _legacy_reduction, _reduce  # noqa: E402

_decomp = ember._decomp


def _host_list(value):
    """A tensor, sequence or number as a flat Python list of ints."""
    if isinstance(value, ember.Tensor):
        value = value.tolist()
    if isinstance(value, (int, float)):
        return [int(value)]
    return [int(v) for v in value]


def _on(tensor, like):
    return tensor if like.device.type == "cpu" else tensor.to(like.device)


# --- Activations ------------------------------------------------------------

def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    """Leaky ReLU with slope drawn from U(lower, upper) per element while
    ``training``, (lower + upper) / 2 otherwise."""
    if training:
        slope = ember.rand(tuple(input.shape), dtype=input.dtype, device=input.device)
        slope = slope * (upper - lower) + lower
    else:
        slope = (lower + upper) / 2
    result = ember.where(input >= 0, input, input * slope)
    if inplace:
        input.copy_(result)
        return input
    return result


# --- EmbeddingBag -------------------------------------------------------------

def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2,
                  scale_grad_by_freq=False, mode="mean", sparse=False,
                  per_sample_weights=None, include_last_offset=False, padding_idx=None):
    """Sums, means or maxes of bags of ``weight`` rows: a 2-D ``input`` is
    one bag per row; a 1-D one is cut into bags at ``offsets``. Entries
    equal to ``padding_idx`` are left out (also from a mean's count); an
    empty bag gives zeros. The bags are laid out as a padded (B, L) index
    matrix, so the reduction is one gather and one reduction."""
    if max_norm is not None or scale_grad_by_freq or sparse:
        raise NotImplementedError(
            "embedding_bag: max_norm, scale_grad_by_freq and sparse are not supported")
    if mode not in ("sum", "mean", "max"):
        raise ValueError(f"mode has to be one of sum, mean or max, but got {mode}")
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError(
            f"embedding_bag: per_sample_weights was not None. per_sample_weights is only "
            f"supported for mode='sum' (got mode='{mode}'). Please open a feature request "
            f"on GitHub.")
    if input.is_floating_point() or input.dtype == ember.bool:
        raise ValueError(f"input has to be an integer tensor, got {input.dtype}")
    if padding_idx is not None:
        rows = weight.shape[0]
        if not -rows <= padding_idx < rows:
            raise AssertionError("padding_idx must be within num_embeddings")
        padding_idx %= rows
    if input.dim() == 2:
        if offsets is not None:
            raise ValueError("if input is 2D, then offsets has to be None, as input is "
                             "treated is a mini-batch of fixed length sequences. However, "
                             "found offsets of type Tensor")
        bags, length = input.shape
        index = input
        present = ember.ones(tuple(input.shape), dtype=ember.bool, device=input.device)
        weights = per_sample_weights
    elif input.dim() == 1:
        if offsets is None:
            raise ValueError("offsets has to be a 1D Tensor but got None")
        starts = _host_list(offsets)
        if offsets.dim() != 1:
            raise ValueError("offsets has to be a 1D Tensor")
        total = input.shape[0]
        ends = starts[1:] + [total]
        if include_last_offset:
            starts, ends = starts[:-1], starts[1:]
        bags = len(starts)
        length = max([e - s for s, e in zip(starts, ends)] + [1])
        positions, mask = [], []
        for start, end in zip(starts, ends):
            for j in range(length):
                inside = start + j < end
                positions.append(start + j if inside else 0)
                mask.append(inside)
        positions = _on(ember.tensor(positions, dtype=ember.int64), input)
        present = _on(ember.tensor(mask, dtype=ember.bool), input).reshape(bags, length)
        if total == 0:
            index = ember.zeros((bags, length), dtype=input.dtype, device=input.device)
        else:
            index = input.index_select(0, positions).reshape(bags, length)
        weights = None
        if per_sample_weights is not None:
            weights = per_sample_weights.index_select(0, positions).reshape(bags, length)
    else:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension "
                         f"{input.dim()}")
    if padding_idx is not None:
        present = present & (index != padding_idx)
    dim = weight.shape[1]
    rows = weight.index_select(0, index.reshape(-1).to(ember.int64))
    rows = rows.reshape(bags, length, dim)
    keep = present.unsqueeze(-1)
    if mode == "max":
        picked = ember.where(keep, rows, float("-inf")).max(1)[0]
        return ember.where(present.any(1).unsqueeze(-1), picked, 0.0)
    if weights is not None:
        rows = rows * weights.unsqueeze(-1)
    total = ember.where(keep, rows, 0.0).sum(1)
    if mode == "sum":
        return total
    count = present.sum(1).to(weight.dtype).clamp(1, None)
    return total / count.unsqueeze(-1)


# --- CTC -----------------------------------------------------------------------

# Log-space minus infinity as a finite number: exp() of it is 0 and a sum of
# such terms keeps finite gradients (a true -inf makes log(0) and 0 * inf).
_LOG_ZERO = -1e30


def _log_sum_exp(*terms):
    top = terms[0]
    for term in terms[1:]:
        top = ember.maximum(top, term)
    top = top.detach()
    total = ember.exp(terms[0] - top)
    for term in terms[1:]:
        total = total + ember.exp(term - top)
    return top + ember.log(total)


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean",
             zero_infinity=False):
    """Connectionist Temporal Classification loss (Graves et al.): minus
    the log of the summed probability of every alignment of each target
    with its input. ``log_probs`` is (T, N, C) (or (T, C)) log-softmax
    output; ``targets`` (N, S) padded or 1-D concatenated. The forward
    (alpha) recursion runs in log space, one step per time step over the
    extended target (blanks between labels), all batch elements at once;
    autograd gives the gradient. "mean" divides each loss by its target
    length, then averages, as torch does."""
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    unbatched = log_probs.dim() == 2
    if unbatched:
        log_probs = log_probs.unsqueeze(1)
        targets = targets.unsqueeze(0) if targets.dim() == 1 else targets
    if log_probs.dim() != 3:
        raise RuntimeError(f"ctc_loss: expected log_probs to be 2-D or 3-D, got "
                           f"{log_probs.dim()}-D")
    steps, batch, classes = log_probs.shape
    input_lengths = _host_list(input_lengths)
    target_lengths = _host_list(target_lengths)
    if len(input_lengths) != batch or len(target_lengths) != batch:
        raise RuntimeError(f"ctc_loss: expected input_lengths and target_lengths of "
                           f"size {batch}")
    flat = _host_list(targets.reshape(-1))
    labels = []
    for b in range(batch):
        if targets.dim() == 2:
            start = b * targets.shape[1]
            if target_lengths[b] > targets.shape[1]:
                raise RuntimeError(f"Expected tensor to have size at least "
                                   f"{target_lengths[b]} at dimension 1, but got size "
                                   f"{targets.shape[1]}")
        else:
            start = sum(target_lengths[:b])
        labels.append(flat[start:start + target_lengths[b]])
        if input_lengths[b] > steps:
            raise RuntimeError(f"Expected input_lengths to have value at most {steps}, "
                               f"but got value {input_lengths[b]}")
    width = 2 * max(target_lengths + [0]) + 1
    # Extended targets: blank, l1, blank, l2, ..., blank (blank-padded);
    # a step may skip from s - 2 to s when l'_s is a label unlike l'_{s-2}.
    extended, skip = [], []
    for b in range(batch):
        ext = [blank] * width
        for i, label in enumerate(labels[b]):
            ext[2 * i + 1] = label
        extended.append(ext)
        skip.append([s >= 2 and ext[s] != blank and ext[s] != ext[s - 2] and
                     s < 2 * target_lengths[b] + 1 for s in range(width)])
    index = _on(ember.tensor(extended, dtype=ember.int64), log_probs)
    can_skip = _on(ember.tensor(skip, dtype=ember.bool), log_probs)
    # (T, N, width): the log-probability of each extended label at each step.
    emit = ember.gather(log_probs, 2, index.unsqueeze(0).expand(steps, batch, width))
    dtype = log_probs.dtype
    first = _on(ember.arange(width) < 2, log_probs).unsqueeze(0)
    alpha = ember.where(first, emit[0], _LOG_ZERO)
    lengths = _on(ember.tensor(input_lengths, dtype=ember.int64), log_probs).unsqueeze(1)
    one = ember.full((batch, 1), _LOG_ZERO, dtype=dtype, device=log_probs.device)
    two = ember.full((batch, 2), _LOG_ZERO, dtype=dtype, device=log_probs.device)
    # Every time step of log_probs, each masked by the input lengths: the
    # program's structure then does not depend on the lengths (nor on the
    # batch or target width, run-time sizes), so batches of one T share it.
    for t in range(1, steps):
        stay = alpha
        step = ember.cat([one, alpha[:, :-1]], 1)
        jump = ember.where(can_skip, ember.cat([two, alpha[:, :-2]], 1), _LOG_ZERO)
        advanced = _log_sum_exp(stay, step, jump) + emit[t]
        alpha = ember.where(lengths > t, advanced, alpha)
    last = [2 * n for n in target_lengths]
    before = [max(2 * n - 1, 0) for n in target_lengths]
    ends = _on(ember.tensor([last, before], dtype=ember.int64).t(), log_probs)
    final = ember.gather(alpha, 1, ends)
    has_label = _on(ember.tensor([n > 0 for n in target_lengths]), log_probs)
    final_before = ember.where(has_label, final[:, 1], _LOG_ZERO)
    loss = -_log_sum_exp(final[:, 0], final_before)
    # Empty inputs (length 0) have probability 1 for an empty target only.
    empty = [n == 0 for n in input_lengths]
    if any(empty):
        empty_mask = _on(ember.tensor(empty), log_probs)
        loss = ember.where(empty_mask & ~has_label, 0.0, loss)
        loss = ember.where(empty_mask & has_label, -_LOG_ZERO, loss)
    impossible = loss > -_LOG_ZERO / 10
    loss = ember.where(impossible, 0.0 if zero_infinity else float("inf"), loss)
    if reduction == "mean":
        divisor = _on(ember.tensor([max(n, 1) for n in target_lengths], dtype=dtype),
                      log_probs)
        return (loss / divisor).mean()
    if reduction == "sum":
        return loss.sum()
    return loss[0] if unbatched else loss


# --- Margin losses ---------------------------------------------------------------

def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None,
                      reduce=None, reduction="mean"):
    """Multi-class hinge loss: for each sample, the mean over classes
    i != y of ``max(0, margin - x[y] + x[i]) ** p`` (times ``weight[y]``)."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    if weight is not None and weight.dim() != 1:
        raise ValueError("weight must be one-dimensional")
    vector = input.dim() <= 1
    x = input.reshape(1, -1) if vector else input
    y = target.reshape(-1, 1).to(ember.int64)
    classes = x.shape[1]
    picked = ember.gather(x, 1, y)
    hinge = ember.relu(margin - picked + x)
    if p == 2:
        hinge = hinge * hinge
    if weight is not None:
        hinge = hinge * weight.index_select(0, y.reshape(-1)).unsqueeze(1)
    others = y != _on(ember.arange(classes), x).unsqueeze(0)
    loss = ember.where(others, hinge, 0.0).sum(1) / classes
    if vector and reduction == "none":
        loss = loss.reshape(tuple(target.shape))
    return _reduce(loss, reduction)


def multilabel_margin_loss(input, target, size_average=None, reduce=None,
                           reduction="mean"):
    """Multi-label hinge loss: ``target`` lists each sample's classes,
    ended by the first -1; the loss sums ``max(0, 1 - (x[j] - x[i]))`` over
    target classes j and non-target classes i, divided by the class count."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    vector = input.dim() <= 1
    x = input.reshape(1, -1) if vector else input
    y = target.reshape(x.shape).to(ember.int64)
    classes = x.shape[1]
    valid = ember.cumsum((y < 0).to(ember.int64), 1) == 0          # (N, C) over j
    picked = ember.gather(x, 1, y.clamp(0, classes - 1))            # x[y_j]
    arange = _on(ember.arange(classes), x)
    hits = (y.unsqueeze(2) == arange.reshape(1, 1, classes)) & valid.unsqueeze(2)
    is_target = hits.any(1)                                          # (N, C) over i
    hinge = ember.relu(1 - picked.unsqueeze(2) + x.unsqueeze(1))     # (N, j, i)
    counted = valid.unsqueeze(2) & ~is_target.unsqueeze(1)
    loss = ember.where(counted, hinge, 0.0).sum((1, 2)) / classes
    if vector and reduction == "none":
        loss = loss.reshape(())
    return _reduce(loss, reduction)


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None,
                                      margin=1.0, swap=False, reduction="mean"):
    """``max(d(a, p) - d(a, n) + margin, 0)`` with ``distance_function``
    (default: pairwise_distance); ``swap`` uses min(d(a, n), d(p, n))."""
    if margin <= 0:
        raise ValueError(f"TripletMarginWithDistanceLoss: expected margin to be greater "
                         f"than 0, got {margin} instead")
    if distance_function is None:
        from ember.nn.functional import pairwise_distance
        distance_function = pairwise_distance
    d_pos = distance_function(anchor, positive)
    d_neg = distance_function(anchor, negative)
    if swap:
        d_neg = ember.minimum(d_neg, distance_function(positive, negative))
    return _reduce(ember.relu(d_pos - d_neg + margin), reduction)


# Errors surface at the user's line, as for ops bound from C++.
for _name, _fn in list(globals().items()):
    if callable(_fn) and not _name.startswith("_") and getattr(_fn, "__module__", None) == __name__:
        globals()[_name] = ember._ember._surface(_fn, _name)
