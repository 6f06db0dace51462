"""DataLoader throughput: Ember's against PyTorch's, interleaved in one run.

A map-style dataset of 32x32 RGB images stored as raw uint8 bytes; each
sample is decoded (bytes -> HWC uint8), augmented in NumPy (4-pixel padded
random crop, random horizontal flip) and normalized to float32 CHW; batches
of 64 with shuffling, 0/1/2 workers. One epoch per measurement, worker
start-up included (persistent_workers off, as by default). Rounds alternate
between the libraries so that load on the machine hits them alike; the best
round per configuration is reported (samples/s).

  PYTHONPATH=build/python /usr/bin/python3 bench/data_loader_bench.py
      [--samples 4096] [--rounds 3] [--peer-python /work/peers/bin/python]

torch 1.13 runs in this process (Debian's python3); --peer-python also runs
the torch of another interpreter (torch 2.x in /work/peers) in a
subprocess each round. Not part of CI.
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

MEAN = np.array([0.4914, 0.4822, 0.4465], np.float32).reshape(3, 1, 1)
STD = np.array([0.2470, 0.2435, 0.2616], np.float32).reshape(3, 1, 1)


class Images:
    """``samples`` random images as bytes; __getitem__ decodes and augments."""

    def __init__(self, samples):
        rng = np.random.default_rng(0)
        self.blobs = [rng.integers(0, 256, 32 * 32 * 3, dtype=np.uint8).tobytes()
                      for _ in range(samples)]
        self.labels = rng.integers(0, 10, samples).tolist()

    def __len__(self):
        return len(self.blobs)

    def __getitem__(self, index):
        image = np.frombuffer(self.blobs[index], np.uint8).reshape(32, 32, 3)
        padded = np.pad(image, ((4, 4), (4, 4), (0, 0)), mode="reflect")
        top, left = np.random.randint(0, 9, size=2)
        crop = padded[top:top + 32, left:left + 32]
        if np.random.random() < 0.5:
            crop = crop[:, ::-1]
        chw = crop.transpose(2, 0, 1).astype(np.float32) * (1 / 255)
        return (chw - MEAN) / STD, self.labels[index]


def epoch_rate(data_module, dataset, workers):
    loader = data_module.DataLoader(dataset, batch_size=64, shuffle=True,
                                    num_workers=workers)
    start = time.perf_counter()
    seen = 0
    for images, labels in loader:
        seen += images.shape[0]
    return seen / (time.perf_counter() - start)


def library(name):
    if name == "ember":
        import ember.utils.data as data
    else:
        import torch
        import torch.utils.data as data
        torch.set_num_threads(1)
    return data


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=4096)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", default="0,1,2")
    parser.add_argument("--peer-python", default="/work/peers/bin/python")
    parser.add_argument("--only", help=argparse.SUPPRESS)  # a subprocess's one library
    args = parser.parse_args()
    workers = [int(w) for w in args.workers.split(",")]
    dataset = Images(args.samples)
    if args.only:
        data = library(args.only)
        print(json.dumps({w: epoch_rate(data, dataset, w) for w in workers}))
        return

    import torch
    libraries = {"ember": library("ember"), f"torch {torch.__version__}": library("torch")}
    peer = None
    if args.peer_python and os.path.exists(args.peer_python):
        peer = subprocess.run([args.peer_python, "-c", "import torch; print(torch.__version__)"],
                              capture_output=True, text=True).stdout.strip()
    best = {}
    for _ in range(args.rounds):
        for w in workers:
            for name, data in libraries.items():
                rate = epoch_rate(data, dataset, w)
                best[name, w] = max(best.get((name, w), 0.0), rate)
        if peer:
            out = subprocess.run([args.peer_python, __file__, "--only", "torch",
                                  "--samples", str(args.samples), "--workers", args.workers],
                                 capture_output=True, text=True, check=True).stdout
            for w, rate in json.loads(out).items():
                key = (f"torch {peer}", int(w))
                best[key] = max(best.get(key, 0.0), rate)
    names = list(libraries) + ([f"torch {peer}"] if peer else [])
    print(f"samples/s, batch 64, {args.samples} samples, best of {args.rounds} "
          f"interleaved rounds (load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} CPUs)")
    print("workers  " + "  ".join(f"{n:>22}" for n in names) + "  ember/torch")
    for w in workers:
        rates = [best[n, w] for n in names]
        ratios = " ".join(f"{rates[0] / r:.2f}x" for r in rates[1:])
        print(f"{w:>7}  " + "  ".join(f"{r:>22.0f}" for r in rates) + f"  {ratios}")


if __name__ == "__main__":
    sys.exit(main())
