#!/usr/bin/python3
"""Foundation benchmark: Ember's compiled CPU code vs a plain C++ loop, OpenBLAS
and PyTorch eager, all in one run on this machine. Prints times and ratios.

Usage: bench/run_foundation.py [path/to/foundation_bench]
(scripts/bench builds the binary and runs this.)
"""
import json
import subprocess
import sys
import time


def torch_chain_seconds(n, repeats=10):
    """PyTorch eager on sigmoid(a*b+c)*d - a, best of `repeats`."""
    try:
        import torch
    except ImportError:
        return None, None
    torch.manual_seed(0)
    a, b, c, d = (torch.rand(n) * 4 - 2 for _ in range(4))
    best = float("inf")
    for i in range(repeats + 1):
        start = time.perf_counter()
        torch.sigmoid(a * b + c) * d - a
        elapsed = time.perf_counter() - start
        if i:
            best = min(best, elapsed)
    return best, torch.__version__


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else "bazel-bin/bench/foundation_bench"
    lines = subprocess.run([binary], check=True, capture_output=True, text=True).stdout
    results = [json.loads(line) for line in lines.splitlines() if line.startswith("{")]
    chain = next(r for r in results if r["bench"] == "chain")
    torch_s, torch_version = torch_chain_seconds(chain["n"])
    gbs = lambda s: chain["bytes"] / s / 1e9

    print("== Ember foundation benchmark (one run, this machine) ==")
    print(f"chain sigmoid(a*b+c)*d - a, f32, {chain['n']} elements:")
    print(f"  ember          {chain['ember_s'] * 1e3:8.2f} ms  {gbs(chain['ember_s']):6.1f} GB/s")
    print(f"  C++ loop       {chain['loop_s'] * 1e3:8.2f} ms  {gbs(chain['loop_s']):6.1f} GB/s"
          f"  -> ember is {chain['loop_s'] / chain['ember_s']:.2f}x the loop's speed (goal >= 0.8x)")
    if torch_s is not None:
        print(f"  torch {torch_version:9s}{torch_s * 1e3:8.2f} ms  {gbs(torch_s):6.1f} GB/s"
              f"  -> ember is {torch_s / chain['ember_s']:.2f}x torch eager")
    else:
        print("  torch: not installed (Debian python3-torch), skipped")
    print(f"  max |ember - loop| = {chain['max_diff']:.2g}")
    print("matmul f32 (square), GFLOP/s:")
    for r in (r for r in results if r["bench"] == "matmul"):
        e, o = r["flops"] / r["ember_s"] / 1e9, r["flops"] / r["blas_s"] / 1e9
        print(f"  {r['n']:5d}: ember {e:7.1f}  OpenBLAS {o:7.1f}  ratio {e / o:.2f}x"
              f"  (goal >= 0.9x)  max |diff| {r['max_diff']:.2g}")
    compile_ms = next(r for r in results if r["bench"] == "compile")["matmul_ms"]
    print(f"cold compile (parse + lower + LLVM -O3 + JIT): chain {chain['compile_ms']:.1f} ms,"
          f" matmul {compile_ms:.1f} ms")


if __name__ == "__main__":
    main()
