#!/usr/bin/python3
"""Deployment benchmark: a compiled Ember model from C++ vs TorchScript.

For each MLP (the demo's 64-128-10 digits classifier and the 784-512-10 model
of bench/train_bench.py; Linear, ReLU, Linear, fresh weights shared by both
sides), this script
  1. builds the model in torch 1.13, saves it with ``torch.jit.trace(...).save``;
  2. builds the same model in Ember with the same weights, checks it against
     torch on a random batch, exports it (``ember.export``, batch symbolic) and
     compiles it for this CPU with ``ember-compile --target cpu``;
  3. runs two C++ programs that each load their model file and time forward:
     build/bin/model_bench (Ember's runtime, no LLVM) and torch_model_bench
     (libtorch: ``torch::jit::load`` + ``module.forward`` under InferenceMode),
     built here with g++ against Debian's libtorch-dev.

Reported per model: load time (first load in the process, then the median of
20 more loads) and the median latency of one forward call at batch 1 and 64
(after warm-up). ratio = torch / ember, so > 1 means Ember is faster.

Usage: PYTHONPATH=build/python /usr/bin/python3 bench/model_bench.py
(after scripts/build; scripts/bench runs it).
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

import ember
from ember import nn

try:
    import torch
except ImportError:
    sys.exit("model_bench: PyTorch is not installed (Debian python3-torch); "
             "run scripts/setup")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "build", "bin")
BATCHES = [1, 64]
MODELS = [("digits MLP 64-128-10", 64, 128, 10), ("MLP 784-512-10", 784, 512, 10)]


def torch_bench_binary():
    """Builds bench/torch_model_bench.cpp against libtorch (once per change)."""
    source = os.path.join(ROOT, "bench", "torch_model_bench.cpp")
    binary = os.path.join(ROOT, "build", "bench", "torch_model_bench")
    if not os.path.exists("/usr/include/torch/script.h"):
        sys.exit("model_bench: libtorch's C++ headers are missing (Debian libtorch-dev); "
                 "run scripts/setup")
    header = os.path.join(ROOT, "bench", "Timing.h")
    newest = max(os.path.getmtime(source), os.path.getmtime(header))
    if not os.path.exists(binary) or os.path.getmtime(binary) < newest:
        os.makedirs(os.path.dirname(binary), exist_ok=True)
        print("building torch_model_bench with g++ (libtorch headers, ~10 s) ...", flush=True)
        subprocess.run(["g++", "-std=c++17", "-O2", "-w", "-I", os.path.dirname(source),
                        source, "-o", binary,
                        "-ltorch", "-ltorch_cpu", "-lc10"], check=True)
    return binary


def run_json(command):
    result = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(result.stdout)


def make_models(features, hidden, classes, seed):
    torch.manual_seed(seed)
    reference = torch.nn.Sequential(torch.nn.Linear(features, hidden), torch.nn.ReLU(),
                                    torch.nn.Linear(hidden, classes)).eval()
    model = nn.Sequential(nn.Linear(features, hidden), nn.ReLU(), nn.Linear(hidden, classes))
    model.load_state_dict({name: ember.from_numpy(value.detach().numpy().copy())
                           for name, value in reference.state_dict().items()})
    model.eval()
    x = np.random.default_rng(seed).standard_normal((8, features), dtype=np.float32)
    with ember.no_grad(), torch.no_grad():
        ours = model(ember.from_numpy(x)).numpy()
        theirs = reference(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4)
    return model, reference


def main():
    torch_bench = torch_bench_binary()
    for tool in ("ember-compile", "model_bench"):
        if not os.path.exists(os.path.join(BIN, tool)):
            sys.exit(f"model_bench: {BIN}/{tool} is missing; run scripts/build")
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for index, (title, features, hidden, classes) in enumerate(MODELS):
            model, reference = make_models(features, hidden, classes, seed=index)
            example = torch.randn(2, features)
            pt_path = os.path.join(scratch, f"model{index}.pt")
            torch.jit.trace(reference, example).save(pt_path)

            portable = os.path.join(scratch, f"model{index}.ember")
            compiled = os.path.join(scratch, f"model{index}.cpu.ember")
            ember.export(model, ember.randn(2, features),
                         dynamic_dims=[{0: "batch"}]).save(portable)
            # Signed, as a deployed model is: load time includes checking the
            # signature over every section.
            key = os.path.join(scratch, f"key{index}")
            subprocess.run([os.path.join(BIN, "ember-compile"), "--generate-key", key,
                            "--quiet"], check=True)
            subprocess.run([os.path.join(BIN, "ember-compile"), portable, "--target", "cpu",
                            "--sign", key + ".key", "-o", compiled, "--quiet"], check=True)

            sizes = [str(features)] + [str(b) for b in BATCHES]
            os.environ["EMBER_TRUSTED_KEYS"] = key + ".pub"
            ours = run_json([os.path.join(BIN, "model_bench"), compiled] + sizes)
            theirs = run_json([torch_bench, pt_path] + sizes)
            if ours["kind"] != "cpu-native":
                sys.exit(f"model_bench: the compiled model ran as {ours['kind']}, not cpu-native")
            rows.append((title, os.path.getsize(compiled), os.path.getsize(pt_path), ours, theirs))

    print(f"torch {torch.__version__} (libtorch, {rows[0][4]['threads']} intra-op thread(s)) "
          f"vs Ember's C++ runtime; ratio = torch / ember (> 1: Ember faster)")
    header = f"{'model':22s} {'what':18s} {'torch':>11s} {'ember':>11s} {'ratio':>7s}"
    print(header)
    print("-" * len(header))
    for title, ember_bytes, torch_bytes, ours, theirs in rows:
        lines = [("file size", torch_bytes / 1024, ember_bytes / 1024, "KiB"),
                 ("first load", theirs["first_load_ms"], ours["first_load_ms"], "ms"),
                 ("load (median)", theirs["load_ms"], ours["load_ms"], "ms")]
        for batch in BATCHES:
            lines.append((f"forward batch {batch}", theirs["forward_us"][str(batch)],
                          ours["forward_us"][str(batch)], "us"))
        for what, t, e, unit in lines:
            ratio = f"{t / e:6.2f}x" if what != "file size" else ""
            print(f"{title:22s} {what:18s} {t:8.3f} {unit:>2s} {e:8.3f} {unit:>2s} {ratio:>7s}")
            title = ""


if __name__ == "__main__":
    main()
