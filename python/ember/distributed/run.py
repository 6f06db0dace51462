"""python -m ember.distributed.run: a torchrun-like launcher.

    python -m ember.distributed.run --nproc-per-node 2 train.py --lr 0.1
    python -m ember.distributed.run --nnodes 2 --node-rank 0 \\
        --master-addr 10.0.0.1 --master-port 29500 --nproc-per-node 4 train.py

Starts --nproc-per-node copies of the script (or of a module, with -m) with
RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, GROUP_RANK, MASTER_ADDR and
MASTER_PORT set for init_process_group's env:// rendezvous. Signals the
launcher gets (SIGINT, SIGTERM, SIGHUP) go to every child. When a child
fails, the others are terminated and the launcher exits with the child's
code, naming its rank.
"""

import argparse
import os
import signal
import socket
import subprocess
import sys
import time

# How long terminated children get before SIGKILL.
_GRACE_SECONDS = 5.0


def _parser():
    p = argparse.ArgumentParser(
        prog="python -m ember.distributed.run",
        description="Launches a training script on several processes for ember.distributed.")
    p.add_argument("--nnodes", type=int, default=1, help="machines in the job (default 1)")
    p.add_argument("--nproc-per-node", "--nproc_per_node", type=int, default=1,
                   dest="nproc_per_node", help="processes on this machine (default 1)")
    p.add_argument("--node-rank", "--node_rank", type=int, default=0, dest="node_rank",
                   help="this machine's index in [0, nnodes) (default 0)")
    p.add_argument("--master-addr", "--master_addr", default="127.0.0.1", dest="master_addr",
                   help="address of the machine with node rank 0 (default 127.0.0.1)")
    p.add_argument("--master-port", "--master_port", type=int, default=29500,
                   dest="master_port", help="its free TCP port (default 29500)")
    p.add_argument("--standalone", action="store_true",
                   help="one machine, a free port chosen automatically")
    p.add_argument("-m", "--module", action="store_true",
                   help="run the script argument as a module (python -m)")
    p.add_argument("--no-python", "--no_python", action="store_true", dest="no_python",
                   help="run the script argument as an executable, not with Python")
    p.add_argument("training_script", help="the script (or module) each process runs")
    p.add_argument("training_script_args", nargs=argparse.REMAINDER)
    return p


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _command(args):
    if args.no_python:
        return [args.training_script] + args.training_script_args
    if args.module:
        return [sys.executable, "-u", "-m", args.training_script] + args.training_script_args
    return [sys.executable, "-u", args.training_script] + args.training_script_args


def _terminate(children, sig=signal.SIGTERM):
    for child in children:
        if child.poll() is None:
            try:
                child.send_signal(sig)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + _GRACE_SECONDS
    for child in children:
        left = deadline - time.monotonic()
        try:
            child.wait(timeout=max(left, 0.01))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def main(argv=None):
    args = _parser().parse_args(argv)
    if args.nproc_per_node < 1 or args.nnodes < 1:
        raise SystemExit("ember.distributed.run: --nproc-per-node and --nnodes must be >= 1")
    if not 0 <= args.node_rank < args.nnodes:
        raise SystemExit("ember.distributed.run: --node-rank must be in [0, nnodes)")
    if args.standalone:
        if args.nnodes != 1:
            raise SystemExit("ember.distributed.run: --standalone runs one node")
        args.master_addr, args.master_port = "127.0.0.1", _free_port()
    world_size = args.nnodes * args.nproc_per_node
    children, ranks = [], []
    received = []

    def forward(signum, frame):
        received.append(signum)
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    previous = {s: signal.signal(s, forward)
                for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        for local_rank in range(args.nproc_per_node):
            rank = args.node_rank * args.nproc_per_node + local_rank
            env = dict(os.environ)
            env.update({
                "RANK": str(rank), "WORLD_SIZE": str(world_size),
                "LOCAL_RANK": str(local_rank), "LOCAL_WORLD_SIZE": str(args.nproc_per_node),
                "GROUP_RANK": str(args.node_rank), "MASTER_ADDR": args.master_addr,
                "MASTER_PORT": str(args.master_port),
            })
            children.append(subprocess.Popen(_command(args), env=env))
            ranks.append(rank)
        while True:
            codes = [child.poll() for child in children]
            failed = [(r, c, child) for r, c, child in zip(ranks, codes, children)
                      if c not in (None, 0)]
            if failed:
                rank, code, child = failed[0]
                others = [c for c in children if c.poll() is None]
                if not received:
                    reason = ("killed by signal " + signal.Signals(-code).name
                              if code < 0 else "exit code " + str(code))
                    print("ember.distributed.run: rank " + str(rank) + " (local rank " +
                          str(rank - args.node_rank * args.nproc_per_node) + ", pid " +
                          str(child.pid) + ") failed with " + reason +
                          ("; terminating the other " + str(len(others)) + " process(es)"
                           if others else ""), file=sys.stderr, flush=True)
                _terminate(others)
                return code if code > 0 else 128 - code
            if all(c == 0 for c in codes):
                return 0
            time.sleep(0.05)
    finally:
        _terminate(children)
        for s, handler in previous.items():
            signal.signal(s, handler)


if __name__ == "__main__":
    sys.exit(main())
