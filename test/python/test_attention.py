"""F.scaled_dot_product_attention, nn.MultiheadAttention and the
transformer modules, forward and gradients, against PyTorch 1.13.

torch 1.13 lacks F.scaled_dot_product_attention: its reference is
softmax(q @ k^T * scale + mask) @ v composed in torch float64. The modules
are compared with torch 1.13's own from the same state_dict. On the CPU
attention is one ember.attention op (keys in blocks with an online softmax;
sequence 2048 crosses many blocks); in the device sweep it is decomposed."""

import math

import numpy as np
import pytest
import torch

import ember
from ember import nn
from ember.nn import functional as F
from ember_testing import DEVICE, from_array, random_array, to_numpy

TOL = {"float32": (2e-5, 2e-5), "float64": (1e-10, 1e-12)}
GRAD_TOL = {"float32": (1e-4, 5e-5), "float64": (1e-9, 1e-11)}


def check(actual, expected, dtype, tol):
    rtol, atol = tol[dtype]
    want = expected.detach().double().numpy()
    scale = max(1.0, float(np.abs(want).max(initial=0.0)))
    got = to_numpy(actual).astype(np.float64)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol * scale)


def reference_attention(q, k, v, mask=None, is_causal=False, scale=None):
    """torch 2.x's SDPA semantics composed in torch 1.13."""
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = q @ k.transpose(-2, -1) * scale
    if is_causal:
        keep = torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool).tril()
        scores = scores.masked_fill(~keep, float("-inf"))
    if mask is not None:
        if mask.dtype == torch.bool:
            scores = scores.masked_fill(~mask, float("-inf"))
        else:
            scores = scores + mask
    return torch.softmax(scores, -1) @ v


def run_attention(rng, dtype, shapes, mask=None, is_causal=False, scale=None):
    """SDPA on ember and on float64 torch from the same values with one
    random cotangent; checks the output and the gradients of q, k, v (and a
    float mask's)."""
    arrays = [random_array(rng, s, dtype, low=-2.0, high=2.0) for s in shapes]
    xs = [from_array(a, dtype).requires_grad_() for a in arrays]
    ts = [torch.from_numpy(a.astype(np.float64)).requires_grad_() for a in arrays]
    emask = tmask = None
    if mask is not None:
        if mask.dtype == np.bool_:
            emask, tmask = from_array(mask), torch.from_numpy(mask)
        else:
            emask = from_array(mask, dtype).requires_grad_()
            tmask = torch.from_numpy(mask.astype(np.float64)).requires_grad_()
    out = F.scaled_dot_product_attention(*xs, attn_mask=emask, is_causal=is_causal,
                                         scale=scale)
    expected = reference_attention(*ts, mask=tmask, is_causal=is_causal, scale=scale)
    check(out, expected, dtype, TOL)
    cotangent = random_array(rng, tuple(expected.shape), dtype)
    out.backward(from_array(cotangent, dtype))
    expected.backward(torch.from_numpy(cotangent.astype(np.float64)))
    for name, x, t in zip("qkv", xs, ts):
        assert x.grad is not None, f"{name} got no gradient"
        check(x.grad, t.grad, dtype, GRAD_TOL)
    if tmask is not None and tmask.requires_grad:
        check(emask.grad, tmask.grad, dtype, GRAD_TOL)


# (q shape, k shape, v shape): L != S, odd sizes, Ev != E, batch dims.
SHAPES = [
    ((1, 1, 1), (1, 1, 1), (1, 1, 1)),
    ((2, 5, 8), (2, 5, 8), (2, 5, 8)),
    ((3, 7, 5), (3, 11, 5), (3, 11, 3)),
    ((2, 3, 13, 16), (2, 3, 9, 16), (2, 3, 9, 24)),
    ((1, 2, 65, 33), (1, 2, 130, 33), (1, 2, 130, 17)),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shapes", SHAPES, ids=lambda s: "x".join(map(str, s[0])) + "-" +
                         str(s[1][-2]))
def test_sdpa_matches_the_composed_reference(rng, dtype, shapes):
    run_attention(rng, dtype, shapes)


@pytest.mark.parametrize("shapes", SHAPES[1:], ids=lambda s: "x".join(map(str, s[0])))
def test_sdpa_causal(rng, shapes):
    run_attention(rng, "float32", shapes, is_causal=True)


@pytest.mark.parametrize("shapes", SHAPES[1:], ids=lambda s: "x".join(map(str, s[0])))
def test_sdpa_bool_mask_keeps_where_true(rng, shapes):
    q, k = shapes[0], shapes[1]
    mask = rng.random((q[-2], k[-2])) < 0.7
    mask[:, 0] = True  # no row fully masked (torch gives NaN there)
    run_attention(rng, "float32", shapes, mask=mask)


@pytest.mark.parametrize("shapes", SHAPES[1:], ids=lambda s: "x".join(map(str, s[0])))
def test_sdpa_float_mask_is_added_and_differentiated(rng, shapes):
    q, k = shapes[0], shapes[1]
    mask = random_array(rng, q[:-1] + (k[-2],), "float32")
    run_attention(rng, "float32", shapes, mask=mask)


def test_sdpa_scale_and_broadcast_batch(rng):
    shapes = ((2, 3, 6, 8), (1, 3, 10, 8), (2, 1, 10, 5))
    mask = random_array(rng, (6, 10), "float32")
    run_attention(rng, "float32", shapes, mask=mask, scale=0.3)


@pytest.mark.skipif(DEVICE != "cpu", reason="the CPU kernel's key blocks; the device "
                    "sweep's decomposition has none (and lavapipe is slow at 2048^2)")
@pytest.mark.parametrize("is_causal", [False, True])
def test_sdpa_long_sequence_crosses_key_blocks(rng, is_causal):
    """2048 queries and keys: many key blocks and row chunks on the CPU."""
    run_attention(rng, "float32", ((1, 2048, 16), (1, 2048, 16), (1, 2048, 16)),
                  is_causal=is_causal)


def test_sdpa_fully_masked_rows_are_nan_as_torch(rng):
    q, k, v = (from_array(random_array(rng, (1, 3, 4), "float32")) for _ in range(3))
    mask = np.ones((3, 3), bool)
    mask[1] = False
    out = to_numpy(F.scaled_dot_product_attention(q, k, v, attn_mask=from_array(mask)))
    assert np.isnan(out[0, 1]).all() and np.isfinite(out[0, [0, 2]]).all()


def test_sdpa_rejects_a_mask_with_is_causal(rng):
    q = from_array(random_array(rng, (1, 3, 4), "float32"))
    with pytest.raises(RuntimeError, match="is_causal"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=from_array(np.ones((3, 3), bool)),
                                       is_causal=True)


def test_sdpa_dropout_one_drops_everything(rng):
    q = from_array(random_array(rng, (2, 5, 4), "float32"))
    out = F.scaled_dot_product_attention(q, q, q, dropout_p=1.0)
    assert (to_numpy(out) == 0).all()


def test_sdpa_dropout_keeps_the_expectation(rng):
    """Dropout of the weights with p = 0.5 leaves the mean output unbiased."""
    ember.manual_seed(0)
    q = from_array(random_array(rng, (1, 4, 8), "float32"))
    v = from_array(np.ones((1, 4, 8), np.float32))
    out = np.stack([to_numpy(F.scaled_dot_product_attention(q, q, v, dropout_p=0.5))
                    for _ in range(64)])
    assert abs(out.mean() - 1.0) < 0.1 and (out == 0).any()


# Modules against torch 1.13 ------------------------------------------------

def to_ember_module(torch_module, ember_module):
    """Loads torch's state_dict into the ember module (the same keys)."""
    state = {k: ember.from_numpy(v.detach().numpy().copy())
             for k, v in torch_module.state_dict().items()}
    ember_module.load_state_dict(state)
    return ember_module.to(DEVICE) if DEVICE != "cpu" else ember_module


def compare_modules(rng, tmod, emod, inputs, kwargs_fn, train):
    """Same weights, same inputs: outputs, input and parameter gradients."""
    torch.manual_seed(0)
    to_ember_module(tmod, emod)
    assert list(emod.state_dict().keys()) == list(tmod.state_dict().keys())
    tmod.train(train)
    emod.train(train)
    arrays = [random_array(rng, s, "float32") for s in inputs]
    ts = [torch.from_numpy(a).requires_grad_() for a in arrays]
    xs = [from_array(a).requires_grad_() for a in arrays]
    tk, ek = kwargs_fn(torch.from_numpy, from_array)
    tout = tmod(*ts, **tk)
    eout = emod(*xs, **ek)
    touts = tout if isinstance(tout, tuple) else (tout,)
    eouts = eout if isinstance(eout, tuple) else (eout,)
    loss_t = 0
    loss_e = 0
    for t, e in zip(touts, eouts):
        if t is None:
            assert e is None
            continue
        check(e, t, "float32", TOL)
        cot = random_array(rng, tuple(t.shape), "float32")
        loss_t = loss_t + (t * torch.from_numpy(cot)).sum()
        loss_e = loss_e + (e * from_array(cot)).sum()
    loss_t.backward()
    loss_e.backward()
    for x, t in zip(xs, ts):
        check(x.grad, t.grad, "float32", GRAD_TOL)
    eparams = dict(emod.named_parameters())
    for name, p in tmod.named_parameters():
        if p.grad is None:
            assert eparams[name].grad is None or not to_numpy(eparams[name].grad).any(), name
            continue
        check(eparams[name].grad, p.grad, "float32", GRAD_TOL)


def no_kwargs(t, e):
    return {}, {}


def on_device_one(values):
    """The combinations of a module's options run on the CPU suite; on a
    device (the Vulkan sweep takes ~15 s per case on lavapipe) the first
    one, since the modules are compositions of the ops checked above."""
    values = list(values)
    return values if DEVICE == "cpu" else values[:1]


MHA_CASES = {
    "plain": (dict(), False),
    "batch_first": (dict(batch_first=True), False),
    "kdim_vdim": (dict(kdim=6, vdim=10), False),
    "no_bias": (dict(bias=False), False),
    "bias_kv_zero_attn": (dict(add_bias_kv=True, add_zero_attn=True), False),
}


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("case", on_device_one(MHA_CASES))
@pytest.mark.parametrize("need_weights", on_device_one([True, False]))
def test_multihead_attention(rng, case, train, need_weights):
    ctor, _ = MHA_CASES[case]
    embed, heads, length, source, batch = 12, 3, 5, 7, 2
    tmod = torch.nn.MultiheadAttention(embed, heads, **ctor)
    emod = nn.MultiheadAttention(embed, heads, **ctor)
    kdim, vdim = ctor.get("kdim", embed), ctor.get("vdim", embed)
    bf = ctor.get("batch_first", False)

    def shape(seq, dim):
        return (batch, seq, dim) if bf else (seq, batch, dim)
    compare_modules(rng, tmod, emod, [shape(length, embed), shape(source, kdim),
                                      shape(source, vdim)],
                    lambda t, e: ({"need_weights": need_weights},
                                  {"need_weights": need_weights}), train)


class _TorchSelfAttention(torch.nn.Module):
    def __init__(self, *args, **kwargs):
        super().__init__()
        self.attn = torch.nn.MultiheadAttention(*args, **kwargs)

    def forward(self, x):
        return self.attn(x, x, x, need_weights=False)[0]


class _EmberSelfAttention(nn.Module):
    def __init__(self, *args, **kwargs):
        super().__init__()
        self.attn = nn.MultiheadAttention(*args, **kwargs)

    def forward(self, x):
        return self.attn(x, x, x, need_weights=False)[0]


@pytest.mark.skipif(DEVICE != "cpu", reason="the device sweep checks the ops it composes")
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
def test_multihead_self_attention_batch_first(rng, train, bias):
    """x, x, x batch-first without weights or masks (a ViT block): the path
    that projects q, k, v with one product and no sequence-first copies."""
    compare_modules(rng, _TorchSelfAttention(12, 3, bias=bias, batch_first=True),
                    _EmberSelfAttention(12, 3, bias=bias, batch_first=True), [(2, 5, 12)],
                    no_kwargs, train)


@pytest.mark.parametrize("need_weights", on_device_one([True, False]))
@pytest.mark.parametrize("mask_kind", ["both"] + on_device_one(["bool", "float", "3d", "padding"]))
def test_multihead_attention_masks(rng, mask_kind, need_weights):
    embed, heads, length, source, batch = 8, 2, 4, 6, 3
    bool_mask = rng.random((length, source)) < 0.3
    bool_mask[:, 0] = False
    float_mask = random_array(rng, (length, source), "float32")
    mask3 = random_array(rng, (batch * heads, length, source), "float32")
    padding = np.zeros((batch, source), bool)
    padding[0, -2:] = True
    padding[2, -1] = True

    def kwargs(convert):
        out = {"need_weights": need_weights, "average_attn_weights": False}
        if mask_kind == "bool":
            out["attn_mask"] = convert(bool_mask)
        elif mask_kind == "float":
            out["attn_mask"] = convert(float_mask)
        elif mask_kind == "3d":
            out["attn_mask"] = convert(mask3)
        elif mask_kind == "padding":
            out["key_padding_mask"] = convert(padding)
        else:
            out["attn_mask"] = convert(float_mask)
            out["key_padding_mask"] = convert(padding)
        return out
    compare_modules(rng, torch.nn.MultiheadAttention(embed, heads),
                    nn.MultiheadAttention(embed, heads),
                    [(length, batch, embed), (source, batch, embed), (source, batch, embed)],
                    lambda t, e: (kwargs(t), kwargs(e)), True)


def test_multihead_attention_unbatched(rng):
    compare_modules(rng, torch.nn.MultiheadAttention(8, 4), nn.MultiheadAttention(8, 4),
                    [(5, 8), (3, 8), (3, 8)], no_kwargs, True)


def test_multihead_attention_parameters_and_init():
    m = nn.MultiheadAttention(16, 4, kdim=8, vdim=8, add_bias_kv=True)
    t = torch.nn.MultiheadAttention(16, 4, kdim=8, vdim=8, add_bias_kv=True)
    assert [(k, tuple(v.shape)) for k, v in m.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in t.state_dict().items()]
    m = nn.MultiheadAttention(16, 4)
    assert m.in_proj_weight is not None and m.q_proj_weight is None
    assert not to_numpy(m.in_proj_bias).any() and not to_numpy(m.out_proj.bias).any()
    bound = math.sqrt(6.0 / (16 + 48))
    assert np.abs(to_numpy(m.in_proj_weight)).max() <= bound
    with pytest.raises(AssertionError):
        nn.MultiheadAttention(10, 3)


def test_state_dict_moves_to_torch(rng):
    m = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0)
    t = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0)
    t.load_state_dict({k: torch.from_numpy(to_numpy(v)) for k, v in m.state_dict().items()})
    if DEVICE != "cpu":
        m = m.to(DEVICE)
    x = random_array(rng, (3, 2, 8), "float32")
    check(m(from_array(x)), t(torch.from_numpy(x)), "float32", TOL)


ENCODER_CASES = {
    "post_norm_relu": dict(),
    "norm_first_gelu": dict(norm_first=True, activation="gelu"),
    "batch_first_callable": dict(batch_first=True, activation=None),
}


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("case", on_device_one(ENCODER_CASES))
def test_transformer_encoder_layer(rng, case, train):
    ctor = dict(ENCODER_CASES[case])
    tctor, ector = dict(ctor), dict(ctor)
    if "activation" in ctor and ctor["activation"] is None:
        tctor["activation"], ector["activation"] = torch.tanh, ember.tanh
    d, heads, ff, length, batch = 12, 3, 20, 5, 2
    tmod = torch.nn.TransformerEncoderLayer(d, heads, ff, dropout=0.0, **tctor)
    emod = nn.TransformerEncoderLayer(d, heads, ff, dropout=0.0, **ector)
    shape = (batch, length, d) if ctor.get("batch_first") else (length, batch, d)
    mask = np.triu(np.full((length, length), -np.inf, np.float32), 1)
    padding = np.zeros((batch, length), bool)
    padding[1, -1] = True
    compare_modules(rng, tmod, emod, [shape],
                    lambda t, e: ({"src_mask": t(mask), "src_key_padding_mask": t(padding)},
                                  {"src_mask": e(mask), "src_key_padding_mask": e(padding)}),
                    train)


@pytest.mark.parametrize("norm_first", on_device_one([False, True]))
def test_transformer_decoder_layer(rng, norm_first):
    d, heads, ff, length, source, batch = 8, 2, 16, 4, 6, 2
    tmod = torch.nn.TransformerDecoderLayer(d, heads, ff, dropout=0.0, norm_first=norm_first)
    emod = nn.TransformerDecoderLayer(d, heads, ff, dropout=0.0, norm_first=norm_first)
    mask = np.triu(np.full((length, length), -np.inf, np.float32), 1)
    compare_modules(rng, tmod, emod, [(length, batch, d), (source, batch, d)],
                    lambda t, e: ({"tgt_mask": t(mask)}, {"tgt_mask": e(mask)}), True)


@pytest.mark.skipif(DEVICE != "cpu", reason="on a device, test_transformer runs a stack of "
                    "both kinds of layer (its ~80 s here would repeat it)")
def test_transformer_encoder_and_decoder_stacks(rng):
    d, heads, ff = 8, 2, 16
    tenc = torch.nn.TransformerEncoder(
        torch.nn.TransformerEncoderLayer(d, heads, ff, dropout=0.0), 2,
        torch.nn.LayerNorm(d))
    eenc = nn.TransformerEncoder(nn.TransformerEncoderLayer(d, heads, ff, dropout=0.0), 2,
                                 nn.LayerNorm(d))
    compare_modules(rng, tenc, eenc, [(5, 2, d)], no_kwargs, True)
    tdec = torch.nn.TransformerDecoder(
        torch.nn.TransformerDecoderLayer(d, heads, ff, dropout=0.0), 2)
    edec = nn.TransformerDecoder(nn.TransformerDecoderLayer(d, heads, ff, dropout=0.0), 2)
    compare_modules(rng, tdec, edec, [(4, 2, d), (5, 2, d)], no_kwargs, True)


@pytest.mark.parametrize("batch_first", on_device_one([False, True]))
def test_transformer(rng, batch_first):
    d, heads, ff, src_len, tgt_len, batch = 8, 2, 12, 5, 4, 2
    tmod = torch.nn.Transformer(d, heads, 2, 1, ff, dropout=0.0, batch_first=batch_first)
    emod = nn.Transformer(d, heads, 2, 1, ff, dropout=0.0, batch_first=batch_first)
    assert list(emod.state_dict()) == list(tmod.state_dict())
    mask = torch.nn.Transformer.generate_square_subsequent_mask(tgt_len).numpy()
    np.testing.assert_array_equal(
        to_numpy(nn.Transformer.generate_square_subsequent_mask(tgt_len)), mask)

    def shape(seq):
        return (batch, seq, d) if batch_first else (seq, batch, d)
    compare_modules(rng, tmod, emod, [shape(src_len), shape(tgt_len)],
                    lambda t, e: ({"tgt_mask": t(mask)}, {"tgt_mask": e(mask)}), True)


def test_transformer_init_is_xavier():
    m = nn.Transformer(16, 2, 1, 1, 32)
    w = to_numpy(m.encoder.layers[0].linear1.weight)
    assert np.abs(w).max() <= math.sqrt(6.0 / (16 + 32))
    assert to_numpy(m.decoder.norm.weight).tolist() == [1.0] * 16


def test_encoder_layers_are_copies():
    layer = nn.TransformerEncoderLayer(8, 2, 16)
    enc = nn.TransformerEncoder(layer, 3)
    assert len(enc.layers) == 3
    assert enc.layers[0].linear1.weight is not enc.layers[1].linear1.weight
    np.testing.assert_array_equal(to_numpy(enc.layers[0].linear1.weight),
                                  to_numpy(enc.layers[2].linear1.weight))
