"""Compile cost of an imported model: ember.from_torch, .save, ember.load_model
twice, the first run, and the ExportedProgram's first call, of a torchvision
model (random weights), with kernels compiled/reused after each step.

  EMBER_CACHE_DIR= EMBER_COMPILE_TIMING=1 PYTHONPATH=build/python \
      /usr/bin/python3 bench/model_load_time.py resnet18

(EMBER_CACHE_DIR= turns the disk cache off so the first load compiles;
EMBER_COMPILE_TIMING=1 prints the compile phases and MLIR's pass times.)
Wall-clock times: indicative only on a shared machine.
"""
import os, sys, time, tempfile
import torch, torchvision
import ember
name = sys.argv[1] if len(sys.argv) > 1 else "resnet18"
torch.manual_seed(0)
m = getattr(torchvision.models, name)().eval()
x = torch.randn(2, 3, 224, 224)
def stats():
    s = ember.compile_stats()
    return s["kernels_compiled"], s["kernels_reused"]
t = time.perf_counter()
prog = ember.from_torch(m, (x,), dynamic_dims=[{0: "batch"}])
print(f"from_torch: {time.perf_counter()-t:.1f} s  kernels(compiled,reused)={stats()}", flush=True)
with tempfile.TemporaryDirectory() as d:
    path = os.path.join(d, "m.ember")
    t = time.perf_counter(); prog.save(path); print(f"save: {time.perf_counter()-t:.1f} s", flush=True)
    for i in range(2):
        t = time.perf_counter(); lm = ember.load_model(path)
        print(f"load_model #{i+1}: {time.perf_counter()-t:.1f} s kernels={stats()}", flush=True)
    t = time.perf_counter(); y = lm(x.numpy())
    print(f"first run: {time.perf_counter()-t:.1f} s", flush=True)
    ref = m(x).detach().numpy()
    import numpy as np
    print("max abs diff vs torch:", float(np.abs(np.asarray(y) - ref).max()))
t = time.perf_counter(); y2 = prog(x.numpy()); print(f"ExportedProgram first call: {time.perf_counter()-t:.1f} s kernels={stats()}", flush=True)
