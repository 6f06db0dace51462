"""A fused activation written in C++ (swish_op.cpp), trained through.

Builds the custom op library with ember.utils.cpp_extension.load, trains a
small regression MLP whose activation is ``demo::swish`` (forward and
backward are the C++ kernels, inside the compiled training step), exports
it as a .ember file next to a copy of the library, and runs it with the C++
runtime (ember-run), which loads the library because --trust-native allows
it (docs/custom-ops.md).

    PYTHONPATH=build/python /usr/bin/python3 examples/custom_op/train.py [OUT_DIR]
"""

import os
import shutil
import subprocess
import sys

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


def main(out_dir):
    ops = cpp_extension.load("swish_example", [os.path.join(HERE, "swish_op.cpp")],
                             verbose=True)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 4)).astype(np.float32)
    y = (np.sin(x[:, :1]) + x[:, 1:2] * x[:, 2:3]).astype(np.float32)
    ember.manual_seed(0)
    model = SwishMLP(ops)
    opt = ember.optim.Adam(model.parameters(), lr=1e-2)
    xs, ys = ember.from_numpy(x), ember.from_numpy(y)
    for step in range(200):
        loss = ((model(xs) - ys) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 50 == 0 or step == 199:
            print(f"step {step:3d}  loss {loss.item():.4f}")

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
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/ember_swish_example")
