"""Times on the same GPU what bench/gpu_bench.cpp times with Ember, with
PyTorch eager and torch.compile: a device-to-device copy, the 5-op chain
sigmoid(a*b+c)*d - a, and f32 matmuls. Reads gpu_bench's JSON lines on
stdin (or a file argument) and prints one table with the ratios.

    gpu_bench DIR --device cuda | tee ember.txt
    python3 bench/gpu_torch.py ember.txt
"""
import json
import sys
import time

import torch


def timed(fn, budget_s=1.0):
    """Median seconds of fn() (synchronized), after warm-up."""
    for _ in range(5):
        fn()
    torch.cuda.synchronize()
    times = []
    start = time.perf_counter()
    while len(times) < 20 or (time.perf_counter() - start < budget_s and len(times) < 10000):
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2]


def main():
    source = open(sys.argv[1]) if len(sys.argv) > 1 else sys.stdin
    ember = {}
    for line in source:
        line = line.strip()
        if line.startswith("{\"bench\""):
            record = json.loads(line)
            ember[(record["bench"], record["n"])] = record
    if not torch.cuda.is_available():
        print("torch sees no CUDA device: no comparison")
        return 1
    print(f"torch {torch.__version__} on {torch.cuda.get_device_name()}")
    # Full f32 precision, as Ember computes (no TF32 tensor cores).
    torch.backends.cuda.matmul.allow_tf32 = False
    rows = []

    def chain(a, b, c, d):
        return torch.sigmoid(a * b + c) * d - a

    compiled_chain = torch.compile(chain)
    for (kind, n), record in sorted(ember.items()):
        ember_s = record["us"] * 1e-6
        if kind == "copy":
            src = torch.randn(n, device="cuda")
            dst = torch.empty_like(src)
            t = timed(lambda: dst.copy_(src))
            rows.append((f"copy {n}", ember_s, t, None))
        elif kind == "chain":
            a, b, c, d = (torch.randn(n, device="cuda") for _ in range(4))
            eager = timed(lambda: chain(a, b, c, d))
            compiled = timed(lambda: compiled_chain(a, b, c, d))
            rows.append((f"chain {n}", ember_s, eager, compiled))
        elif kind == "matmul":
            a = torch.randn(n, n, device="cuda")
            b = torch.randn(n, n, device="cuda")
            eager = timed(lambda: a @ b)
            rows.append((f"matmul f32 {n}^3", ember_s, eager, None))
    print(f"{'work':<24}{'ember us':>12}{'eager us':>12}{'compile us':>12}"
          f"{'eager/ember':>14}{'compile/ember':>15}")
    for name, e, t, c in rows:
        compiled = f"{c * 1e6:12.1f}" if c else f"{'-':>12}"
        ratio_c = f"{c / e:15.2f}" if c else f"{'-':>15}"
        print(f"{name:<24}{e * 1e6:12.1f}{t * 1e6:12.1f}{compiled}{t / e:14.2f}{ratio_c}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
