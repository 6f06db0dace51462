#!/usr/bin/python3
"""Training-step benchmark: Ember vs PyTorch eager, in one run on this machine.

The step: an MLP 784-512-10 (Linear, ReLU, Linear), cross-entropy on class
indices, backward, SGD (lr 0.1, no momentum), on batches of 128 random
images. Both frameworks start from the same weights (torch's default
initialization, copied into Ember through NumPy) and see the same batches in
the same order.

First, 5 steps on each side: the parameters and losses must agree within
tolerance, or the run aborts. Then, after a warm-up, steady-state steps are
timed one by one, the two sides taking turns in blocks of 25 steps, and the
median of each side is reported. Each timed step is
``zero_grad(); loss = loss_fn(model(x), y); loss.backward(); opt.step();
loss.item()``: reading the loss makes Ember run the step's compiled program
(forward, backward and update are one program), and for torch it is the
usual per-step sync. The batches are made into tensors before timing.

Ember's cold start is reported separately: the first step's wall time and
its trace + compile time (``ember.compile_stats()["compile_ms"]``).

ratio = torch_time / ember_time, so > 1 means Ember is faster. Goal: >= 1.5x.

Usage: PYTHONPATH=build/python /usr/bin/python3 bench/train_bench.py [--quick]
(scripts/bench builds the package and runs this after the eager bench.)
--quick times fewer steps (a smoke run).
"""
import os
import statistics
import sys
import time

import numpy as np

import ember

try:
    import torch
except ImportError:
    sys.exit("train_bench: PyTorch is not installed (Debian python3-torch); "
             "it is the baseline, so there is nothing to compare")

QUICK = "--quick" in sys.argv[1:]
IN_FEATURES, HIDDEN, CLASSES, BATCH, LR = 784, 512, 10, 128, 0.1
NUM_BATCHES = 8          # distinct random batches, cycled through
CHECK_STEPS = 5
WARMUP_STEPS = 10
TIMED_STEPS = 50 if QUICK else 400
BLOCK_STEPS = 25
GOAL = 1.5
# After 5 steps from the same weights: float32 sums in different orders.
RTOL, ATOL = 1e-4, 1e-5


def make_batches():
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal((BATCH, IN_FEATURES)).astype(np.float32)
          for _ in range(NUM_BATCHES)]
    ys = [rng.integers(0, CLASSES, size=BATCH).astype(np.int64) for _ in range(NUM_BATCHES)]
    return xs, ys


class Side:
    """One framework's model, loss, optimizer and batches."""

    def __init__(self, lib, model, xs, ys, from_numpy):
        self.lib, self.model = lib, model
        self.loss_fn = lib.nn.CrossEntropyLoss()
        self.optimizer = lib.optim.SGD(model.parameters(), lr=LR)
        self.xs = [from_numpy(x) for x in xs]
        self.ys = [from_numpy(y) for y in ys]
        self.next_batch = 0

    def step(self):
        """One training step; returns the loss as a Python float."""
        x, y = self.xs[self.next_batch], self.ys[self.next_batch]
        self.next_batch = (self.next_batch + 1) % NUM_BATCHES
        self.optimizer.zero_grad()
        loss = self.loss_fn(self.model(x), y)
        loss.backward()
        self.optimizer.step()
        return loss.item()

    def parameters_numpy(self):
        """The parameters as NumPy arrays. Ember's are read through a clone:
        ``p.numpy()`` hands the parameter's own buffer to NumPy, and from then
        on every in-place update of it syncs at once (docs/architecture.md),
        which would split each later step into several programs."""
        if self.lib is ember:
            return {name: p.detach().clone().numpy()
                    for name, p in self.model.named_parameters()}
        return {name: p.detach().numpy().copy() for name, p in self.model.named_parameters()}


def make_sides():
    xs, ys = make_batches()
    torch.manual_seed(0)
    torch_model = torch.nn.Sequential(torch.nn.Linear(IN_FEATURES, HIDDEN), torch.nn.ReLU(),
                                      torch.nn.Linear(HIDDEN, CLASSES))
    ember_model = ember.nn.Sequential(ember.nn.Linear(IN_FEATURES, HIDDEN), ember.nn.ReLU(),
                                      ember.nn.Linear(HIDDEN, CLASSES))
    ember_model.load_state_dict({name: ember.from_numpy(value.detach().numpy().copy())
                                 for name, value in torch_model.state_dict().items()})
    # Runs the pending initialization and copies now: left pending, they would
    # become part of the first step's program, which would then differ from
    # the steady-state step's.
    ember.sync()
    return (Side(torch, torch_model, xs, ys, lambda a: torch.from_numpy(a.copy())),
            Side(ember, ember_model, xs, ys, lambda a: ember.from_numpy(a.copy())))


def compile_counters():
    stats = ember.compile_stats()
    return stats["compiles"], stats["compile_ms"]


def check_steps(torch_side, ember_side):
    """Runs CHECK_STEPS on both sides, timing Ember's first step (cold), and
    aborts unless losses and parameters agree. Returns the cold numbers and
    the largest parameter difference."""
    compiles0, compile_ms0 = compile_counters()
    start = time.perf_counter()
    ember_losses = [ember_side.step()]
    cold_s = time.perf_counter() - start
    compiles1, compile_ms1 = compile_counters()
    ember_losses += [ember_side.step() for _ in range(CHECK_STEPS - 1)]
    compiles2, compile_ms2 = compile_counters()
    torch_losses = [torch_side.step() for _ in range(CHECK_STEPS)]

    if not np.allclose(ember_losses, torch_losses, rtol=RTOL, atol=ATOL):
        sys.exit(f"train_bench: FAIL: losses differ over {CHECK_STEPS} steps:\n"
                 f"  ember {ember_losses}\n  torch {torch_losses}")
    want, got = torch_side.parameters_numpy(), ember_side.parameters_numpy()
    max_diff = 0.0
    for name, expected in want.items():
        actual = got[name]
        diff = float(np.max(np.abs(actual.astype(np.float64) - expected)))
        max_diff = max(max_diff, diff)
        if not np.allclose(actual, expected, rtol=RTOL, atol=ATOL):
            sys.exit(f"train_bench: FAIL: after {CHECK_STEPS} SGD steps, parameter {name!r} "
                     f"differs from torch's (max |diff| = {diff:.3g}, rtol={RTOL}, "
                     f"atol={ATOL})")
    return {"cold_s": cold_s, "cold_compiles": compiles1 - compiles0,
            "cold_compile_ms": compile_ms1 - compile_ms0,
            "later_compiles": compiles2 - compiles1,
            "later_compile_ms": compile_ms2 - compile_ms1,
            "max_diff": max_diff, "final_loss": ember_losses[-1]}


def step_times(torch_side, ember_side):
    """Seconds per step of each side, a list per side. The sides take turns in blocks
    of BLOCK_STEPS, so that both see the same background load on a shared
    machine, without evicting each other's weights from the cache every step."""
    for side in (torch_side, ember_side):
        for _ in range(WARMUP_STEPS):
            side.step()
    times = {id(torch_side): [], id(ember_side): []}
    for _ in range(TIMED_STEPS // BLOCK_STEPS):
        for side in (torch_side, ember_side):
            side.step()  # the first step after the other side's block is not timed
            for _ in range(BLOCK_STEPS):
                start = time.perf_counter()
                side.step()
                times[id(side)].append(time.perf_counter() - start)
    return times[id(torch_side)], times[id(ember_side)]


def spread_ms(times):
    """The 10th and 90th percentiles in ms: how noisy the machine was."""
    deciles = statistics.quantiles(times, n=10)
    return f"{deciles[0] * 1e3:.2f}-{deciles[-1] * 1e3:.2f}"


def main():
    print("== Ember training-step benchmark vs PyTorch eager (one run, this machine) ==")
    print(f"torch {torch.__version__}: {torch.get_num_threads()} intra-op thread(s) "
          f"(its default here); CPU cores: {os.cpu_count()}; "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}; "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"step: MLP {IN_FEATURES}-{HIDDEN}-{CLASSES} (ReLU), batch {BATCH}, cross-entropy, "
          f"backward, SGD lr {LR}; same initial weights and batches on both sides")
    print(f"times: median of {TIMED_STEPS} steps after {WARMUP_STEPS} warm-up steps (the sides "
          f"alternating in blocks of {BLOCK_STEPS}), each ending with loss.item(); "
          f"ratio = torch / ember (> 1: Ember faster)")
    print(flush=True)

    wall_start = time.perf_counter()
    torch_side, ember_side = make_sides()
    check = check_steps(torch_side, ember_side)
    compiles_before = compile_counters()[0]
    torch_times, ember_times = step_times(torch_side, ember_side)
    torch_s, ember_s = statistics.median(torch_times), statistics.median(ember_times)
    timing_compiles = compile_counters()[0] - compiles_before

    ratio = torch_s / ember_s
    headers = ["case", "unit", "torch", "ember", "ratio", "goal", "met", "torch p10-p90",
               "ember p10-p90"]
    row = [f"MLP {IN_FEATURES}-{HIDDEN}-{CLASSES} train step, batch {BATCH}", "ms/step",
           f"{torch_s * 1e3:.3f}", f"{ember_s * 1e3:.3f}", f"{ratio:.2f}x", f">= {GOAL:g}x",
           "yes" if ratio >= GOAL else "NO", spread_ms(torch_times), spread_ms(ember_times)]
    widths = [max(len(h), len(v)) for h, v in zip(headers, row)]
    fmt = lambda cells: "  ".join(c.ljust(w) if i < 2 else c.rjust(w)
                                  for i, (c, w) in enumerate(zip(cells, widths)))
    print(fmt(headers))
    print("  ".join("-" * w for w in widths))
    print(fmt(row))

    print()
    print(f"check: {CHECK_STEPS} steps from the same weights, losses and parameters agree "
          f"(max |ember - torch| over parameters {check['max_diff']:.2g}, "
          f"rtol={RTOL}, atol={ATOL}; loss after step {CHECK_STEPS}: "
          f"{check['final_loss']:.4f})")
    print(f"Ember cold: first step {check['cold_s'] * 1e3:.1f} ms wall "
          f"(trace + compile + run), {check['cold_compiles']} compile(s), "
          f"{check['cold_compile_ms']:.1f} ms compiling; steps 2-{CHECK_STEPS}: "
          f"{check['later_compiles']} compile(s), {check['later_compile_ms']:.1f} ms")
    if timing_compiles:
        print(f"WARNING: {timing_compiles} compile(s) during the timed steps")
    print(f"ember.compile_stats(): {ember.compile_stats()}")
    print(f"ember.memory_stats():  {ember.memory_stats()}")
    print(f"total bench time {time.perf_counter() - wall_start:.1f} s")


if __name__ == "__main__":
    main()
