#!/usr/bin/python3
"""Imported torchvision models on the CPU: Ember's AOT model vs PyTorch 2.x
eager, torch.compile and ONNX Runtime (issue 18, part 4).

For resnet18, mobilenet_v3_small and vit_b_16 (torchvision 0.14, random
weights, eval mode, one set of weights shared by every framework):
  1. prepare: torch 1.13 (Debian) builds the model and saves its weights;
     Ember imports it (``ember.from_torch``, the batch symbolic) and
     ``ember-compile
     --target cpu --sign`` compiles it; torch 1.13 also saves a TorchScript
     trace for libtorch; the peers' torch 2.x exports ONNX
     (``torch.onnx.export``).
  2. measure, each framework in its own process, the repetitions
     interleaved (framework after framework, then again), each process
     timing RUNS calls after warm-up:
       ember-cpp   build/bin/image_model_bench (C++ runtime, no LLVM)
       ember-py    ember.load_model (Python)
       eager       torch 2.x eager (the peers venv, /work/peers)
       compile     torch 2.x torch.compile (inductor)
       onnxrt      ONNX Runtime (CPU provider)
       libtorch    torch::jit::load from C++ (bench/torch_image_bench.cpp):
                   load time and resident memory against ember-cpp's
  3. prints per model: batch-1 latency (median ms), batch-32 throughput
     (images/s), and ratio = other's time / ember-cpp's time (> 1: Ember is
     faster); then load time and resident memory of the two C++ apps.

The goals (issue 18): ember-cpp >= 1.0x ONNX Runtime and >= 1.2x eager.
On a machine others use, the numbers are indicative: rerun it quietly.

Usage (after scripts/build):
  PYTHONPATH=build/python /usr/bin/python3 bench/import_bench.py
      [--models resnet18,mobilenet_v3_small,vit_b_16] [--batches 1,32]
      [--size 224] [--reps 3] [--runs 5] [--batch1-runs 20] [--frameworks ...]
      [--dir DIR]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "build", "bin")
PEERS_PYTHON = "/work/peers/bin/python"
MODELS = ["resnet18", "mobilenet_v3_small", "vit_b_16"]
FRAMEWORKS = ["ember-cpp", "ember-py", "eager", "compile", "onnxrt", "libtorch"]
PEER_FRAMEWORKS = {"eager", "compile", "onnxrt"}

# ---------------------------------------------------------------- workers
# Each runs in its own process and prints one JSON line:
# {"load_ms": ..., "forward_ms": [...]} (plus resident memory from C++).


def _torchvision_for_peers(folder):
    """A folder that makes Debian's torchvision 0.14 models importable from
    the peers' torch 2.x: its pure-Python modules linked, the package root,
    the ONNX op registration (written for torch 1.13) and Pillow stubbed.
    The C extension (built for torch 1.13) is left out; the models need none
    of it."""
    source = "/usr/lib/python3/dist-packages/torchvision"
    package = os.path.join(folder, "torchvision")
    if os.path.exists(os.path.join(package, "__init__.py")):
        return folder
    os.makedirs(os.path.join(package, "ops"), exist_ok=True)
    for name in os.listdir(source):
        if name not in ("__init__.py", "ops", "__pycache__") and not name.endswith(".so"):
            os.symlink(os.path.join(source, name), os.path.join(package, name))
    for name in os.listdir(os.path.join(source, "ops")):
        if name not in ("_register_onnx_ops.py", "__pycache__"):
            os.symlink(os.path.join(source, "ops", name), os.path.join(package, "ops", name))
    with open(os.path.join(package, "ops", "_register_onnx_ops.py"), "w") as f:
        f.write("def _register_custom_op():\n    pass\n")
    with open(os.path.join(package, "__init__.py"), "w") as f:
        f.write('__version__ = "0.14.1"\n_image_backend = "PIL"\n'
                "def _is_tracing():\n    import torch\n"
                "    return torch._C._get_tracing_state()\n"
                "def get_image_backend():\n    return _image_backend\n"
                "from torchvision import models  # noqa: E402\n")
    os.makedirs(os.path.join(folder, "PIL"), exist_ok=True)
    stub = ('__version__ = "9.0.0"\nclass _Any:\n'
            "    def __getattr__(self, name):\n        return _Any()\n"
            "    def __call__(self, *a, **k):\n        return _Any()\n"
            "def __getattr__(name):\n    return _Any()\n")
    for name in ["__init__", "Image", "ImageOps", "ImageEnhance", "ImageDraw", "ImageFont",
                 "ImageColor"]:
        with open(os.path.join(folder, "PIL", name + ".py"), "w") as f:
            f.write(stub)
    return folder


def _peer_model(model_name, weights):
    import numpy as np
    import torch
    import torchvision

    model = getattr(torchvision.models, model_name)().eval()
    state = np.load(weights)
    model.load_state_dict({k: torch.from_numpy(state[k]) for k in state.files})
    return model


def _time_calls(call, x, warmup, runs):
    """Wall and process CPU time (all threads) of each call, in ms."""
    for _ in range(warmup):
        call(x)
    times, cpu = [], []
    for _ in range(runs):
        start, cpu_start = time.perf_counter(), time.process_time()
        call(x)
        times.append((time.perf_counter() - start) * 1e3)
        cpu.append((time.process_time() - cpu_start) * 1e3)
    return times, cpu


def worker(args):
    """One framework, one model, one batch size: prints one JSON line."""
    import numpy as np

    x = np.random.default_rng(0).standard_normal(
        (args.batch, 3, args.size, args.size)).astype(np.float32)
    start = time.perf_counter()
    if args.worker == "ember-py":
        import ember

        model = ember.load_model(args.model_file, trusted_keys=[args.key])
        load_ms = (time.perf_counter() - start) * 1e3
        call = lambda a: model(ember.tensor(a)).numpy()  # noqa: E731
    elif args.worker == "onnxrt":
        import onnxruntime

        session = onnxruntime.InferenceSession(args.model_file,
                                               providers=["CPUExecutionProvider"])
        load_ms = (time.perf_counter() - start) * 1e3
        name = session.get_inputs()[0].name
        call = lambda a: session.run(None, {name: a})[0]  # noqa: E731
    else:
        import torch

        model = _peer_model(args.model_name, args.model_file)
        if args.worker == "compile":
            model = torch.compile(model)
        load_ms = (time.perf_counter() - start) * 1e3

        def call(a):
            with torch.inference_mode():
                return model(torch.from_numpy(a)).numpy()
    times, cpu = _time_calls(call, x, args.warmup, args.runs)
    print(json.dumps({"load_ms": load_ms, "forward_ms": times, "cpu_ms": cpu}), flush=True)


# ---------------------------------------------------------------- prepare


def _run(command, env=None, **kwargs):
    return subprocess.run(command, check=True, env=env, **kwargs)


def torch_bench_binary():
    """Builds bench/torch_image_bench.cpp against libtorch (once per change)."""
    source = os.path.join(ROOT, "bench", "torch_image_bench.cpp")
    binary = os.path.join(ROOT, "build", "bench", "torch_image_bench")
    if not os.path.exists("/usr/include/torch/script.h"):
        return None
    newest = max(os.path.getmtime(source), os.path.getmtime(os.path.join(ROOT, "bench", "Timing.h")))
    if not os.path.exists(binary) or os.path.getmtime(binary) < newest:
        os.makedirs(os.path.dirname(binary), exist_ok=True)
        print("building torch_image_bench with g++ against libtorch ...", flush=True)
        _run(["g++", "-std=c++17", "-O2", "-w", "-I", os.path.dirname(source), source, "-o",
              binary, "-ltorch", "-ltorch_cpu", "-lc10"])
    return binary


def _export_ember(model, size):
    """The torch module imported as an Ember exported program (batch
    symbolic) and how far it is from torch."""
    import numpy as np
    import torch

    import ember

    example = np.random.default_rng(1).standard_normal((2, 3, size, size)).astype(np.float32)
    program = ember.from_torch(model, (torch.from_numpy(example),), dynamic_dims=[{0: "batch"}])
    with torch.no_grad():
        expected = model(torch.from_numpy(example)).numpy()
    error = float(np.abs(program(ember.tensor(example)).numpy() - expected).max())
    scale = float(np.abs(expected).max())
    return program, f"max |ember - torch| {error:.1e} (outputs up to {scale:.1e})"


def prepare(args, folder):
    """Writes every model file; returns {model: {framework: path}}."""
    import numpy as np
    import torch
    import torchvision

    compile_ = os.path.join(BIN, "ember-compile")
    key = os.path.join(folder, "bench")
    if not os.path.exists(key + ".key"):
        _run([compile_, "--generate-key", key], stdout=subprocess.DEVNULL)
    files = {}
    for name in args.models:
        torch.manual_seed(0)
        model = getattr(torchvision.models, name)().eval()
        paths = files[name] = {}
        weights = os.path.join(folder, f"{name}.npz")
        np.savez(weights, **{k: v.detach().numpy() for k, v in model.state_dict().items()})
        paths["weights"] = weights
        started = time.perf_counter()
        compiled = os.path.join(folder, f"{name}.cpu.ember")
        if os.path.exists(compiled) and not args.fresh:  # from an earlier run in --dir
            program, note = None, "compiled earlier"
            paths["ember"] = compiled
        else:
            try:
                program, note = _export_ember(model, args.size)
            except Exception as error:  # an op the importer lacks: report, go on
                program, note = None, f"import failed: {type(error).__name__}: {error}"[:300]
        if program is not None:
            portable = os.path.join(folder, f"{name}.ember")
            program.save(portable)
            _run([compile_, portable, "--target", "cpu", "--sign", key + ".key", "-o", compiled],
                 stdout=subprocess.DEVNULL)
            paths["ember"] = compiled
        print(f"{name}: ember {note} (import + compile {time.perf_counter() - started:.0f} s)",
              flush=True)
        if "libtorch" in args.frameworks:
            paths["torchscript"] = os.path.join(folder, f"{name}.pt")
            if args.fresh or not os.path.exists(paths["torchscript"]):
                # vit_b_16's trace differs between two runs (fresh names):
                # no check.
                traced = torch.jit.trace(model, torch.randn(1, 3, args.size, args.size),
                                         check_trace=False)
                traced.save(paths["torchscript"])
        if "onnxrt" in args.frameworks and (args.fresh or not os.path.exists(
                os.path.join(folder, f"{name}.onnx"))):
            paths["onnx"] = os.path.join(folder, f"{name}.onnx")
            script = ("import sys, torch\nsys.argv[1:1] = []\n"
                      f"sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r})\n"
                      "import import_bench as b\n"
                      f"m = b._peer_model({name!r}, {weights!r})\n"
                      f"torch.onnx.export(m, torch.randn(1, 3, {args.size}, {args.size}), "
                      f"{paths['onnx']!r}, input_names=['x'], output_names=['y'], "
                      "dynamic_axes={'x': {0: 'batch'}, 'y': {0: 'batch'}}, opset_version=17, "
                      "dynamo=False)\n")
            _run([PEERS_PYTHON, "-W", "ignore", "-c", script], env=args.peer_env,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if "onnxrt" in args.frameworks:
            paths["onnx"] = os.path.join(folder, f"{name}.onnx")
    files["key"] = key + ".pub"
    return files


# ---------------------------------------------------------------- measure


def measure(args, files, framework, name, batch):
    paths = files[name]
    # Batch 1 calls are short and settle slowly (the pool learns which
    # launches are worth waking a worker for): more of them, after more
    # warm-up, or the median of a few calls is noise.
    warmup, runs = ((args.batch1_warmup, args.batch1_runs) if batch == 1
                    else (args.warmup, args.runs))
    common = [str(args.size), str(batch), str(warmup), str(runs)]
    if framework == "ember-cpp":
        if "ember" not in paths:
            return None
        command = [os.path.join(BIN, "image_model_bench"), paths["ember"]] + common
        env = dict(os.environ, EMBER_TRUSTED_KEYS=files["key"])
    elif framework == "libtorch":
        if not args.torch_binary:
            return None
        command = [args.torch_binary, paths["torchscript"]] + common
        env = None
    else:
        if framework == "ember-py" and "ember" not in paths:
            return None
        model_file = {"ember-py": paths.get("ember"), "onnxrt": paths.get("onnx")}.get(
            framework, paths["weights"])
        python = PEERS_PYTHON if framework in PEER_FRAMEWORKS else sys.executable
        command = [python, "-W", "ignore", os.path.abspath(__file__), "--worker", framework,
                   "--model-name", name, "--model-file", model_file, "--key", files["key"],
                   "--size", str(args.size), "--batch", str(batch), "--warmup",
                   str(warmup), "--runs", str(runs)]
        env = args.peer_env if framework in PEER_FRAMEWORKS else None
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        print(f"  {framework} {name} batch {batch} failed:\n{result.stderr[-1500:]}", flush=True)
        return None
    return json.loads(result.stdout.strip().splitlines()[-1])


LINE = "-" * 112


def report(args, results, what):
    print("\n" + LINE)
    print(f"{what}: CPU, {os.cpu_count()} cores, images {args.size}x{args.size}; median over "
          f"{args.reps} processes x {args.runs} calls ({args.batch1_runs} at batch 1);\n"
          f"batch 1: ms per image, batch "
          f"{max(args.batches)}: images/s; (ratio) = its time / ember-cpp's (> 1: Ember faster)")
    print(LINE)
    shown = [f for f in args.frameworks]
    print(f"{'model':20s} {'batch':>5s} {'metric':>10s} " +
          " ".join(f"{f:>16s}" for f in shown))
    for name in args.models:
        for batch in args.batches:
            cell = results.get((name, batch), {})
            times = {f: statistics.median(v) for f, v in cell.items() if v}
            base = times.get("ember-cpp")
            metric = "ms" if batch == 1 else "images/s"
            row = []
            for f in shown:
                if f not in times:
                    row.append(f"{'-':>16s}")
                    continue
                value = times[f] if batch == 1 else batch * 1e3 / times[f]
                ratio = f" ({times[f] / base:4.2f}x)" if base and f != "ember-cpp" else ""
                row.append(f"{value:9.1f}{ratio:>7s}".rjust(16))
            print(f"{name:20s} {batch:5d} {metric:>10s} " + " ".join(row))
    print(LINE)


def report_loads(args):
    print("C++ apps: load time (ms) and resident memory (MiB: after load / peak), batch 1")
    for name in args.models:
        for f in ("ember-cpp", "libtorch"):
            info = args.load_info.get((name, f))
            if info:
                print(f"  {name:20s} {f:10s} load {statistics.median(info['load']):8.1f} ms   "
                      f"rss {statistics.median(info['rss']):7.1f} / "
                      f"{statistics.median(info['peak']):7.1f} MiB")
    print(LINE)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--frameworks", default=",".join(FRAMEWORKS))
    parser.add_argument("--batches", default="1,32")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--reps", type=int, default=3, help="processes per framework")
    parser.add_argument("--runs", type=int, default=5, help="timed calls per process")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--batch1-runs", type=int, default=20,
                        help="timed calls per process at batch 1")
    parser.add_argument("--batch1-warmup", type=int, default=5)
    parser.add_argument("--dir", help="model files (default: a temporary folder); files "
                        "from an earlier run there are reused")
    parser.add_argument("--fresh", action="store_true",
                        help="import, compile and export again even if --dir has the files")
    parser.add_argument("--worker", choices=FRAMEWORKS, help=argparse.SUPPRESS)
    parser.add_argument("--model-name", help=argparse.SUPPRESS)
    parser.add_argument("--model-file", help=argparse.SUPPRESS)
    parser.add_argument("--key", help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)

    args.models = args.models.split(",")
    args.frameworks = args.frameworks.split(",")
    args.batches = [int(b) for b in args.batches.split(",")]
    folder = args.dir or tempfile.mkdtemp(prefix="import_bench.")
    os.makedirs(folder, exist_ok=True)
    peer_path = _torchvision_for_peers(os.path.join(folder, "peer_site"))
    args.peer_env = dict(os.environ, PYTHONPATH=peer_path)
    args.peer_env.pop("OMP_NUM_THREADS", None)
    if any(f in PEER_FRAMEWORKS for f in args.frameworks) and not os.path.exists(PEERS_PYTHON):
        sys.exit(f"import_bench: {PEERS_PYTHON} (torch 2.x, onnxruntime) is missing")
    args.torch_binary = torch_bench_binary() if "libtorch" in args.frameworks else None
    files = prepare(args, folder)

    results, cpu_results, args.load_info = {}, {}, {}
    for rep in range(args.reps):
        for name in args.models:
            for batch in args.batches:
                for framework in args.frameworks:
                    out = measure(args, files, framework, name, batch)
                    if out is None:
                        continue
                    median = statistics.median(out["forward_ms"])
                    cpu = statistics.median(out["cpu_ms"])
                    results.setdefault((name, batch), {}).setdefault(framework, []).append(median)
                    cpu_results.setdefault((name, batch), {}).setdefault(framework, []).append(cpu)
                    print(f"  rep {rep} {name} batch {batch} {framework}: {median:.1f} ms "
                          f"(CPU {cpu:.1f} ms)", flush=True)
                    if batch == args.batches[0] and "rss_load_mib" in out:
                        info = args.load_info.setdefault(
                            (name, framework), {"load": [], "rss": [], "peak": []})
                        info["load"].append(out["load_ms"])
                        info["rss"].append(out["rss_load_mib"])
                        info["peak"].append(out["rss_peak_mib"])
    report(args, results, "wall time")
    report(args, cpu_results, "CPU time (all threads; steadier on a busy machine)")
    report_loads(args)


if __name__ == "__main__":
    main()
