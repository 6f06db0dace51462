#!/usr/bin/python3
"""Eager benchmark: Ember's Python API vs PyTorch eager, in one run on this machine.

Each case runs the same expression on the same data in both frameworks, checks
once that the results agree (np.allclose; a mismatch aborts the run), then
times the median of several repetitions after a warm-up. Every timed region
ends with the result materialized: ember.sync() for Ember (its ops are traced
lazily and compiled), nothing extra for torch eager (its ops run as called).
Ember's first call of each case compiles; its wall time and the compiler's own
time (compile_stats()["compile_ms"]) are reported separately.

ratio = torch_time / ember_time, so > 1 means Ember is faster.
If torch.compile exists (PyTorch 2.x) it is timed as a third column.

Usage: PYTHONPATH=build/python /usr/bin/python3 bench/eager_bench.py [--quick]
(scripts/bench builds the package and runs this after the foundation bench.)
--quick uses fewer repetitions and drops the 16M and 2048 cases (a smoke run).
"""
import os
import statistics
import sys
import time

import numpy as np

import ember

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    sys.exit("eager_bench: PyTorch is not installed (Debian python3-torch); "
             "it is the baseline, so there is nothing to compare")

QUICK = "--quick" in sys.argv[1:]
HAS_TORCH_COMPILE = hasattr(torch, "compile")
# Time spent timing one side of one case (after warm-up); the median is over
# at least MIN_REPS and at most MAX_REPS repetitions.
CASE_BUDGET_S = 0.5 if QUICK else 2.0
MIN_REPS, MAX_REPS = (3, 5) if QUICK else (5, 25)
# The per-op overhead case: a 1-element add, this many times per timed run.
LOOP_OPS = 1000


# The expressions. Each is written once and called with ember or torch
# tensors; `gelu` is the only op spelled differently (torch 1.13 has no
# Tensor.gelu method), so it is passed in.

def chain5(a, b, c, d, e, gelu=None):
    return (a * b + c).relu() * d - e


def gelu_chain(a, b, c, d, gelu):
    return gelu(a * b + c) * d


def softmax_last(x, gelu=None):
    return x.softmax(dim=-1)


def layer_norm_like(x, w, b, gelu=None):
    centered = x - x.mean(-1, keepdim=True)
    var = (centered * centered).mean(-1, keepdim=True)
    return centered * (var + 1e-5).rsqrt() * w + b


def matmul(a, b, gelu=None):
    return a @ b


def add_loop(x, gelu=None):
    y = x
    for _ in range(LOOP_OPS):
        y = y + x
    return y


# Running one side of a case. `finish` turns the returned value into a
# materialized result inside the timed region.

def ember_finish(out):
    ember.sync()
    return out


def ember_finish_item(out):
    return out.item()


def torch_finish(out):
    return out


def torch_finish_item(out):
    return out.item()


def median_seconds(run):
    """Median wall time of `run()` over MIN_REPS..MAX_REPS repetitions,
    stopping early once CASE_BUDGET_S is spent (the caller warmed it up)."""
    times = []
    budget_end = time.perf_counter() + CASE_BUDGET_S
    while len(times) < MAX_REPS and (len(times) < MIN_REPS or time.perf_counter() < budget_end):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def as_numpy(value):
    if isinstance(value, (int, float)):
        return np.asarray(value)
    if isinstance(value, torch.Tensor):
        return value.detach().numpy()
    return value.numpy()


def check_close(name, ember_value, torch_value, rtol, atol):
    got, want = as_numpy(ember_value), as_numpy(torch_value)
    if got.shape != want.shape or not np.allclose(got, want, rtol=rtol, atol=atol):
        diff = (np.max(np.abs(got.astype(np.float64) - want))
                if got.shape == want.shape else "shape " + str(got.shape) + " vs " + str(want.shape))
        sys.exit(f"eager_bench: FAIL {name}: ember's result does not match torch's "
                 f"(max |diff| = {diff}, rtol={rtol}, atol={atol})")
    if got.shape == want.shape and got.size:
        return float(np.max(np.abs(got.astype(np.float64) - want)))
    return 0.0


class Case:
    def __init__(self, name, fn, arrays, goal=None, rtol=1e-5, atol=1e-5,
                 per_op=False, unit="ms"):
        self.name, self.fn, self.arrays = name, fn, arrays
        self.goal, self.rtol, self.atol = goal, rtol, atol
        self.per_op, self.unit = per_op, unit


def random_arrays(rng, shape, count, low=-2.0, high=2.0):
    return [rng.uniform(low, high, size=shape).astype(np.float32) for _ in range(count)]


def build_cases():
    rng = np.random.default_rng(0)
    cases = []
    sizes = [1 << 20] if QUICK else [1 << 20, 1 << 24]
    for n in sizes:
        label = f"{n >> 20}M"
        goal = 3.0 if n >= 1 << 24 else None
        cases.append(Case(f"(a*b+c).relu()*d-e {label}", chain5,
                          random_arrays(rng, (n,), 5), goal, rtol=1e-5, atol=1e-5))
        cases.append(Case(f"gelu(a*b+c)*d {label}", gelu_chain,
                          random_arrays(rng, (n,), 4), goal, rtol=1e-4, atol=1e-5))
    cases.append(Case("softmax(dim=-1) 4096x1024", softmax_last,
                      random_arrays(rng, (4096, 1024), 1, -4.0, 4.0), 1.5,
                      rtol=1e-4, atol=1e-7))
    x, = random_arrays(rng, (4096, 1024), 1, -4.0, 4.0)
    w, b = random_arrays(rng, (1024,), 2, 0.5, 1.5)
    cases.append(Case("layer-norm-like 4096x1024", layer_norm_like, [x, w, b], None,
                      rtol=1e-4, atol=1e-4))
    for n in ([256, 1024] if QUICK else [256, 1024, 2048]):
        # Sums of n products in a different order: looser tolerance.
        cases.append(Case(f"matmul {n}x{n} @ {n}x{n}", matmul,
                          random_arrays(rng, (n, n), 2, -1.0, 1.0), 0.9,
                          rtol=1e-4, atol=1e-4 * np.sqrt(n)))
    cases.append(Case(f"per-op overhead: 1-elem add x{LOOP_OPS}", add_loop,
                      [np.array([0.5], dtype=np.float32)], 1.0,
                      rtol=1e-5, atol=1e-3, per_op=True, unit="us/op"))
    return cases


def compile_counters():
    stats = ember.compile_stats()
    return stats["compiles"], stats["compile_ms"]


def run_case(case):
    """Returns a dict of timings (seconds per run) and checks for one case."""
    torch_args = [torch.from_numpy(a.copy()) for a in case.arrays]
    ember_args = [ember.from_numpy(a.copy()) for a in case.arrays]
    t_finish = torch_finish_item if case.per_op else torch_finish
    e_finish = ember_finish_item if case.per_op else ember_finish

    def torch_run():
        return t_finish(case.fn(*torch_args, gelu=F.gelu))

    def ember_run():
        return e_finish(case.fn(*ember_args, gelu=ember.gelu))

    # Cold: Ember's first call traces, compiles and runs.
    compiles0, compile_ms0 = compile_counters()
    start = time.perf_counter()
    ember_value = ember_run()
    cold_s = time.perf_counter() - start
    compiles1, compile_ms1 = compile_counters()

    with torch.no_grad():
        torch_value = torch_run()
        max_diff = check_close(case.name, ember_value, torch_value, case.rtol, case.atol)
        del ember_value, torch_value
        result = {"cold_s": cold_s, "cold_compiles": compiles1 - compiles0,
                  "cold_compile_ms": compile_ms1 - compile_ms0, "max_diff": max_diff}

        for _ in range(2):
            torch_run()
            ember_run()
        warm_compiles0, _ = compile_counters()
        result["torch_s"] = median_seconds(torch_run)
        result["ember_s"] = median_seconds(ember_run)
        # A compile inside the timed region would make the median meaningless.
        result["warm_compiles"] = compile_counters()[0] - warm_compiles0

        if HAS_TORCH_COMPILE:
            compiled = torch.compile(case.fn)

            def compiled_run():
                return t_finish(compiled(*torch_args, gelu=F.gelu))

            compiled_run()
            compiled_run()
            result["compiled_s"] = median_seconds(compiled_run)
    return result


def scaled(case, seconds):
    """Seconds per run -> the number shown in the table (ms, or us per op)."""
    return seconds * 1e6 / LOOP_OPS if case.per_op else seconds * 1e3


def print_table(rows):
    headers = ["case", "unit", "torch", "ember", "ratio"]
    if HAS_TORCH_COMPILE:
        headers += ["t.compile", "ratio"]
    headers += ["goal", "met"]
    table = []
    for case, r in rows:
        ratio = r["torch_s"] / r["ember_s"]
        line = [case.name, case.unit, f"{scaled(case, r['torch_s']):.3f}",
                f"{scaled(case, r['ember_s']):.3f}", f"{ratio:.2f}x"]
        if HAS_TORCH_COMPILE:
            line += [f"{scaled(case, r['compiled_s']):.3f}",
                     f"{r['compiled_s'] / r['ember_s']:.2f}x"]
        if case.goal is None:
            line += ["-", ""]
        else:
            line += [f">= {case.goal:g}x", "yes" if ratio >= case.goal else "NO"]
        table.append(line)
    widths = [max(len(str(row[i])) for row in [headers] + table) for i in range(len(headers))]
    fmt = lambda row: "  ".join(str(v).ljust(w) if i < 2 else str(v).rjust(w)
                                for i, (v, w) in enumerate(zip(row, widths)))
    print(fmt(headers))
    print("  ".join("-" * w for w in widths))
    for line in table:
        print(fmt(line))


def main():
    print("== Ember eager benchmark vs PyTorch eager (one run, this machine) ==")
    print(f"torch {torch.__version__}: {torch.get_num_threads()} intra-op thread(s) "
          f"(its default here); CPU cores: {os.cpu_count()}; "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}")
    if not HAS_TORCH_COMPILE:
        print("torch.compile: not available in this PyTorch, column skipped")
    print("times: median per run after warm-up, result materialized; "
          "ratio = torch / ember (> 1: Ember faster)")
    print(flush=True)

    wall_start = time.perf_counter()
    rows = []
    for case in build_cases():
        rows.append((case, run_case(case)))
        print(f"  ran: {case.name}", file=sys.stderr, flush=True)
    print()
    print_table(rows)

    print()
    print("Ember cold (first call: trace + compile + run) and checks; 0 compiles means an")
    print("earlier row compiled the same graph (dims are dynamic, so sizes share code):")
    for case, r in rows:
        warn = (f"  WARNING: {r['warm_compiles']} compile(s) during timing"
                if r["warm_compiles"] else "")
        print(f"  {case.name:40s} first call {r['cold_s'] * 1e3:8.1f} ms, "
              f"{r['cold_compiles']} compile(s), {r['cold_compile_ms']:7.1f} ms compiling, "
              f"max |ember - torch| {r['max_diff']:.2g}{warn}")
    print()
    print(f"ember.compile_stats(): {ember.compile_stats()}")
    print(f"ember.memory_stats():  {ember.memory_stats()}")
    print(f"total bench time {time.perf_counter() - wall_start:.1f} s")


if __name__ == "__main__":
    main()
