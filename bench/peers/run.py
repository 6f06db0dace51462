#!/usr/bin/python3
"""Ember next to its peers on this machine's CPU, with the machine's limits measured the same run.

The benchmark of issue 20: every CPU-performance change is measured with it.
Each framework runs in its own process (bench/peers/worker.py) with its own
Python: Ember with /usr/bin/python3 and PYTHONPATH=build/python; PyTorch 2.x
eager, torch.compile and JAX jit with the peers venv (outside the repo, see
docs/build.md); PyTorch 1.13 with /usr/bin/python3. The workers set a workload
up (compile + warm-up), then the driver asks them in turn for blocks of timed
repetitions, round-robin with a rotating start, so that a slow minute on the
shared machine hits every framework alike; the median over all repetitions is
reported. A worker is paused (SIGSTOP, with its process group) while the others
run, so that its idle thread pools cannot spin on a core the timed one needs. Before and after the timings, bench/peers/limits_probe.c (compiled
into a temporary folder: cc -O3 -march=native -fopenmp) measures the FMA peak
and STREAM-style bandwidth at 1 and at all (here 2) threads; the better of the
two runs is kept.

ratio = peer time / Ember time (> 1: Ember is faster). Ember's GB/s (memory-
bound workloads: bytes read + written once) or GFLOP/s (matmul, MLP step,
transformer block) is given with its fraction of the same-run limit at all
threads and at one thread (none for the slicing pair: a few MB that stay in the caches).

Usage: /usr/bin/python3 bench/peers/run.py [--quick] [--only WORKLOAD[,..]]
       [--frameworks ember,torch,compile,jax,torch113] [--peers-python PATH]
       [--json PATH]
Build first (bash scripts/build). --quick: fewer rounds and repetitions.
"""
import argparse
import json
import os
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DEBIAN_PYTHON = "/usr/bin/python3"
SETUP_TIMEOUT_S = 600   # torch.compile of the training step is slow here
RUN_TIMEOUT_S = 300

# name, label, what one call does (bytes moved or flops), unit.
D, MLP_B = 256, 128
TF_TOKENS = 8 * 128
CONV_FLOP = 2 * 32 * 64 * 64 * 9 * 32 * 32
WORKLOADS = [
    ("chain", "5-op chain, 16M f32", 5 * 16 * 2**20 * 4, "B"),
    ("layernorm", "layer norm 4096x1024", 2 * 4096 * 1024 * 4, "B"),
    ("softmax", "softmax 4096x1024", 2 * 4096 * 1024 * 4, "B"),
    ("matmul1024", "matmul 1024", 2 * 1024**3, "F"),
    ("matmul2048", "matmul 2048", 2 * 2048**3, "F"),
    # Forward 2B(784*512+512*10); backward: weight grads of both layers and
    # the hidden layer's input grad.
    ("mlp", "MLP 784-512-10 train step, b128", 4 * MLP_B * 784 * 512 + 6 * MLP_B * 512 * 10, "F"),
    # Projections and MLP (2*tokens*in*out each) + scores and att@v.
    ("transformer", "transformer block fwd b8 s128 d256 h4",
     2 * TF_TOKENS * (D * 3 * D + D * D + 2 * D * 4 * D) + 2 * 2 * 8 * 128 * 128 * D, "F"),
    # Two 3x3 convs 64->64 on (32, 64, 32, 32) (2*N*O*C*9*H*W each), + ReLU;
    # the training step adds both weight grads and the second conv's input
    # grad (the first conv's input needs none).
    ("conv_fwd", "2x (conv3x3 64->64 + ReLU) fwd, b32 32x32", 2 * CONV_FLOP, "F"),
    ("conv_train", "2x (conv3x3 64->64 + ReLU) train step, b32", 5 * CONV_FLOP, "F"),
    # 2-layer LSTM, input and hidden 256, seq 64, batch 32: forward 2 GEMMs
    # per layer (2*T*B*256*1024 each), backward twice that.
    ("lstm", "2-layer LSTM train step h256 s64 b32", 3 * 2 * 2 * (2 * 64 * 32 * 256 * 1024), "F"),
    # Attention (issue 14): q k^T and weights @ v, 2 * L * S * 64 flops each
    # per (batch, head); 4 x 8 of them.
    ("sdpa128", "SDPA fwd b4 h8 s128 d64", 4 * 32 * 128 * 128 * 64, "F"),
    ("sdpa512", "SDPA fwd b4 h8 s512 d64", 4 * 32 * 512 * 512 * 64, "F"),
    ("sdpa2048", "SDPA fwd b4 h8 s2048 d64", 4 * 32 * 2048 * 2048 * 64, "F"),
    # Forward per layer: projections and MLP, scores and weights @ v; the
    # head; training ~3x the forward.
    ("gpt", "GPT train step 6L d256 h8 b8 s128",
     3 * (6 * (2 * 1024 * (256 * 3 * 256 + 256 * 256 + 2 * 256 * 1024)
               + 2 * 2 * 8 * 128 * 128 * 256) + 2 * 1024 * 256 * 256), "F"),
    ("add1", "1-element add, value read every call", None, "op"),
    # A few MB: these stay in the caches, so no fraction of DRAM bandwidth.
    ("slice_mul", "x[0] * 1.5, x (3,8,128,256)", 2 * 8 * 128 * 256 * 4, "b"),
    ("whole_mul", "x * 1.5, x (3,8,128,256)", 2 * 3 * 8 * 128 * 256 * 4, "b"),
]
WORKLOAD_NAMES = [w[0] for w in WORKLOADS]
SLICE_PARTS = 3  # x[0] is a third of x

# Printed when the compile worker reports Inductor's ISA as invalid.
SCALAR_INDUCTOR_NOTE = (
    "torch.compile: Inductor's CPU vectorization probe fails on this machine "
    "(INVALID_VEC_ISA: its test library fails to load, undefined symbol Sleef_expf16_u10), "
    "so it generates scalar C++ loops: its element-wise/normalization numbers understate it.")
NOTES = [
    "add1: time per op (ops of one call / call time); each op's value is read (.item()).",
    "Ember GB/s counts each input read and each output written once; fractions are of the "
    "best of the probe's bandwidths (STREAM counting); GFLOP/s fractions are of the FMA peak. "
    "Ember's generated kernels split their outer parallel loop over ember.get_num_threads() threads.",
    "transformer block: pre-LN, no mask, exact GELU, q/k/v split of one projection.",
    "n/a: the peer has no version of that workload in worker.py (JAX: lstm, gpt).",
]


class Framework:
    def __init__(self, key, python, worker_arg, env):
        self.key, self.python, self.worker_arg, self.env = key, python, worker_arg, env
        self.proc = None
        self.version = None
        self.error = None

    def start(self, quick):
        cmd = [self.python, os.path.join(HERE, "worker.py"), self.worker_arg]
        if quick:
            cmd.append("--quick")
        env = dict(os.environ, **self.env)
        # Its own process group, so that pausing it pauses its helpers too
        # (Inductor's compile workers).
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.stderr_log, env=env, text=True, bufsize=1,
                                     start_new_session=True)

    def signal_group(self, sig):
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass

    def ask(self, msg, timeout):
        """Sends one command; returns the reply, or {"error": ...} on death or timeout."""
        if self.proc is None or self.proc.poll() is not None:
            return {"error": "worker not running"}
        self.signal_group(signal.SIGCONT)
        try:
            self.proc.stdin.write(json.dumps(msg) + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            return {"error": "worker exited"}
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            self.stop()
            return {"error": f"timed out after {timeout} s"}
        line = self.proc.stdout.readline()
        if not line:
            code = self.proc.wait()
            self.proc = None
            return {"error": f"worker exited with {code} (see its stderr log)"}
        # Paused between its turns: idle thread pools that keep spinning
        # (OpenMP, XLA's) would otherwise take a core from the framework
        # being timed on this 2-core machine.
        self.signal_group(signal.SIGSTOP)
        return json.loads(line)

    def stop(self):
        if self.proc is not None:
            self.signal_group(signal.SIGKILL)
            self.proc.wait()
            self.proc = None


def ember_python_path():
    """build/python of this checkout, else wherever this Python imports ember
    from (a Bazel test's runfiles); None when neither has it."""
    built = os.path.join(REPO, "build", "python")
    if os.path.isdir(os.path.join(built, "ember")):
        return built
    import importlib.util
    spec = importlib.util.find_spec("ember")
    if spec is None or not spec.submodule_search_locations:
        return None
    return os.path.dirname(list(spec.submodule_search_locations)[0])


def make_frameworks(args, log_dir):
    ember_env = {"PYTHONPATH": os.pathsep.join(
        p for p in [ember_python_path(), os.environ.get("PYTHONPATH")] if p)}
    peers = args.peers_python
    all_fw = {
        "ember": Framework("ember", DEBIAN_PYTHON, "ember", ember_env),
        "torch": Framework("torch", peers, "torch", {}),
        "compile": Framework("compile", peers, "compile", {}),
        "jax": Framework("jax", peers, "jax", {}),
        "torch113": Framework("torch113", DEBIAN_PYTHON, "torch", {}),
    }
    chosen = []
    for key in args.frameworks.split(","):
        if key not in all_fw:
            sys.exit(f"run.py: unknown framework {key!r} (one of {', '.join(all_fw)})")
        fw = all_fw[key]
        fw.stderr_log = open(os.path.join(log_dir, key + ".stderr"), "w")
        chosen.append(fw)
    return chosen


def best_limits(first, second):
    """Limits are maxima: keeps the better of two probe runs, number by number."""
    if "error" in first or "error" in second:
        return second if "error" in first else first
    for t, numbers in second["threads"].items():
        for k, v in numbers.items():
            first["threads"][t][k] = max(first["threads"][t].get(k, 0), v)
    return first


def measure_limits(tmp):
    """Compiles (once) and runs limits_probe.c; returns its JSON, or {"error": ...}."""
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        return {"error": "no C compiler (cc) on PATH"}
    exe = os.path.join(tmp, "limits_probe")
    build = None if os.path.exists(exe) else subprocess.run([cc, "-O3", "-march=native", "-fopenmp",
                            os.path.join(HERE, "limits_probe.c"), "-o", exe],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if build is not None and build.returncode != 0:
        return {"error": "limits_probe.c did not compile: " + build.stdout[-300:]}
    threads = str(os.cpu_count() or 1)
    out = subprocess.run([exe, threads], stdout=subprocess.PIPE, text=True, timeout=300)
    limits = json.loads(out.stdout)
    limits["all_threads"] = threads if threads in limits["threads"] else "1"
    return limits


def checkout_commit():
    """The commit being measured (+ "-dirty" with local changes), or "(no git)"."""
    try:
        out = subprocess.run(["git", "-C", REPO, "describe", "--always", "--dirty"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                             timeout=30)
        return out.stdout.strip() or "(no git)"
    except (OSError, subprocess.TimeoutExpired):
        return "(no git)"


def limit_of(limits, unit, threads=None):
    if "error" in limits or unit not in ("B", "F"):
        return None
    best = limits["threads"][threads or limits["all_threads"]]
    if unit == "F":
        return best["fma_gflops"]
    return max(v for k, v in best.items() if k.endswith("_gbs"))


def time_workload(frameworks, name, rounds, block_budget_s, quick):
    """Sets the workload up everywhere, then round-robins blocks of repetitions."""
    results = {}
    reps = {}
    for fw in frameworks:
        if fw.proc is None and fw.error is None:
            fw.start(quick)
            hello = fw.ask({"cmd": "hello"}, SETUP_TIMEOUT_S)
            if "error" in hello:
                fw.error = hello["error"]
            else:
                fw.version = hello["version"]
        if fw.error is not None:
            results[fw.key] = {"error": fw.error}
            continue
        reply = fw.ask({"cmd": "setup", "workload": name}, SETUP_TIMEOUT_S)
        if "error" in reply:
            results[fw.key] = {k: reply[k] for k in ("error", "unsupported") if k in reply}
            continue
        results[fw.key] = {"times": [], "first_s": reply["first_s"]}
        reps[fw.key] = max(1, min(20, int(block_budget_s / max(reply["warm_s"], 1e-6))))
    live = [fw for fw in frameworks if fw.key in reps]
    for r in range(rounds):
        order = live[r % len(live):] + live[:r % len(live)] if live else []
        for fw in order:
            if "error" in results[fw.key]:
                continue
            reply = fw.ask({"cmd": "run", "reps": reps[fw.key]}, RUN_TIMEOUT_S)
            if "error" in reply:
                results[fw.key] = {"error": reply["error"]}
            else:
                results[fw.key]["times"] += reply["times"]
    for res in results.values():
        if "times" in res:
            res["median_s"] = statistics.median(res["times"])
            res["reps"] = len(res["times"])
    return results


def fmt_time(seconds, unit):
    if unit == "op":
        return f"{seconds * 1e6:.2f} us/op"
    if seconds >= 0.1:
        return f"{seconds * 1e3:.0f} ms"
    if seconds >= 0.001:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.0f} us"


def print_table(headers, rows):
    widths = [max(len(str(r[i])) for r in [headers] + rows) for i in range(len(headers))]
    line = lambda r: "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |"
    print(line(headers))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print(line(r))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and repetitions")
    parser.add_argument("--only", default=",".join(WORKLOAD_NAMES),
                        help="comma-separated workloads: " + ", ".join(WORKLOAD_NAMES))
    parser.add_argument("--frameworks", default="ember,torch,compile,jax,torch113")
    parser.add_argument("--peers-python", default=os.path.join(
        os.environ.get("PEERS_VENV", "/work/peers"), "bin", "python"))
    parser.add_argument("--json", help="also write the results as JSON here")
    parser.add_argument("--no-limits", action="store_true", help="skip the FMA/bandwidth probe")
    args = parser.parse_args()
    selected = args.only.split(",")
    for name in selected:
        if name not in WORKLOAD_NAMES:
            sys.exit(f"run.py: unknown workload {name!r} (one of {', '.join(WORKLOAD_NAMES)})")
    if "ember" in args.frameworks.split(",") and ember_python_path() is None:
        sys.exit("run.py: build/python/ember is missing; run `bash scripts/build` first")
    rounds, block_budget_s = (2, 0.05) if args.quick else (8, 0.5)

    tmp = tempfile.mkdtemp(prefix="ember-peers-")
    frameworks = make_frameworks(args, tmp)
    if any(fw.python == args.peers_python for fw in frameworks) and not os.path.exists(
            args.peers_python):
        for fw in frameworks:
            if fw.python == args.peers_python:
                fw.error = f"{args.peers_python} does not exist (see docs/build.md)"
    limits = {"error": "skipped (--no-limits)"} if args.no_limits else measure_limits(tmp)
    started = time.time()
    results = {}
    try:
        for name in selected:
            print(f"[{time.time() - started:5.0f} s] {name} ...", file=sys.stderr, flush=True)
            results[name] = time_workload(frameworks, name, rounds, block_budget_s, args.quick)
    finally:
        for fw in frameworks:
            fw.stop()
            fw.stderr_log.close()
    if not args.no_limits:
        # Probed again after the timings: the machine is shared, and a busy
        # minute would otherwise make the limits (and Ember's fractions) wrong.
        limits = best_limits(limits, measure_limits(tmp))

    ops_per_call = 200 if args.quick else 1000
    versions = {fw.key: fw.version or fw.error for fw in frameworks}
    if "ember" in versions:
        versions["ember"] = f"ember {checkout_commit()}"
    notes = list(NOTES)
    if "INVALID_VEC_ISA" in str(versions.get("compile")):
        notes.insert(0, SCALAR_INDUCTOR_NOTE)
    report = {"limits": limits, "versions": versions, "workloads": {}, "notes": notes,
              "quick": args.quick}
    peers = [fw for fw in frameworks if fw.key != "ember"]
    headers = (["workload", "ember"] + [f"vs {fw.key}" for fw in peers]
               + ["ember rate", f"of limit ({limits.get('all_threads', '?')} threads)"])
    rows = []
    for key, label, work, unit in WORKLOADS:
        if key not in results:
            continue
        res = results[key]
        per = ops_per_call if unit == "op" else 1
        entry = {"label": label, "unit": unit, "work": work, "frameworks": {}}
        for fw in frameworks:
            r = res.get(fw.key, {})
            e = {k: v for k, v in r.items() if k != "times"}
            if "median_s" in r:
                e["median_s"] = r["median_s"] / per
            entry["frameworks"][fw.key] = e
        ember = entry["frameworks"].get("ember", {})
        ember_s = ember.get("median_s")
        row = [label, fmt_time(ember_s, unit) if ember_s else ember.get("error", "-")[:40]]
        for fw in peers:
            p = entry["frameworks"][fw.key]
            if "median_s" in p and ember_s:
                ratio = p["median_s"] / ember_s
                p["ratio"] = ratio
                row.append(f"{ratio:.2f} ({fmt_time(p['median_s'], unit)})")
            elif "median_s" in p:
                row.append(f"({fmt_time(p['median_s'], unit)})")
            elif p.get("unsupported"):
                row.append("n/a")
            else:
                row.append(p.get("error", "-")[:40])
        rate, fraction = "", ""
        if ember_s and work:
            if unit in ("B", "b"):
                entry["ember_gbs"] = work / ember_s / 1e9
                rate = f"{entry['ember_gbs']:.1f} GB/s"
            else:
                entry["ember_gflops"] = work / ember_s / 1e9
                rate = f"{entry['ember_gflops']:.1f} GFLOP/s"
            lim, lim1 = limit_of(limits, unit), limit_of(limits, unit, "1")
            if lim:
                entry["fraction_of_limit"] = work / ember_s / 1e9 / lim
                entry["fraction_of_1_thread_limit"] = work / ember_s / 1e9 / lim1
                fraction = (f"{entry['fraction_of_limit'] * 100:.0f}% "
                            f"({entry['fraction_of_1_thread_limit'] * 100:.0f}% of 1 thread)")
        row += [rate, fraction]
        rows.append(row)
        report["workloads"][key] = entry

    # The slice reads a third of x: its per-element cost relative to the whole.
    if "slice_mul" in report["workloads"] and "whole_mul" in report["workloads"]:
        per_element = {}
        for fw in frameworks:
            part = report["workloads"]["slice_mul"]["frameworks"][fw.key].get("median_s")
            whole = report["workloads"]["whole_mul"]["frameworks"][fw.key].get("median_s")
            if part and whole:
                per_element[fw.key] = part * SLICE_PARTS / whole
        report["slice_cost_per_element"] = per_element

    print("Ember vs peers on this CPU" + (" (--quick)" if args.quick else ""))
    print("ratio = peer time / Ember time (> 1: Ember is faster); peer median in parentheses")
    print()
    print_table(headers, rows)
    print()
    if report.get("slice_cost_per_element"):
        print("x[0] * 1.5 per element / x * 1.5 per element: " + ", ".join(
            f"{k} {v:.1f}x" for k, v in report["slice_cost_per_element"].items()))
    if "error" in limits:
        print(f"limits: {limits['error']}")
    else:
        parts = [f"{t} thread{'s' if t != '1' else ''}: FMA peak {v['fma_gflops']:.0f} GFLOP/s, "
                 f"copy {v['copy_gbs']:.1f}, triad {v['triad_gbs']:.1f}, triad with "
                 f"streaming stores {v['triad_nt_gbs']:.1f}, read {v['read_gbs']:.1f} GB/s"
                 for t, v in limits["threads"].items()]
        print(f"limits ({limits['isa']}): " + "; ".join(parts))
    print("versions: " + "; ".join(f"{k}: {v}" for k, v in report["versions"].items()))
    for note in notes:
        print("note: " + note)
    print(f"worker logs: {tmp}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
