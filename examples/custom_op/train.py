"""A fused activation written in C++ (swish_op.cpp), trained through.

Builds the custom op library with ember.utils.cpp_extension.load, trains a
small regression MLP whose activation is ``demo::swish`` (forward and
backward are the C++ kernels, inside the compiled training step), exports
it as a .ember file next to a copy of the library, and runs it with the C++
runtime (ember-run), which loads the library because --trust-native allows
it (docs/custom-ops.md). With --device vulkan the training runs on Vulkan
tensors, where demo::swish and its backward are the library's SPIR-V
shaders (shaders/*.comp), dispatched between the compiled kernels.

    PYTHONPATH=build/python /usr/bin/python3 examples/custom_op/train.py [OUT_DIR] [--device vulkan]
"""

import argparse
import os
import shutil
import subprocess

import numpy as np

import ember
from ember import nn
from ember.utils import cpp_extension

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


class SwishMLP(nn.Module):
    def __init__(self, ops):
        super().__init__()
        self.ops = ops
        self.fc1 = nn.Linear(4, 32)
        self.fc2 = nn.Linear(32, 1)

    def forward(self, x):
        return self.fc2(self.ops.swish(self.fc1(x), beta=1.0))


def main(out_dir, device):
    ops = cpp_extension.load("swish_example", [os.path.join(HERE, "swish_op.cpp")],
                             verbose=True)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 4)).astype(np.float32)
    y = (np.sin(x[:, :1]) + x[:, 1:2] * x[:, 2:3]).astype(np.float32)
    ember.manual_seed(0)
    model = SwishMLP(ops).to(device)
    opt = ember.optim.Adam(model.parameters(), lr=1e-2)
    xs, ys = ember.from_numpy(x).to(device), ember.from_numpy(y).to(device)
    for step in range(200):
        loss = ((model(xs) - ys) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 50 == 0 or step == 199:
            print(f"step {step:3d}  loss {loss.item():.4f}")

    # Exported from the CPU: the file's portable program runs anywhere.
    model, xs = model.to("cpu"), xs.to("cpu")
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "swish_mlp.ember")
    ember.export(model, (xs[:8],), dynamic_dims=[{0: "batch"}]).save(path)
    shutil.copy(ops.path, out_dir)  # the library travels next to the model
    np.save(os.path.join(out_dir, "x.npy"), x[:5])
    ember_run = os.path.join(ROOT, "build", "bin", "ember-run")
    if os.path.exists(ember_run):
        subprocess.run([ember_run, path, "--input", os.path.join(out_dir, "x.npy"),
                        "--output", os.path.join(out_dir, "y.npy"), "--trust-native"],
                       check=True)
        with ember.no_grad():
            expected = model(xs[:5]).numpy()
        got = np.load(os.path.join(out_dir, "y.npy"))
        print("ember-run matches Python:", np.allclose(got, expected, atol=1e-5))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", nargs="?", default="/tmp/ember_swish_example")
    parser.add_argument("--device", default="cpu", help="cpu or vulkan")
    args = parser.parse_args()
    main(args.out_dir, args.device)
