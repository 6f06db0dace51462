"""One framework's side of bench/peers: sets up workloads and times them on request.

bench/peers/run.py starts one of these per framework, each in its own process
and with its own Python (Ember and PyTorch 1.13 in /usr/bin/python3, PyTorch 2.x
and JAX in the peers venv), and talks to it with one JSON object per line:

  {"cmd": "hello"}                      -> {"framework": ..., "version": ...}
  {"cmd": "setup", "workload": W}       -> {"ok": true, "warm_s": ...}
  {"cmd": "run", "reps": N}             -> {"times": [seconds, ...]}

Every timed repetition ends with the result computed: Ember is lazy (a result
dropped before ember.sync() is never computed), so its outputs are kept and
synced; JAX results get block_until_ready(); torch eager results already exist
when the call returns (torch.compile's too). Workloads that read a value every
call (`add1`) read it with .item()/float().

Usage (by run.py): python worker.py FRAMEWORK [--quick]
FRAMEWORK: ember, torch (eager), compile (torch.compile), jax.
"""
import gc
import json
import os
import sys
import time

import numpy as np

# The sizes of the table. --quick keeps them (the timings stay
# comparable) and only takes fewer repetitions; `add1` runs fewer ops.
CHAIN_N = 16 * 1024 * 1024
NORM_SHAPE = (4096, 1024)
MLP_BATCH, MLP_IN, MLP_HIDDEN, MLP_OUT = 128, 784, 512, 10
TF_BATCH, TF_SEQ, TF_DIM, TF_HEADS = 8, 128, 256, 4
# ResNet-style CIFAR 3x3 convolutions: batch 32, 64 channels, 32x32.
CONV_BATCH, CONV_CHANNELS, CONV_SIZE = 32, 64, 32
LSTM_SEQ, LSTM_BATCH, LSTM_HIDDEN, LSTM_LAYERS = 64, 32, 256, 2
SLICE_SHAPE = (3, 8, 128, 256)
# Attention (issue 14): SDPA forward at batch 4, 8 heads, head dim 64; the
# GPT-style training step: 6 pre-LN layers of d_model 256, 8 heads, causal,
# batch 8 x 128 tokens, a 256-symbol vocabulary, AdamW.
SDPA_BATCH, SDPA_HEADS, SDPA_DIM = 4, 8, 64
GPT_LAYERS, GPT_DIM, GPT_HEADS, GPT_BATCH, GPT_SEQ, GPT_VOCAB = 6, 256, 8, 8, 128, 256


def rng():
    return np.random.default_rng(0)


def randn(r, *shape, scale=1.0):
    return (r.standard_normal(shape) * scale).astype(np.float32)


# --- Workloads every framework spells the same way, given its tensor(),
# jit() and elementwise(). ---

class SharedWorkloads:
    def setup(self, workload):
        setup = getattr(self, "setup_" + workload, None)
        if setup is None:  # run.py prints "n/a" for it
            raise NotImplementedError(f"{self.name} has no {workload} workload")
        return setup()

    def setup_add1(self):
        x = self.tensor(np.ones(1, np.float32))
        add = self.jit(lambda a, b: a + b)
        ops = add1_ops(self.quick)

        def loop():
            acc = x
            for _ in range(ops):
                acc = add(acc, x)
                acc.item()
            return acc
        return loop

    # The issue spells these `* 1.0`, but compilers fold a multiply by one
    # into a copy (Ember's canonicalizer does), which measures a memmove
    # instead of the view read; 1.5 keeps the arithmetic.
    def setup_slice_mul(self):
        return self.elementwise(lambda x: x[0] * 1.5, randn(rng(), *SLICE_SHAPE))

    def setup_whole_mul(self):
        return self.elementwise(lambda x: x * 1.5, randn(rng(), *SLICE_SHAPE))


# --- Ember and PyTorch share one spelling (Ember's API is torch-like). ---

class TorchLike(SharedWorkloads):
    """Workloads for ember and torch (eager or torch.compile)."""

    def __init__(self, name, quick):
        self.name = name
        self.quick = quick
        if name == "ember":
            import ember as T
            import ember.nn as nn
            import ember.nn.functional as F
            import ember.optim as optim
            self.version = "ember (this checkout)"
        else:
            import torch as T
            import torch.nn as nn
            import torch.nn.functional as F
            import torch.optim as optim
            self.version = "torch " + T.__version__
            if name == "compile":
                self.version += " torch.compile, Inductor CPU ISA: " + inductor_vec_isa()
        self.T, self.nn, self.F, self.optim = T, nn, F, optim

    def tensor(self, array):
        return self.T.from_numpy(np.ascontiguousarray(array))

    def jit(self, fn):
        if self.name == "compile":
            return self.T.compile(fn)
        return fn

    def force(self, result):
        # Ember computes what is still referenced at sync(); torch is eager.
        if self.name == "ember":
            self.T.sync()
        return result

    def elementwise(self, fn, *arrays):
        fn = self.jit(fn)
        args = [self.tensor(a) for a in arrays]
        return lambda: self.force(fn(*args))

    def setup_chain(self):
        r = rng()
        a, b, c, d = (randn(r, CHAIN_N) for _ in range(4))
        return self.elementwise(lambda a, b, c, d: (a * b + c).sigmoid() * d - a, a, b, c, d)

    def setup_layernorm(self):
        r = rng()
        F = self.F
        x, w, b = randn(r, *NORM_SHAPE), randn(r, NORM_SHAPE[1]), randn(r, NORM_SHAPE[1])
        return self.elementwise(lambda x, w, b: F.layer_norm(x, (NORM_SHAPE[1],), w, b, 1e-5),
                                x, w, b)

    def setup_softmax(self):
        return self.elementwise(lambda x: x.softmax(dim=-1), randn(rng(), *NORM_SHAPE))

    def _matmul(self, n):
        r = rng()
        return self.elementwise(lambda a, b: a @ b, randn(r, n, n), randn(r, n, n))

    def setup_matmul1024(self):
        return self._matmul(1024)

    def setup_matmul2048(self):
        return self._matmul(2048)

    def setup_mlp(self):
        nn, F = self.nn, self.F
        r = rng()
        model = nn.Sequential(nn.Linear(MLP_IN, MLP_HIDDEN), nn.ReLU(),
                              nn.Linear(MLP_HIDDEN, MLP_OUT))
        opt = self.optim.SGD(model.parameters(), lr=0.01)
        forward = self.jit(model)
        x = self.tensor(r.random((MLP_BATCH, MLP_IN), dtype=np.float32))
        y = self.tensor(r.integers(0, MLP_OUT, MLP_BATCH).astype(np.int64))

        def step():
            opt.zero_grad()
            loss = F.cross_entropy(forward(x), y)
            loss.backward()
            opt.step()
            # The updated parameters are what a step produces; the model
            # holds them, so Ember's sync() computes them.
            return self.force(loss)
        return step

    def setup_lstm(self):
        # torch.compile runs nn.LSTM eagerly (Dynamo does not trace it).
        nn = self.nn
        r = rng()
        model = nn.LSTM(LSTM_HIDDEN, LSTM_HIDDEN, num_layers=LSTM_LAYERS)
        head = nn.Linear(LSTM_HIDDEN, 1)
        params = list(model.parameters()) + list(head.parameters())
        opt = self.optim.SGD(params, lr=0.01)
        x = self.tensor(randn(r, LSTM_SEQ, LSTM_BATCH, LSTM_HIDDEN))

        def loss_fn(x):
            out, _ = model(x)
            return (head(out) ** 2).mean()
        forward = self.jit(loss_fn)

        def step():
            opt.zero_grad()
            loss = forward(x)
            loss.backward()
            opt.step()
            return self.force(loss)
        return step

    def setup_transformer(self):
        r = rng()
        F = self.F
        d, h = TF_DIM, TF_HEADS
        p = {k: self.tensor(v) for k, v in transformer_params(r).items()}
        x = self.tensor(randn(r, TF_BATCH, TF_SEQ, d))

        def block(x, p):
            bsz, seq, _ = x.shape
            y = F.layer_norm(x, (d,), p["ln1_w"], p["ln1_b"], 1e-5)
            qkv = y @ p["w_qkv"] + p["b_qkv"]
            q, k, v = qkv.split(d, dim=-1)
            q = q.reshape(bsz, seq, h, d // h).transpose(1, 2)
            k = k.reshape(bsz, seq, h, d // h).transpose(1, 2)
            v = v.reshape(bsz, seq, h, d // h).transpose(1, 2)
            att = (q @ k.transpose(-2, -1)) * (1.0 / (d // h) ** 0.5)
            att = att.softmax(dim=-1)
            o = (att @ v).transpose(1, 2).reshape(bsz, seq, d)
            x = x + o @ p["w_o"] + p["b_o"]
            y = F.layer_norm(x, (d,), p["ln2_w"], p["ln2_b"], 1e-5)
            y = F.gelu(y @ p["w_1"] + p["b_1"])
            return x + y @ p["w_2"] + p["b_2"]

        fn = self.jit(block)
        return lambda: self.force(fn(x, p))

    def _sdpa(self, seq):
        r = rng()
        shape = (SDPA_BATCH, SDPA_HEADS, seq, SDPA_DIM)
        F = self.F
        attention = getattr(F, "scaled_dot_product_attention", None)
        if attention is None:  # torch 1.13: the composition its math path runs
            def attention(q, k, v):
                return ((q @ k.transpose(-2, -1)) * SDPA_DIM ** -0.5).softmax(-1) @ v
        return self.elementwise(attention, *(randn(r, *shape) for _ in range(3)))

    def setup_sdpa128(self):
        return self._sdpa(128)

    def setup_sdpa512(self):
        return self._sdpa(512)

    def setup_sdpa2048(self):
        return self._sdpa(2048)

    def setup_gpt(self):
        nn, F, T = self.nn, self.F, self.T
        r = rng()
        T.manual_seed(0)

        class Gpt(nn.Module):
            def __init__(self):
                super().__init__()
                self.embed = nn.Embedding(GPT_VOCAB, GPT_DIM)
                self.position = nn.Embedding(GPT_SEQ, GPT_DIM)
                layer = nn.TransformerEncoderLayer(GPT_DIM, GPT_HEADS, 4 * GPT_DIM,
                                                   dropout=0.0, activation="gelu",
                                                   batch_first=True, norm_first=True)
                self.blocks = nn.TransformerEncoder(layer, GPT_LAYERS)
                self.norm = nn.LayerNorm(GPT_DIM)
                self.head = nn.Linear(GPT_DIM, GPT_VOCAB)
                self.mask = nn.Transformer.generate_square_subsequent_mask(GPT_SEQ)

            def forward(self, x):
                h = self.embed(x) + self.position.weight
                return self.head(self.norm(self.blocks(h, mask=self.mask)))

        model = Gpt()
        opt = self.optim.AdamW(model.parameters(), lr=1e-3)
        forward = self.jit(model)
        x = self.tensor(r.integers(0, GPT_VOCAB, (GPT_BATCH, GPT_SEQ)).astype(np.int64))
        y = self.tensor(r.integers(0, GPT_VOCAB, GPT_BATCH * GPT_SEQ).astype(np.int64))

        def step():
            opt.zero_grad()
            loss = F.cross_entropy(forward(x).reshape(-1, GPT_VOCAB), y)
            loss.backward()
            opt.step()
            return self.force(loss)
        return step


    def _conv_block(self):
        """Two 3x3 convolutions (64 -> 64, padding 1, no bias, as in a
        ResNet basic block), each followed by ReLU. No BatchNorm yet: the
        block is conv+ReLU only."""
        nn = self.nn
        self.T.manual_seed(0)
        model = nn.Sequential(
            nn.Conv2d(CONV_CHANNELS, CONV_CHANNELS, 3, padding=1, bias=False), nn.ReLU(),
            nn.Conv2d(CONV_CHANNELS, CONV_CHANNELS, 3, padding=1, bias=False), nn.ReLU())
        x = self.tensor(randn(rng(), CONV_BATCH, CONV_CHANNELS, CONV_SIZE, CONV_SIZE))
        return model, x

    def setup_conv_fwd(self):
        model, x = self._conv_block()
        forward = self.jit(model)
        return lambda: self.force(forward(x))

    def setup_conv_train(self):
        model, x = self._conv_block()
        opt = self.optim.SGD(model.parameters(), lr=0.01)
        forward = self.jit(model)

        def step():
            opt.zero_grad()
            loss = forward(x).mean()
            loss.backward()
            opt.step()
            return self.force(loss)
        return step


def inductor_vec_isa():
    """What Inductor vectorizes C++ with; INVALID_VEC_ISA when its probe fails."""
    try:
        from torch._inductor import cpu_vec_isa
        return str(cpu_vec_isa.pick_vec_isa())
    except Exception as exc:  # a torch without this module: say so, go on
        return f"unknown ({type(exc).__name__})"


def add1_ops(quick):
    return 200 if quick else 1000


def transformer_params(r):
    d = TF_DIM
    s = d ** -0.5
    return {
        "ln1_w": np.ones(d, np.float32), "ln1_b": np.zeros(d, np.float32),
        "w_qkv": randn(r, d, 3 * d, scale=s), "b_qkv": np.zeros(3 * d, np.float32),
        "w_o": randn(r, d, d, scale=s), "b_o": np.zeros(d, np.float32),
        "ln2_w": np.ones(d, np.float32), "ln2_b": np.zeros(d, np.float32),
        "w_1": randn(r, d, 4 * d, scale=s), "b_1": np.zeros(4 * d, np.float32),
        "w_2": randn(r, 4 * d, d, scale=(4 * d) ** -0.5), "b_2": np.zeros(d, np.float32),
    }


# --- JAX: the same workloads with jax.numpy under jax.jit. ---

class Jax(SharedWorkloads):
    def __init__(self, name, quick):
        import jax
        import jax.numpy as jnp
        self.jax, self.jnp, self.quick, self.name = jax, jnp, quick, name
        self.version = "jax " + jax.__version__

    def tensor(self, array):
        return self.jnp.asarray(array)

    def jit(self, fn):
        return self.jax.jit(fn)

    def elementwise(self, fn, *arrays):
        fn = self.jax.jit(fn)
        args = [self.jnp.asarray(a) for a in arrays]
        return lambda: fn(*args).block_until_ready()

    def layer_norm(self, x, w, b):
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) * self.jax.lax.rsqrt(var + 1e-5) * w + b

    def setup_chain(self):
        r = rng()
        jax = self.jax
        a, b, c, d = (randn(r, CHAIN_N) for _ in range(4))
        return self.elementwise(lambda a, b, c, d: jax.nn.sigmoid(a * b + c) * d - a, a, b, c, d)

    def setup_layernorm(self):
        r = rng()
        x, w, b = randn(r, *NORM_SHAPE), randn(r, NORM_SHAPE[1]), randn(r, NORM_SHAPE[1])
        return self.elementwise(self.layer_norm, x, w, b)

    def setup_softmax(self):
        jax = self.jax
        return self.elementwise(lambda x: jax.nn.softmax(x, axis=-1), randn(rng(), *NORM_SHAPE))

    def setup_matmul1024(self):
        r = rng()
        return self.elementwise(lambda a, b: a @ b, randn(r, 1024, 1024), randn(r, 1024, 1024))

    def setup_matmul2048(self):
        r = rng()
        return self.elementwise(lambda a, b: a @ b, randn(r, 2048, 2048), randn(r, 2048, 2048))

    def setup_mlp(self):
        jax, jnp = self.jax, self.jnp
        r = rng()
        # torch.nn.Linear's default init: U(-1/sqrt(in), 1/sqrt(in)).
        def linear(n_in, n_out):
            bound = n_in ** -0.5
            return (jnp.asarray(r.uniform(-bound, bound, (n_in, n_out)).astype(np.float32)),
                    jnp.asarray(r.uniform(-bound, bound, n_out).astype(np.float32)))
        params = [linear(MLP_IN, MLP_HIDDEN), linear(MLP_HIDDEN, MLP_OUT)]
        x = jnp.asarray(r.random((MLP_BATCH, MLP_IN), dtype=np.float32))
        y = jnp.asarray(r.integers(0, MLP_OUT, MLP_BATCH).astype(np.int32))

        def loss_fn(params, x, y):
            (w1, b1), (w2, b2) = params
            logits = jax.nn.relu(x @ w1 + b1) @ w2 + b2
            logp = jax.nn.log_softmax(logits, axis=-1)
            return -jnp.take_along_axis(logp, y[:, None], axis=1).mean()

        @jax.jit
        def step(params, x, y):
            loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
            params = jax.tree_util.tree_map(lambda p, g: p - 0.01 * g, params, grads)
            return params, loss

        state = {"params": params}

        def run():
            state["params"], loss = step(state["params"], x, y)
            jax.block_until_ready(state["params"])
            return loss
        return run

    def setup_transformer(self):
        jax, jnp = self.jax, self.jnp
        r = rng()
        d, h = TF_DIM, TF_HEADS
        p = {k: jnp.asarray(v) for k, v in transformer_params(r).items()}
        x = jnp.asarray(randn(r, TF_BATCH, TF_SEQ, d))

        @jax.jit
        def block(x, p):
            bsz, seq, _ = x.shape
            y = self.layer_norm(x, p["ln1_w"], p["ln1_b"])
            qkv = y @ p["w_qkv"] + p["b_qkv"]
            q, k, v = jnp.split(qkv, 3, axis=-1)
            q = q.reshape(bsz, seq, h, d // h).transpose(0, 2, 1, 3)
            k = k.reshape(bsz, seq, h, d // h).transpose(0, 2, 1, 3)
            v = v.reshape(bsz, seq, h, d // h).transpose(0, 2, 1, 3)
            att = (q @ k.transpose(0, 1, 3, 2)) * (1.0 / (d // h) ** 0.5)
            att = jax.nn.softmax(att, axis=-1)
            o = (att @ v).transpose(0, 2, 1, 3).reshape(bsz, seq, d)
            x = x + o @ p["w_o"] + p["b_o"]
            y = self.layer_norm(x, p["ln2_w"], p["ln2_b"])
            y = jax.nn.gelu(y @ p["w_1"] + p["b_1"], approximate=False)
            return x + y @ p["w_2"] + p["b_2"]

        return lambda: block(x, p).block_until_ready()

    def _sdpa(self, seq):
        jax = self.jax
        r = rng()
        shape = (SDPA_BATCH, SDPA_HEADS, seq, SDPA_DIM)

        def attention(q, k, v):
            scores = (q @ k.transpose(0, 1, 3, 2)) * SDPA_DIM ** -0.5
            return jax.nn.softmax(scores, axis=-1) @ v
        return self.elementwise(attention, *(randn(r, *shape) for _ in range(3)))

    def setup_sdpa128(self):
        return self._sdpa(128)

    def setup_sdpa512(self):
        return self._sdpa(512)

    def setup_sdpa2048(self):
        return self._sdpa(2048)


    def _conv_params(self):
        # torch's Conv2d default init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
        r = rng()
        bound = (CONV_CHANNELS * 9) ** -0.5
        shape = (CONV_CHANNELS, CONV_CHANNELS, 3, 3)
        ws = [self.jnp.asarray(r.uniform(-bound, bound, shape).astype(np.float32))
              for _ in range(2)]
        x = self.jnp.asarray(randn(r, CONV_BATCH, CONV_CHANNELS, CONV_SIZE, CONV_SIZE))
        return ws, x

    def conv_block(self, ws, x):
        jax = self.jax
        for w in ws:
            x = jax.nn.relu(jax.lax.conv_general_dilated(
                x, w, (1, 1), ((1, 1), (1, 1)), dimension_numbers=("NCHW", "OIHW", "NCHW")))
        return x

    def setup_conv_fwd(self):
        ws, x = self._conv_params()
        block = self.jax.jit(self.conv_block)
        return lambda: block(ws, x).block_until_ready()

    def setup_conv_train(self):
        jax = self.jax
        ws, x = self._conv_params()

        @jax.jit
        def step(ws, x):
            loss, grads = jax.value_and_grad(lambda ws: self.conv_block(ws, x).mean())(ws)
            return [w - 0.01 * g for w, g in zip(ws, grads)], loss

        state = {"ws": ws}

        def run():
            state["ws"], loss = step(state["ws"], x)
            jax.block_until_ready(state["ws"])
            return loss
        return run



def main():
    framework = sys.argv[1]
    quick = "--quick" in sys.argv[2:]
    # Replies go to the original stdout; anything a library prints (compiler
    # warnings, C-level output) goes to stderr so it cannot break the protocol.
    reply_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    replies = os.fdopen(reply_fd, "w", buffering=1)

    def reply(obj):
        replies.write(json.dumps(obj) + "\n")

    impl = (Jax if framework == "jax" else TorchLike)(framework, quick)
    run = None
    for line in sys.stdin:
        msg = json.loads(line)
        try:
            if msg["cmd"] == "hello":
                reply({"framework": framework, "version": impl.version})
            elif msg["cmd"] == "setup":
                run = None
                gc.collect()
                run = impl.setup(msg["workload"])
                t0 = time.perf_counter()
                run()  # compiles (Ember, torch.compile, JAX) and warms caches
                first = time.perf_counter() - t0
                t0 = time.perf_counter()
                run()
                reply({"ok": True, "first_s": first, "warm_s": time.perf_counter() - t0})
            elif msg["cmd"] == "run":
                times = []
                for _ in range(msg["reps"]):
                    t0 = time.perf_counter()
                    run()
                    times.append(time.perf_counter() - t0)
                reply({"times": times})
        except NotImplementedError as exc:  # a workload this peer lacks
            run = None
            reply({"error": str(exc), "unsupported": True})
        except Exception as exc:  # reported per workload; the worker stays up
            run = None
            text = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
            reply({"error": text})


if __name__ == "__main__":
    main()
