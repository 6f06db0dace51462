#!/usr/bin/env python3
"""A/B of the per-op path with no profiler active: two builds of the Python
package (A: a baseline's build/python, B: this tree's), interleaved runs of
bench/peers' `add1` loop (a 1-element add whose value is read every op: the
path every profiler hook sits on — trace, cache lookup, run, allocation) in
fresh processes, the median of each side's per-op times.

    /usr/bin/python3 bench/profiler_off_ab.py BASELINE/build/python build/python

Noisy on a shared machine: compare the medians of many rounds.
"""
import statistics
import subprocess
import sys

LOOP = """
import time, numpy as np, ember
x = ember.from_numpy(np.ones(1, np.float32))
for _ in range(200):
    (x + 1.0).item()
best = []
for _ in range(5):
    t = time.perf_counter()
    acc = x
    for _ in range(4000):
        acc = acc + 1.0
        acc.item()
    best.append((time.perf_counter() - t) / 4000)
print(min(best))
"""


def per_op(path):
    out = subprocess.run([sys.executable, "-c", LOOP], env={"PYTHONPATH": path,
                         "EMBER_CACHE_DIR": "", "OPENBLAS_CORETYPE": "Haswell"},
                         capture_output=True, text=True, check=True)
    return float(out.stdout)


def main():
    a_path, b_path = sys.argv[1], sys.argv[2]
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 8
    a, b = [], []
    for _ in range(rounds):
        a.append(per_op(a_path))
        b.append(per_op(b_path))
    ma, mb = statistics.median(a), statistics.median(b)
    print(f"A (baseline) per op: median {ma * 1e6:.2f} us  min {min(a) * 1e6:.2f} us")
    print(f"B (this tree) per op: median {mb * 1e6:.2f} us  min {min(b) * 1e6:.2f} us")
    print(f"B/A: median {mb / ma:.3f}  min {min(b) / min(a):.3f}  ({rounds} rounds each)")


if __name__ == "__main__":
    main()
