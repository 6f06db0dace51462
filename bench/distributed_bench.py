#!/usr/bin/python3
"""all_reduce bandwidth and DDP step time: Ember's Gloo and MPI engines
against PyTorch 2.x's Gloo backend, 2 ranks on this machine (loopback).

Each framework/engine runs as its own pair of long-lived rank processes
(Ember: /usr/bin/python3 with PYTHONPATH=build/python; PyTorch 2.x: the
peers venv, /work/peers/bin/python, outside the repo; Ember's MPI pair under
mpirun). The driver sends every pair the same block of work in turn,
round-robin with a rotating start, so that a busy minute on the shared
machine hits every pair alike, and a paused pair (SIGSTOP) cannot spin on a
core the timed one needs; the median over all repetitions is reported.

all_reduce: float32 SUM in place, 1 KiB to 256 MiB; GB/s is the algorithm
bandwidth (bytes / time; for 2 ranks the bus bandwidth is the same).
DDP step: an MLP (784-1024-1024-10, batch 64 a rank, SGD) forward,
backward (bucketed all_reduce), step; 2 ranks against 1 rank of the same
framework (per-rank batch fixed: weak scaling; efficiency = t1 / t2).

Ember's collectives run with their default cross-rank shape check
(EMBER_DIST_CHECK_SHAPES=1: one small all-gather before each payload;
docs/knobs.md), which weighs on small sizes; set it to 0 in the
environment to time the engine alone. Numbers on a shared, busy 2-core
machine are indicative only.

Usage: /usr/bin/python3 bench/distributed_bench.py [--quick]
       [--pairs ember-gloo,ember-mpi,torch-gloo] [--max-mib 256] [--json PATH]
Build first (bash scripts/build).
"""
import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PEERS_PYTHON = "/work/peers/bin/python"


# ---------------------------------------------------------------- worker side

def _worker(framework, backend):
    """One rank: reads commands on stdin, answers (rank 0) on stdout."""
    import datetime
    import numpy as np
    if framework == "ember":
        import ember as torch
        import ember.distributed as dist
        import ember.nn as nn
        from ember.nn.parallel import DistributedDataParallel as DDP
    else:
        import torch
        import torch.distributed as dist
        import torch.nn as nn
        from torch.nn.parallel import DistributedDataParallel as DDP
        torch.set_num_threads(1)
    if framework == "ember":
        torch.set_num_threads(1)
    dist.init_process_group(backend, timeout=datetime.timedelta(seconds=300))
    rank = dist.get_rank()

    def sync(t):
        # Reading a value forces whatever is pending (a lazy graph op).
        float(t[0])

    piddir = os.environ.get("BENCH_PIDDIR")
    if piddir:
        open(os.path.join(piddir, str(os.getpid())), "w").close()

    def commands():
        # Rank 0 reads the driver's line (mpirun feeds stdin to rank 0 only)
        # and broadcasts it: [what, a, b], what 0 quit, 1 allreduce, 2 ddp.
        while True:
            words = [0.0, 0.0, 0.0]
            if rank == 0:
                line = sys.stdin.readline().split()
                if line and line[0] != "quit":
                    words = [1.0 if line[0] == "allreduce" else 2.0] + \
                        [float(w) for w in line[1:]] + [0.0] * (3 - len(line))
            t = torch.tensor(words, dtype=torch.float32)
            dist.broadcast(t, 0)
            words = [int(v) for v in t.tolist()]
            if words[0] == 0:
                return
            yield words

    ddp = None
    for words in commands():
        if words[0] == 1:
            size, reps = words[1], words[2]
            t = torch.ones(size // 4)
            dist.all_reduce(t)
            sync(t)
            dist.barrier()
            times = []
            for _ in range(reps):
                start = time.perf_counter()
                dist.all_reduce(t)
                sync(t)
                times.append(time.perf_counter() - start)
                t.fill_(1.0)
        else:
            reps = words[1]
            if ddp is None:
                torch.manual_seed(0)
                model = nn.Sequential(nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 1024),
                                      nn.ReLU(), nn.Linear(1024, 10))
                ddp = DDP(model)
                opt = torch.optim.SGD(ddp.parameters(), lr=0.01)
                loss_fn = nn.CrossEntropyLoss()
                rng = np.random.default_rng(rank)
                x = torch.tensor(rng.standard_normal((64, 784)).astype(np.float32))
                y = torch.tensor(rng.integers(0, 10, 64))

            def step():
                opt.zero_grad()
                loss = loss_fn(ddp(x), y)
                loss.backward()
                opt.step()
                return loss.item()
            step()
            times = []
            for _ in range(reps):
                start = time.perf_counter()
                step()
                times.append(time.perf_counter() - start)
        if rank == 0:
            print(json.dumps(times), flush=True)
    dist.destroy_process_group()


# ---------------------------------------------------------------- driver side

def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Pair:
    """A framework's ranks, driven through their stdin."""

    def __init__(self, key, world):
        import tempfile
        self.key, self.world = key, world
        self.piddir = tempfile.mkdtemp(prefix="ddp_bench_")
        framework, backend = key.split("-")
        python = PEERS_PYTHON if framework == "torch" else "/usr/bin/python3"
        env = dict(os.environ, OMP_NUM_THREADS="1", EMBER_NUM_THREADS="1",
                   BENCH_PIDDIR=self.piddir)
        if framework == "ember":
            env["PYTHONPATH"] = os.path.join(ROOT, "build", "python")
        command = [python, os.path.abspath(__file__), "--worker", framework, backend]
        if backend == "mpi":
            mpirun = ["mpirun", "-np", str(world), "--oversubscribe", "--bind-to", "none"]
            if os.geteuid() == 0:
                mpirun.append("--allow-run-as-root")
            # mpirun feeds its stdin to rank 0, which broadcasts each command.
            mpirun += ["-x", "PYTHONPATH", "-x", "BENCH_PIDDIR", "-x", "EMBER_NUM_THREADS",
                       "-x", "OMP_NUM_THREADS"] if framework == "ember" else []
            self.procs = [subprocess.Popen(mpirun + command, env=env, stdin=subprocess.PIPE,
                                           stdout=subprocess.PIPE, text=True,
                                           start_new_session=True)]
        else:
            port = _free_port()
            self.procs = [subprocess.Popen(
                command, env=dict(env, RANK=str(r), WORLD_SIZE=str(world), LOCAL_RANK=str(r),
                                  MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port)),
                stdin=subprocess.PIPE if r == 0 else subprocess.DEVNULL,
                stdout=subprocess.PIPE if r == 0 else None, text=True,
                start_new_session=True) for r in range(world)]
        self.samples = {}

    def signal(self, sig):
        # Every rank (mpirun's children too: they wrote their pids) and the
        # launchers' process groups.
        pids = [int(name) for name in os.listdir(self.piddir)]
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        for p in self.procs:
            try:
                os.killpg(p.pid, sig)
            except ProcessLookupError:
                pass

    def run(self, what, command):
        self.signal(signal.SIGCONT)
        self.procs[0].stdin.write(command + "\n")
        self.procs[0].stdin.flush()
        line = self.procs[0].stdout.readline()
        self.signal(signal.SIGSTOP)
        if not line:
            raise RuntimeError(f"{self.key} (world {self.world}) stopped answering")
        self.samples.setdefault(what, []).extend(json.loads(line))

    def close(self):
        self.signal(signal.SIGCONT)
        try:
            self.procs[0].stdin.write("quit\n")
            self.procs[0].stdin.flush()
        except BrokenPipeError:
            pass
        for p in self.procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(self.piddir, ignore_errors=True)


def _rotated(items, k):
    k %= len(items)
    return items[k:] + items[:k]


def _label(size):
    return f"{size >> 20} MiB" if size >= 1 << 20 else f"{size >> 10} KiB"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--pairs", default="ember-gloo,ember-mpi,torch-gloo")
    parser.add_argument("--max-mib", type=int, default=256)
    parser.add_argument("--json")
    args = parser.parse_args()
    if args.worker:
        return _worker(*args.worker)

    keys = args.pairs.split(",")
    if not os.path.exists(PEERS_PYTHON):
        keys = [k for k in keys if not k.startswith("torch")]
        print(f"note: {PEERS_PYTHON} missing; PyTorch 2.x left out")
    if shutil.which("mpirun") is None:
        keys = [k for k in keys if not k.endswith("mpi")]
    rounds = 2 if args.quick else 4
    sizes = []
    size = 1024
    while size <= args.max_mib << 20:
        sizes.append(size)
        size *= 4

    def reps(size):
        return max(2, min(50, (16 << 20) // size)) // (2 if args.quick else 1) or 1

    pairs = []
    for key in keys:
        try:
            pairs.append(Pair(key, 2))
            pairs[-1].run("warm", "allreduce 1024 1")
        except Exception as error:   # noqa: BLE001 - report and go on without it
            print(f"note: {key} left out: {error}")
            if pairs and pairs[-1].key == key:
                pairs.pop().close()
    for r in range(rounds):
        for size in sizes:
            for pair in _rotated(pairs, r + size):
                pair.run(size, f"allreduce {size} {reps(size)}")
    for r in range(rounds):
        for pair in _rotated(pairs, r):
            pair.run("ddp2", f"ddp {5 if args.quick else 10}")
    for pair in pairs:
        pair.close()

    # DDP with one rank, the same frameworks (Gloo: MPI adds nothing at world 1).
    singles = []
    for key in dict.fromkeys(k.split("-")[0] + "-gloo" for k in keys):
        try:
            singles.append(Pair(key, 1))
        except Exception as error:   # noqa: BLE001
            print(f"note: {key} world 1 left out: {error}")
    for r in range(rounds):
        for pair in _rotated(singles, r):
            pair.run("ddp1", f"ddp {5 if args.quick else 10}")
    for pair in singles:
        pair.close()

    med = {p.key: {w: statistics.median(s) for w, s in p.samples.items()} for p in pairs}
    med1 = {p.key.split("-")[0]: p.samples and statistics.median(p.samples["ddp1"])
            for p in singles}
    print("\nall_reduce, float32 SUM, 2 ranks on 127.0.0.1: GB/s (median); "
          "ratio = Ember / PyTorch 2.x Gloo (> 1: Ember faster)")
    base = "torch-gloo" if "torch-gloo" in med else None
    header = f"{'size':>9}" + "".join(f"{k:>13}" for k in med)
    if base:
        header += "".join(f"{k + '/torch':>18}" for k in med if k != base)
    print(header)
    result = {"allreduce_gbps": {}, "ddp_step_s": {}}
    for size in sizes:
        gbps = {k: size / m[size] / 1e9 for k, m in med.items()}
        row = f"{_label(size):>9}" + "".join(f"{gbps[k]:13.3f}" for k in med)
        if base:
            row += "".join(f"{gbps[k] / gbps[base]:18.2f}" for k in med if k != base)
        print(row)
        result["allreduce_gbps"][size] = gbps
    print("\nDDP step, MLP 784-1024-1024-10, batch 64 a rank (median seconds); "
          "efficiency = 1-rank step / 2-rank step")
    for key, m in med.items():
        framework = key.split("-")[0]
        one = med1.get(framework)
        line = f"{key:>12}: 2 ranks {m['ddp2'] * 1e3:8.2f} ms"
        if one:
            line += f", 1 rank {one * 1e3:8.2f} ms, efficiency {one / m['ddp2']:.2f}"
        print(line)
        result["ddp_step_s"][key] = {"2": m["ddp2"], "1": one}
    print("\n(this machine is shared and busy: numbers are indicative only)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
