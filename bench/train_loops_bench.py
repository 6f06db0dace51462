#!/usr/bin/python3
"""Tutorial-style training loops: Ember vs PyTorch, wall time including compiles.

Each workload is ordinary PyTorch code written once, as a function of the
module it gets as ``torch`` (``ember`` or the real ``torch``), so the same
lines run in every framework:

  poly_item_before_backward  y = sin(x) fitted by Linear(3, 1) on (x, x^2, x^3)
                             (the "learning PyTorch with examples" nn version),
                             MSE(sum), SGD lr 1e-6, 2000 steps, loss.item()
                             read BEFORE loss.backward() every step
  poly_item_every_100        the same, loss.item() only every 100 steps
                             (after optimizer.step())
  never_reads                MLP 64-128-1 (ReLU), batch 256 (16 batches cycled),
                             MSE, Adam lr 1e-3, 400 steps; the loop never reads
                             a value, one loss.item() at the end
  hand_written_sgd           a + b x + c x^2 + d x^3 with four 0-d parameters
                             (the tutorial's autograd version): loss.item()
                             before backward, then under no_grad
                             ``p -= lr * p.grad; p.grad = None``, 1000 steps
  char_transformer           a 2-layer char-level GPT (n_embd 64, 4 heads,
                             block 32, batch 16) on bench/data/tiny_text.txt,
                             nanoGPT's get_batch (random windows stacked from
                             slices of the data tensor), causal attention from
                             matmul + a mask + softmax, LayerNorm, GELU MLP,
                             cross_entropy, AdamW lr 1e-3, 200 steps,
                             loss.item() every step

Every run is its own process (never two frameworks in one process):

  ember 1st      /usr/bin/python3 + build/python, EMBER_CACHE_DIR a fresh
                 empty folder (cold: every program compiles)
  ember 2nd      a new process with the same EMBER_CACHE_DIR (what a
                 persistent compile cache saves; as slow as the 1st without one)
  torch eager    PyTorch 2.x from the /work/peers venv
  t.compile 1st  the same, the model (or the poly function) wrapped in
                 torch.compile (inductor), fresh TORCHINDUCTOR_CACHE_DIR
  t.compile 2nd  a new process reusing that inductor cache
  torch 1.13     Debian's PyTorch 1.13 eager (/usr/bin/python3)

The runs of a workload are interleaved (rep 1 of each, then rep 2, ...), and
each table cell is the median over the repetitions. The time is the wall time
inside the process from making the tensors (NumPy data -> tensors, model,
optimizer) to the end of the loop, the last step's loss read with .item()
(which, for Ember, waits for the compiled programs). Before it, untimed,
each worker constructs one throwaway SGD, Adam and AdamW (no step): PyTorch
2.x imports torch._dynamo lazily there (~1 s), an import cost, not the loop's.
"proc" is the whole process (interpreter start, imports) as the parent sees it. The data and the
initial parameters come from NumPy with fixed seeds, so every framework
trains from the same inputs and the final losses should agree closely.

Goals (Ember / torch eager): 1st run <= 1.5x, 2nd run <= 1.0x.

Threads: every run gets OMP_NUM_THREADS = MKL_NUM_THREADS =
OPENBLAS_NUM_THREADS = 1 unless --threads says otherwise (0: each framework's
default). On a shared 2-core machine, PyTorch 2.x's default of 2 OpenMP
threads made its eager loops 10-40x slower whenever other processes ran
(spinning threads), which is noise, not a baseline. Ember compiles
single-threaded code (OpenBLAS aside); Debian's torch 1.13 defaults to 1.

Usage: /usr/bin/python3 bench/train_loops_bench.py [--quick] [--only NAME[,NAME]]
       [--reps N] [--timeout SECONDS] [--threads N] [--steps N] [--peers-python PATH]
--quick: fewer steps and one repetition (a smoke run).
A failing run (an exception, a torch.compile failure, a timeout) is reported
in its cell and with its error text below the tables; the bench goes on.
"""
import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
TEXT_PATH = os.path.join(HERE, "data", "tiny_text.txt")
DEBIAN_PYTHON = "/usr/bin/python3"
EMBER_PYTHONPATH = os.path.join(REPO, "build", "python")
DEFAULT_PEERS_PYTHON = "/work/peers/bin/python"
RESULT_TAG = "@@train_loops_result "

FIRST_GOAL, SECOND_GOAL = 1.5, 1.0

# name -> (steps, --quick steps)
WORKLOADS = {
    "poly_item_before_backward": (2000, 300),
    "poly_item_every_100": (2000, 300),
    "never_reads": (400, 100),
    "hand_written_sgd": (1000, 200),
    "char_transformer": (200, 30),
}


# ---------------------------------------------------------------------------
# The workloads. `torch` is the framework module (ember or torch), `compile`
# is torch.compile or the identity, `np` is NumPy. Each returns the last
# step's loss as a Python float, read with .item().
# ---------------------------------------------------------------------------

def init_from_numpy(torch, module, seed, init):
    """Sets every parameter of `module` to `init(name, shape, rng)` (a NumPy
    float32 array), in named_parameters() order, from a fixed seed: the same
    numbers in every framework."""
    import numpy as np
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for name, param in module.named_parameters():
            value = np.ascontiguousarray(init(name, tuple(param.shape), rng), dtype=np.float32)
            param.copy_(torch.from_numpy(value))


def linear_default_init(name, shape, rng):
    """torch's default Linear init: U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    fan_in = shape[1] if len(shape) == 2 else None
    if fan_in is None:   # a bias: its layer's fan-in is not known here; use its size
        fan_in = shape[0]
    bound = 1.0 / math.sqrt(fan_in)
    return rng.uniform(-bound, bound, size=shape)


def poly_data():
    import numpy as np
    x = np.linspace(-math.pi, math.pi, 2000, dtype=np.float32)
    return x, np.sin(x).astype(np.float32)


def poly_linear(torch, compile, steps, read_every):
    """The tutorial's nn version: Linear(3, 1) on (x, x^2, x^3), SGD."""
    x_np, y_np = poly_data()
    x = torch.from_numpy(x_np)
    y = torch.from_numpy(y_np)
    p = torch.tensor([1, 2, 3])
    xx = x.unsqueeze(-1).pow(p)

    model = torch.nn.Sequential(torch.nn.Linear(3, 1), torch.nn.Flatten(0, 1))
    init_from_numpy(torch, model, 1, linear_default_init)
    model = compile(model)
    loss_fn = torch.nn.MSELoss(reduction="sum")
    learning_rate = 1e-6
    optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)
    last = None
    for t in range(steps):
        y_pred = model(xx)
        loss = loss_fn(y_pred, y)
        if read_every == 1:
            last = loss.item()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if read_every > 1 and t % read_every == read_every - 1:
            last = loss.item()
    if read_every > 1 and steps % read_every != 0:
        last = loss.item()
    return last


def poly_item_before_backward(torch, compile, steps):
    return poly_linear(torch, compile, steps, 1)


def poly_item_every_100(torch, compile, steps):
    return poly_linear(torch, compile, steps, 100)


def never_reads(torch, compile, steps):
    import numpy as np
    rng = np.random.default_rng(3)
    num_batches, batch, features, hidden = 16, 256, 64, 128
    xs_np = rng.standard_normal((num_batches, batch, features)).astype(np.float32)
    w1 = rng.standard_normal((features, 32)).astype(np.float32) / math.sqrt(features)
    w2 = rng.standard_normal((32, 1)).astype(np.float32)
    ys_np = (np.tanh(xs_np @ w1) @ w2 + 0.1 * rng.standard_normal((num_batches, batch, 1))
             ).astype(np.float32)

    xs = [torch.from_numpy(xs_np[i]) for i in range(num_batches)]
    ys = [torch.from_numpy(ys_np[i]) for i in range(num_batches)]
    model = torch.nn.Sequential(torch.nn.Linear(features, hidden), torch.nn.ReLU(),
                                torch.nn.Linear(hidden, 1))
    init_from_numpy(torch, model, 4, linear_default_init)
    model = compile(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.MSELoss()
    for t in range(steps):
        x, y = xs[t % num_batches], ys[t % num_batches]
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
    return loss.item()


def hand_written_sgd(torch, compile, steps):
    """The tutorial's autograd version: four 0-d parameters, manual update."""
    import numpy as np
    x_np, y_np = poly_data()
    x = torch.from_numpy(x_np)
    y = torch.from_numpy(y_np)
    start = np.random.default_rng(5).standard_normal(4).astype(np.float32)
    a = torch.tensor(float(start[0]), requires_grad=True)
    b = torch.tensor(float(start[1]), requires_grad=True)
    c = torch.tensor(float(start[2]), requires_grad=True)
    d = torch.tensor(float(start[3]), requires_grad=True)

    def poly3(x, a, b, c, d):
        return a + b * x + c * x ** 2 + d * x ** 3

    poly3 = compile(poly3)
    learning_rate = 1e-6
    last = None
    for t in range(steps):
        y_pred = poly3(x, a, b, c, d)
        loss = (y_pred - y).pow(2).sum()
        last = loss.item()
        loss.backward()
        with torch.no_grad():
            a -= learning_rate * a.grad
            b -= learning_rate * b.grad
            c -= learning_rate * c.grad
            d -= learning_rate * d.grad
            a.grad = None
            b.grad = None
            c.grad = None
            d.grad = None
    return last


def gpt_init(name, shape, rng):
    """nanoGPT's init: N(0, 0.02) weights, zero biases, LayerNorm weight 1."""
    import numpy as np
    if name.endswith("bias"):
        return np.zeros(shape)
    if ".ln" in name or name.startswith("ln"):
        return np.ones(shape)
    return rng.normal(0.0, 0.02, size=shape)


def make_gpt(torch, vocab_size, n_embd, n_head, n_layer, block_size):
    import numpy as np
    nn = torch.nn
    F = torch.nn.functional

    class CausalSelfAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_attn = nn.Linear(n_embd, 3 * n_embd)
            self.c_proj = nn.Linear(n_embd, n_embd)
            mask = np.tril(np.ones((block_size, block_size), dtype=np.float32))
            self.register_buffer("mask", torch.from_numpy(mask).view(1, 1, block_size, block_size))

        def forward(self, x):
            B, T, C = x.size()
            # nanoGPT: q, k, v = self.c_attn(x).split(n_embd, dim=2) (no split in Ember)
            qkv = self.c_attn(x)
            q, k, v = qkv[..., :n_embd], qkv[..., n_embd:2 * n_embd], qkv[..., 2 * n_embd:]
            k = k.view(B, T, n_head, C // n_head).transpose(1, 2)
            q = q.view(B, T, n_head, C // n_head).transpose(1, 2)
            v = v.view(B, T, n_head, C // n_head).transpose(1, 2)
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
            # nanoGPT: att.masked_fill(self.mask[:, :, :T, :T] == 0, float("-inf"))
            # (no masked_fill in Ember)
            att = torch.where(self.mask[:, :, :T, :T] == 0, float("-inf"), att)
            att = F.softmax(att, dim=-1)
            y = att @ v
            y = y.transpose(1, 2).contiguous().view(B, T, C)
            return self.c_proj(y)

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1 = nn.LayerNorm(n_embd)
            self.attn = CausalSelfAttention()
            self.ln_2 = nn.LayerNorm(n_embd)
            self.mlp = nn.Sequential(nn.Linear(n_embd, 4 * n_embd), nn.GELU(),
                                     nn.Linear(4 * n_embd, n_embd))

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            x = x + self.mlp(self.ln_2(x))
            return x

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte = nn.Embedding(vocab_size, n_embd)
            self.wpe = nn.Embedding(block_size, n_embd)
            self.h = nn.ModuleList([Block() for _ in range(n_layer)])
            self.ln_f = nn.LayerNorm(n_embd)
            self.lm_head = nn.Linear(n_embd, vocab_size, bias=False)

        def forward(self, idx, targets):
            B, T = idx.size()
            pos = torch.arange(0, T, dtype=torch.long)
            x = self.wte(idx) + self.wpe(pos)
            for block in self.h:
                x = block(x)
            logits = self.lm_head(self.ln_f(x))
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))
            return logits, loss

    return GPT()


# The machine: FMA peak of one Zen 5 core, measured (DEVELOPERS.md).
CORE_PEAK_GFLOPS = 283.0
# Distinct characters of bench/data/tiny_text.txt (the model's vocabulary).
CHAR_VOCAB = 43


def gpt_step_flops(vocab, n_embd, n_layer, batch, block):
    """Multiply-adds x2 of the matmuls of one training step: the forward's
    linear layers and attention products, times 3 (forward + two backward
    products per matmul)."""
    tokens = batch * block
    linear = n_layer * (n_embd * 3 * n_embd + n_embd * n_embd + 2 * n_embd * 4 * n_embd)
    linear += n_embd * vocab
    attention = n_layer * 2 * batch * block * block * n_embd  # q@k^T and att@v
    forward = 2 * (tokens * linear + attention)
    return 3 * forward


def char_transformer(torch, compile, steps):
    import numpy as np
    with open(TEXT_PATH, encoding="utf-8") as f:
        text = f.read()
    chars = sorted(set(text))
    stoi = {ch: i for i, ch in enumerate(chars)}
    block_size, batch_size = 32, 16
    data = torch.tensor([stoi[ch] for ch in text], dtype=torch.long)
    # The windows' offsets come from NumPy (the same in every framework);
    # nanoGPT draws them with torch.randint, here they only become a tensor.
    batch_rng = np.random.default_rng(7)

    def get_batch():
        ix = torch.from_numpy(batch_rng.integers(0, len(data) - block_size, size=(batch_size,)))
        x = torch.stack([data[i:i + block_size] for i in ix])
        y = torch.stack([data[i + 1:i + 1 + block_size] for i in ix])
        return x, y

    model = make_gpt(torch, len(chars), n_embd=64, n_head=4, n_layer=2, block_size=block_size)
    init_from_numpy(torch, model, 6, gpt_init)
    model = compile(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    last = None
    for it in range(steps):
        xb, yb = get_batch()
        logits, loss = model(xb, yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        last = loss.item()
    return last


# ---------------------------------------------------------------------------
# Worker: one workload in one framework, in this process.
# ---------------------------------------------------------------------------

def short_error(exc):
    import traceback
    text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return text


def worker(args):
    result = {"framework": args.framework, "workload": args.workload, "steps": args.steps}
    import numpy  # noqa: F401  (imported before timing, as the framework is)
    if args.framework == "ember":
        import ember as torch
        result["version"] = "ember"
    else:
        import torch
        result["version"] = torch.__version__
        result["threads"] = torch.get_num_threads()
    compile_fn = (lambda f: f)
    if args.framework == "torch_compile":
        compile_fn = torch.compile
    fn = globals()[args.workload]
    # Outside the timed region: the one-time lazy imports that constructing
    # a first optimizer triggers (about 1 s in PyTorch 2.x, which imports
    # torch._dynamo there). No step runs, so nothing compiles.
    warm_start = time.perf_counter()
    dummy = torch.nn.Parameter(torch.zeros(1))
    for optimizer_class in (torch.optim.SGD, torch.optim.Adam, torch.optim.AdamW):
        optimizer_class([dummy], lr=0.1)
    del dummy
    result["warmup_s"] = time.perf_counter() - warm_start
    start = time.perf_counter()
    try:
        result["final_loss"] = fn(torch, compile_fn, args.steps)
        result["time_s"] = time.perf_counter() - start
    except Exception as exc:  # reported by the parent, the bench goes on
        import traceback
        result["time_s"] = time.perf_counter() - start
        result["error"] = short_error(exc)
        traceback.print_exc()
    if args.framework == "ember":
        result["compile_stats"] = {k: v for k, v in torch.compile_stats().items()}
    print(RESULT_TAG + json.dumps(result), flush=True)


# The calls the tutorials' original code makes that the workloads above
# avoid (or compute in NumPy), tried once in a framework's process; the
# parent prints which fail and how.
API_PROBES = [
    ("torch.sin (tutorial: y = torch.sin(x); here NumPy)",
     lambda torch: torch.sin(torch.ones(3)).sum().item()),
    ("Tensor.split (nanoGPT: c_attn(x).split(n_embd, dim=2))",
     lambda torch: torch.ones(2, 6).split(2, dim=1)[0].sum().item()),
    ("Tensor.masked_fill (nanoGPT: att.masked_fill(mask == 0, -inf))",
     lambda torch: torch.ones(2, 2).masked_fill(torch.ones(2, 2) == 0, 0.0).sum().item()),
    ("torch.tril (nanoGPT: the causal mask buffer)",
     lambda torch: torch.tril(torch.ones(3, 3)).sum().item()),
    ("backward through a slice (qkv[..., :n], as after a fused c_attn)",
     lambda torch: _slice_backward(torch)),
]


def _slice_backward(torch):
    x = torch.ones(2, 6, requires_grad=True)
    x[..., :2].sum().backward()
    return x.grad.sum().item()


def probe_worker():
    results = []
    for label, call in API_PROBES:
        try:
            call(_framework_module())
            results.append((label, None))
        except Exception as exc:
            lines = short_error(exc).splitlines()
            results.append((label, lines[0] + (" ... " + lines[-1] if len(lines) > 1 else "")))
    print(RESULT_TAG + json.dumps(results), flush=True)


def _framework_module():
    import ember
    return ember


# ---------------------------------------------------------------------------
# Parent: runs the workers, interleaved, and prints the tables.
# ---------------------------------------------------------------------------

class Config:
    def __init__(self, key, label, python, framework, env=None):
        self.key, self.label, self.python, self.framework = key, label, python, framework
        self.env = env or {}


def run_worker(config, workload, steps, extra_env, timeout):
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env.update(config.env)
    env.update(extra_env)
    cmd = [config.python, os.path.abspath(__file__), "--worker", "--framework", config.framework,
           "--workload", workload, "--steps", str(steps)]
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        return {"error": f"timeout after {timeout:g} s", "timeout": True,
                "proc_s": time.perf_counter() - start,
                "stderr_tail": (exc.stderr or b"")[-2000:].decode("utf-8", "replace")
                if isinstance(exc.stderr, bytes) else (exc.stderr or "")[-2000:]}
    proc_s = time.perf_counter() - start
    result = None
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_TAG):
            result = json.loads(line[len(RESULT_TAG):])
    if result is None:
        tail = proc.stderr.strip().splitlines()
        last = tail[-1] if tail else f"exit status {proc.returncode}, no output"
        result = {"error": f"crashed (exit status {proc.returncode}): {last}"}
    result["proc_s"] = proc_s
    result["stderr_tail"] = proc.stderr[-3000:]
    return result


def torch_version(python):
    try:
        out = subprocess.run([python, "-c", "import torch; print(torch.__version__)"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, str(exc)
    if out.returncode != 0:
        lines = out.stderr.strip().splitlines()
        return None, lines[-1] if lines else f"exit status {out.returncode}"
    return out.stdout.strip(), None


def make_configs(peers_python):
    configs = [Config("ember1", "ember 1st", DEBIAN_PYTHON, "ember",
                      {"PYTHONPATH": EMBER_PYTHONPATH}),
               Config("ember2", "ember 2nd", DEBIAN_PYTHON, "ember",
                      {"PYTHONPATH": EMBER_PYTHONPATH})]
    notes = []
    version, why = torch_version(peers_python) if os.path.exists(peers_python) else (
        None, f"{peers_python} does not exist")
    if version and not version.startswith("1."):
        configs += [Config("eager", f"torch {version} eager", peers_python, "torch"),
                    Config("compile1", "t.compile 1st", peers_python, "torch_compile"),
                    Config("compile2", "t.compile 2nd", peers_python, "torch_compile")]
    else:
        notes.append(f"PyTorch 2.x ({peers_python}): not usable ({why or version}); "
                     f"torch.compile columns skipped, the ratios use torch 1.13 eager")
    version13, why13 = torch_version(DEBIAN_PYTHON)
    if version13:
        configs.append(Config("eager13", f"torch {version13} eager", DEBIAN_PYTHON, "torch"))
    else:
        notes.append(f"Debian's PyTorch: not usable ({why13})")
    return configs, notes


def fmt_time(result):
    if result is None:
        return "-"
    if result.get("timeout"):
        return "timeout"
    if "error" in result:
        return "failed"
    return f"{result['time_s']:.2f}"


def median_result(results):
    """The run with the median time among those that worked (or the first
    failure when none did)."""
    good = [r for r in results if "error" not in r]
    if not good:
        return results[0] if results else None
    good.sort(key=lambda r: r["time_s"])
    return good[(len(good) - 1) // 2]


def print_table(headers, rows):
    widths = [max(len(str(row[i])) for row in [headers] + rows) for i in range(len(headers))]
    fmt = lambda row: "  ".join(str(v).ljust(w) if i == 0 else str(v).rjust(w)
                                for i, (v, w) in enumerate(zip(row, widths)))
    print(fmt(headers))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(fmt(row))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", default=None,
                        help="comma-separated workloads: " + ", ".join(WORKLOADS))
    parser.add_argument("--reps", type=int, default=None)
    parser.add_argument("--timeout", type=float, default=600.0, help="per run, seconds")
    parser.add_argument("--steps", type=int, default=None, help="override every workload's")
    parser.add_argument("--threads", type=int, default=1,
                        help="OMP/MKL/OPENBLAS_NUM_THREADS of every run (0: each "
                             "framework's default)")
    parser.add_argument("--peers-python", default=os.environ.get("PEERS_PYTHON",
                                                                 DEFAULT_PEERS_PYTHON))
    # worker mode
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--framework", help=argparse.SUPPRESS)
    parser.add_argument("--workload", help=argparse.SUPPRESS)
    parser.add_argument("--probe", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    if args.probe:
        return probe_worker()

    names = list(WORKLOADS)
    if args.only:
        names = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = [n for n in names if n not in WORKLOADS]
        if unknown:
            sys.exit(f"train_loops_bench: unknown workload(s) {unknown}; "
                     f"known: {', '.join(WORKLOADS)}")
    reps = args.reps or (1 if args.quick else 3)
    if not os.path.exists(os.path.join(EMBER_PYTHONPATH, "ember")):
        sys.exit(f"train_loops_bench: {EMBER_PYTHONPATH}/ember does not exist; "
                 f"build first (scripts/build)")

    thread_env = {}
    if args.threads > 0:
        thread_env = {var: str(args.threads) for var in
                      ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    configs, notes = make_configs(args.peers_python)
    keys = [c.key for c in configs]
    eager_key = "eager" if "eager" in keys else "eager13"

    print("== Ember tutorial-style training loops vs PyTorch (wall time incl. compiles) ==")
    threads = (f"{args.threads} thread(s) per run (OMP/MKL/OPENBLAS_NUM_THREADS)"
               if args.threads > 0 else "each framework's default threads")
    print(f"CPU cores: {os.cpu_count()}; load average {os.getloadavg()[0]:.2f}; {threads}; "
          f"{reps} repetition(s), interleaved, median shown; per-run timeout "
          f"{args.timeout:g} s{'; --quick' if args.quick else ''}")
    print("time (s) = in-process wall time: tensors + model + optimizer + all steps + "
          "the final .item(); each run a fresh process (imports and a throwaway "
          "optimizer construction not timed)")
    print("ember 1st: empty EMBER_CACHE_DIR; ember 2nd: a new process, same EMBER_CACHE_DIR")
    if "compile1" in keys:
        print("torch.compile: default (inductor) backend on the model / poly function; its "
              "CPU vectorization probe fails on this machine (a Sleef symbol), so inductor "
              "emits scalar code here and its numbers UNDERSTATE torch.compile")
    for note in notes:
        print("note: " + note)
    print(flush=True)

    all_results = {}
    temp_root = tempfile.mkdtemp(prefix="train_loops_bench.")
    try:
        for name in names:
            steps = args.steps or WORKLOADS[name][1 if args.quick else 0]
            per_config = {key: [] for key in keys}
            for rep in range(reps):
                ember_cache = os.path.join(temp_root, f"{name}.{rep}.ember_cache")
                inductor_cache = os.path.join(temp_root, f"{name}.{rep}.inductor_cache")
                os.makedirs(ember_cache)
                os.makedirs(inductor_cache)
                for config in configs:
                    extra = dict(thread_env)
                    if config.framework == "ember":
                        extra["EMBER_CACHE_DIR"] = ember_cache
                    if config.framework == "torch_compile":
                        extra["TORCHINDUCTOR_CACHE_DIR"] = inductor_cache
                    result = run_worker(config, name, steps, extra, args.timeout)
                    per_config[config.key].append(result)
                    print(f"  ran {name} rep {rep + 1}/{reps} {config.label}: "
                          f"{fmt_time(result)} (proc {result['proc_s']:.2f} s)"
                          + (f"  [{result['error']}]" if "error" in result else ""),
                          file=sys.stderr, flush=True)
            all_results[name] = (steps, per_config)
    finally:
        shutil.rmtree(temp_root, ignore_errors=True)

    # Table 1: times and ratios.
    print("time (s), median; ratio = ember / torch eager (< 1: Ember faster); "
          f"goals: 1st <= {FIRST_GOAL:g}x, 2nd <= {SECOND_GOAL:g}x")
    headers = ["workload", "steps"] + [c.label for c in configs] + [
        "1st/eager", "goal", "met", "2nd/eager", "goal", "met"]
    rows = []
    for name in names:
        steps, per_config = all_results[name]
        med = {key: median_result(per_config[key]) for key in keys}
        row = [name, steps] + [fmt_time(med[key]) for key in keys]
        eager = med.get(eager_key)
        for key, goal in (("ember1", FIRST_GOAL), ("ember2", SECOND_GOAL)):
            ember_r = med.get(key)
            if (eager is None or ember_r is None or "error" in eager or "error" in ember_r):
                row += ["-", f"<= {goal:g}x", ""]
            else:
                ratio = ember_r["time_s"] / eager["time_s"]
                row += [f"{ratio:.2f}x", f"<= {goal:g}x", "yes" if ratio <= goal else "NO"]
        rows.append(row)
    print_table(headers, rows)
    print()

    # Table 2: whole-process wall times.
    print("proc (s), median: the whole process as the parent sees it "
          "(interpreter start + imports + the above)")
    rows = []
    for name in names:
        steps, per_config = all_results[name]
        row = [name]
        for key in keys:
            results = per_config[key]
            row.append(f"{statistics.median(r['proc_s'] for r in results):.2f}"
                       if results else "-")
        rows.append(row)
    print_table(["workload"] + [c.label for c in configs], rows)
    print()

    # Table 3: final losses.
    print("final loss (the last step's, from the median run)")
    rows = []
    for name in names:
        steps, per_config = all_results[name]
        row = [name]
        for key in keys:
            r = median_result(per_config[key])
            row.append(fmt_time(r) if r is None or "error" in r else f"{r['final_loss']:.6g}")
        rows.append(row)
    print_table(["workload"] + [c.label for c in configs], rows)
    print()

    # Fractions of the machine's limits: the transformer's arithmetic.
    if "char_transformer" in all_results:
        steps, per_config = all_results["char_transformer"]
        flops = gpt_step_flops(vocab=CHAR_VOCAB, n_embd=64, n_layer=2, batch=16, block=32)
        print(f"char_transformer: {flops / 1e6:.0f} MFLOP per training step (3x the "
              f"forward's matmuls); per step = time / steps, including compiles; "
              f"fraction of one core's FMA peak ({CORE_PEAK_GFLOPS:g} GFLOP/s, the runs "
              f"use 1 thread)")
        rows = []
        for config in configs:
            r = median_result(per_config[config.key])
            if r is None or "error" in r:
                continue
            per_step = r["time_s"] / steps
            gflops = flops / per_step / 1e9
            rows.append([config.label, f"{per_step * 1e3:.1f}", f"{gflops:.1f}",
                         f"{100 * gflops / CORE_PEAK_GFLOPS:.1f}%"])
        print_table(["run", "ms/step", "GFLOP/s", "of peak"], rows)
        print()

    # Ember's compile stats, every run.
    print("ember.compile_stats() at the end of each Ember run:")
    for name in names:
        steps, per_config = all_results[name]
        for key in ("ember1", "ember2"):
            for rep, r in enumerate(per_config.get(key, [])):
                stats = r.get("compile_stats")
                label = "1st" if key == "ember1" else "2nd"
                per_step = ""
                if stats and "compiles" in stats:
                    per_step = f"  ({stats['compiles'] / steps:.2f} compiles/step)"
                print(f"  {name:26s} {label} rep {rep + 1}: "
                      f"{stats if stats is not None else 'n/a (' + r.get('error', '?') + ')'}"
                      f"{per_step}")
    print()

    # The tutorials' original calls that the workloads avoid.
    print("Ember API the tutorials' original code uses, avoided above (a probe process):")
    env = dict(os.environ, PYTHONPATH=EMBER_PYTHONPATH,
               EMBER_CACHE_DIR=tempfile.mkdtemp(prefix="train_loops_probe."))
    try:
        proc = subprocess.run([DEBIAN_PYTHON, os.path.abspath(__file__), "--probe"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              timeout=max(args.timeout, 120.0))
        probes = [json.loads(line[len(RESULT_TAG):]) for line in proc.stdout.splitlines()
                  if line.startswith(RESULT_TAG)]
        if not probes:
            tail = proc.stderr.strip().splitlines()
            print(f"  probe crashed: {tail[-1] if tail else proc.returncode}")
        for label, error in (probes[0] if probes else []):
            print(f"  {'ok     ' if error is None else 'MISSING'} {label}"
                  + ("" if error is None else f"\n          {error}"))
    except subprocess.TimeoutExpired:
        print("  probe: timeout")
    finally:
        shutil.rmtree(env["EMBER_CACHE_DIR"], ignore_errors=True)
    print()

    # Failures.
    failures = []
    for name in names:
        steps, per_config = all_results[name]
        for config in configs:
            seen = set()
            for r in per_config[config.key]:
                if "error" in r and r["error"] not in seen:
                    seen.add(r["error"])
                    failures.append((name, config.label, r["error"]))
    if failures:
        print("failures (exception text of the run; a torch.compile failure is its reason):")
        for name, label, error in failures:
            print(f"  {name} / {label}: {error}")
    else:
        print("failures: none")


if __name__ == "__main__":
    main()
