"""Attention functionals: ``F.scaled_dot_product_attention`` (torch 2.x's)
and ``F.multi_head_attention_forward`` (torch 1.13's), the latter what
``nn.MultiheadAttention`` runs.

Without dropout, scaled_dot_product_attention is one ``ember.attention`` op
(and its backward ``ember.attention_backward``): on the CPU a blocked,
online-softmax loop over the keys that never holds the L x S scores; on the
GPUs ``ember-decompose`` rewrites it into matmul + softmax. With dropout it
is composed from matmul, softmax and dropout, as torch's math path does.
"""

import math

import ember

_NEG_INF = float("-inf")


def _additive_mask(attn_mask, dtype):
    """torch 2.x's mask: a bool mask keeps where True (-inf elsewhere), a
    float mask is added to the scores."""
    if attn_mask.dtype == ember.bool:
        return ember.where(attn_mask, 0.0, _NEG_INF).to(dtype)
    if not attn_mask.is_floating_point():
        raise RuntimeError(f"scaled_dot_product_attention: expected attn_mask dtype to be "
                           f"bool or float, got {attn_mask.dtype}")
    return attn_mask.to(dtype) if attn_mask.dtype != dtype else attn_mask


def _check(query, key, value):
    if query.dim() < 2 or key.dim() < 2 or value.dim() < 2:
        raise RuntimeError("scaled_dot_product_attention: query, key and value must have "
                           "at least 2 dims (..., L, E), (..., S, E), (..., S, Ev)")
    if query.dtype != key.dtype or query.dtype != value.dtype:
        raise RuntimeError(f"Expected query, key, and value to have the same dtype, but got "
                           f"query.dtype: {query.dtype} key.dtype: {key.dtype} and "
                           f"value.dtype: {value.dtype} instead.")
    if not query.is_floating_point():
        raise RuntimeError(f"scaled_dot_product_attention: expected a floating dtype, got "
                           f"{query.dtype}")
    if query.shape[-1] != key.shape[-1]:
        raise RuntimeError(f"scaled_dot_product_attention: query and key must have the same "
                           f"embedding size, got {query.shape[-1]} and {key.shape[-1]}")
    if key.shape[-2] != value.shape[-2]:
        raise RuntimeError(f"scaled_dot_product_attention: key and value must have the same "
                           f"sequence length, got {key.shape[-2]} and {value.shape[-2]}")


def _composed_attention(query, key, value, mask, dropout_p, is_causal, scale):
    """softmax(q @ k^T * scale + mask) (dropped out) @ v, as torch's math
    path computes it."""
    scores = ember.matmul(query, key.transpose(-2, -1)) * scale
    if is_causal:
        length, source = query.shape[-2], key.shape[-2]
        keep = ember.ones(length, source, dtype=ember.bool, device=query.device).tril()
        scores = scores.masked_fill(keep.logical_not(), _NEG_INF)
    if mask is not None:
        scores = scores + mask
    weights = ember.softmax(scores, -1)
    if dropout_p > 0.0:
        from ember.nn import functional as F
        weights = F.dropout(weights, dropout_p, True)
    return ember.matmul(weights, value)


def _broadcast_batch(query, key, value, mask):
    """Broadcasts the batch dims (all but the last two) of q, k, v (and the
    mask's) to one shape; returns the tensors and that shape."""
    shapes = [tuple(t.shape[:-2]) for t in (query, key, value)]
    if mask is not None:
        shapes.append(tuple(mask.shape[:-2]))
    batch = tuple(ember.broadcast_shapes(*shapes)) if shapes else ()

    def expand(t):
        target = batch + tuple(t.shape[-2:])
        return t if tuple(t.shape) == target else t.expand(*target)
    return expand(query), expand(key), expand(value), batch


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None):
    """``softmax(query @ key^T * scale + mask) @ value`` over the last two
    dims: query (..., L, E), key (..., S, E), value (..., S, Ev), batch dims
    broadcast. ``attn_mask`` is bool (attend where True) or float (added),
    broadcastable to (..., L, S); ``is_causal`` masks key j > query i (the
    top-left aligned lower triangle, as torch); ``scale`` defaults to
    1 / sqrt(E). ``dropout_p`` drops attention weights (always, as torch's
    functional does)."""
    _check(query, key, value)
    if is_causal and attn_mask is not None:
        raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be "
                           "set when is_causal=True")
    if dropout_p < 0.0 or dropout_p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {dropout_p}")
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else float(scale)
    mask = None if attn_mask is None else _additive_mask(attn_mask, query.dtype)
    fused = getattr(ember._ember, "_attention", None)
    if dropout_p > 0.0 or fused is None:
        return _composed_attention(query, key, value, mask, dropout_p, is_causal, scale)
    q, k, v, batch = _broadcast_batch(query, key, value, mask)
    if mask is not None:
        scores = (query.shape[-2], key.shape[-2])
        if all(d == 1 for d in mask.shape[:-2]):
            # One mask for every batch item: no copy per item.
            mask = mask.reshape(*((1,) * len(batch) + tuple(mask.shape[-2:])))
            if tuple(mask.shape[-2:]) != scores:
                mask = mask.expand(*((1,) * len(batch) + scores))
        elif tuple(mask.shape) != batch + scores:
            mask = mask.expand(*(batch + scores))
    return fused(q, k, v, mask, bool(is_causal), scale)


def _float_mask(mask, dtype):
    """torch 1.13's MHA masks: bool True (or uint8 nonzero) masks out with
    -inf, float is added."""
    if getattr(ember, "uint8", None) is not None and mask.dtype == ember.uint8:
        mask = mask.to(ember.bool)
    if mask.dtype == ember.bool:
        return ember.where(mask, _NEG_INF, 0.0).to(dtype)
    if not mask.is_floating_point():
        raise AssertionError(f"only bool and floating types of masks are supported, "
                             f"got {mask.dtype}")
    return mask.to(dtype)


def _pad_last(t):
    """One more column of zeros (torch's pad(mask, (0, 1)))."""
    zeros = ember.zeros(*t.shape[:-1], 1, dtype=t.dtype, device=t.device)
    return ember.cat([t, zeros], dim=-1)


def multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads,
                                 in_proj_weight, in_proj_bias, bias_k, bias_v,
                                 add_zero_attn, dropout_p, out_proj_weight, out_proj_bias,
                                 training=True, key_padding_mask=None, need_weights=True,
                                 attn_mask=None, use_separate_proj_weight=False,
                                 q_proj_weight=None, k_proj_weight=None, v_proj_weight=None,
                                 static_k=None, static_v=None, average_attn_weights=True,
                                 is_causal=False):
    """torch 1.13's ``F.multi_head_attention_forward`` on sequence-first
    inputs (L, N, E) (or unbatched (L, E)); masks as torch 1.13's: a bool
    ``attn_mask``/``key_padding_mask`` masks out where True, a float one is
    added. Returns (output, weights or None)."""
    from ember.nn import functional as F
    if static_k is not None or static_v is not None:
        raise NotImplementedError("multi_head_attention_forward: static_k/static_v are "
                                  "not supported")
    is_batched = query.dim() == 3
    if not is_batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    tgt_len, bsz, embed_dim = query.shape
    if embed_dim != embed_dim_to_check:
        raise AssertionError(f"was expecting embedding dimension of {embed_dim_to_check}, "
                             f"but got {embed_dim}")
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise AssertionError(f"embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use "
                           "the Transformer module method `generate_square_subsequent_mask` "
                           "to create this mask.")

    # In-projection.
    if not use_separate_proj_weight:
        w_q, w_k, w_v = in_proj_weight.chunk(3)
    else:
        w_q, w_k, w_v = q_proj_weight, k_proj_weight, v_proj_weight
    b_q = b_k = b_v = None
    if in_proj_bias is not None:
        b_q, b_k, b_v = in_proj_bias.chunk(3)
    q = F.linear(query, w_q, b_q)
    k = F.linear(key, w_k, b_k)
    v = F.linear(value, w_v, b_v)

    if attn_mask is not None:
        attn_mask = _float_mask(attn_mask, q.dtype)
        if attn_mask.dim() == 2:
            if tuple(attn_mask.shape) != (tgt_len, key.shape[0]):
                raise RuntimeError(f"The shape of the 2D attn_mask is "
                                   f"{tuple(attn_mask.shape)}, but should be "
                                   f"{(tgt_len, key.shape[0])}.")
            attn_mask = attn_mask.unsqueeze(0)
        elif attn_mask.dim() == 3:
            if tuple(attn_mask.shape) != (bsz * num_heads, tgt_len, key.shape[0]):
                raise RuntimeError(f"The shape of the 3D attn_mask is "
                                   f"{tuple(attn_mask.shape)}, but should be "
                                   f"{(bsz * num_heads, tgt_len, key.shape[0])}.")
        else:
            raise RuntimeError(f"attn_mask's dimension {attn_mask.dim()} is not supported")
    if key_padding_mask is not None:
        key_padding_mask = _float_mask(key_padding_mask, q.dtype)

    if bias_k is not None and bias_v is not None:
        k = ember.cat([k, bias_k.expand(1, bsz, embed_dim)])
        v = ember.cat([v, bias_v.expand(1, bsz, embed_dim)])
        if attn_mask is not None:
            attn_mask = _pad_last(attn_mask)
        if key_padding_mask is not None:
            key_padding_mask = _pad_last(key_padding_mask)

    # (L, N, E) -> (N * heads, L, head_dim), torch's layout of the heads.
    q = q.reshape(tgt_len, bsz * num_heads, head_dim).transpose(0, 1)
    k = k.reshape(k.shape[0], bsz * num_heads, head_dim).transpose(0, 1)
    v = v.reshape(v.shape[0], bsz * num_heads, head_dim).transpose(0, 1)
    if add_zero_attn:
        zeros = ember.zeros(bsz * num_heads, 1, head_dim, dtype=q.dtype, device=q.device)
        k = ember.cat([k, zeros], dim=1)
        v = ember.cat([v, zeros], dim=1)
        if attn_mask is not None:
            attn_mask = _pad_last(attn_mask)
        if key_padding_mask is not None:
            key_padding_mask = _pad_last(key_padding_mask)
    src_len = k.shape[1]

    if key_padding_mask is not None:
        if tuple(key_padding_mask.shape) != (bsz, src_len):
            raise AssertionError(f"expecting key_padding_mask shape of {(bsz, src_len)}, but "
                                 f"got {tuple(key_padding_mask.shape)}")
        padding = key_padding_mask.reshape(bsz, 1, 1, src_len).expand(
            bsz, num_heads, 1, src_len).reshape(bsz * num_heads, 1, src_len)
        attn_mask = padding if attn_mask is None else attn_mask + padding

    if not training:
        dropout_p = 0.0
    if need_weights:
        scores = ember.matmul(q * (1.0 / math.sqrt(head_dim)), k.transpose(-2, -1))
        if attn_mask is not None:
            scores = scores + attn_mask
        weights = ember.softmax(scores, -1)
        if dropout_p > 0.0:
            weights = F.dropout(weights, dropout_p, True)
        output = ember.matmul(weights, v)
    else:
        weights = None
        mask = attn_mask
        if mask is not None and mask.shape[0] == bsz * num_heads:
            mask = mask.reshape(bsz, num_heads, mask.shape[-2], src_len)
        output = scaled_dot_product_attention(
            q.reshape(bsz, num_heads, tgt_len, head_dim),
            k.reshape(bsz, num_heads, src_len, head_dim),
            v.reshape(bsz, num_heads, src_len, head_dim), mask, dropout_p)
        output = output.reshape(bsz * num_heads, tgt_len, head_dim)

    output = output.transpose(0, 1).reshape(tgt_len * bsz, embed_dim)
    output = F.linear(output, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, embed_dim)
    if not is_batched:
        output = output.squeeze(1)
    if weights is None:
        return output, None
    weights = weights.reshape(bsz, num_heads, tgt_len, src_len)
    if average_attn_weights:
        weights = weights.sum(1) / num_heads
    if not is_batched:
        weights = weights.squeeze(0)
    return output, weights
