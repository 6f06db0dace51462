#!/usr/bin/python3
"""torchvision's resnet18, imported into Ember, compiled ahead of time and
served from C++.

  1. builds torchvision's resnet18 (random weights: nothing is downloaded)
     in eval mode;
  2. imports it: ``ember.from_torch(model, (images,), dynamic_dims=...)``
     (torch.fx), which returns an exported program with the model's weights;
  3. checks the program against PyTorch on a synthetic image and saves it;
  4. ``ember-compile --target cpu --sign KEY`` adds native code for this CPU;
  5. runs ``classify_image`` (examples/cpp/classify_image.cpp, links only
     Ember's runtime), which draws the same synthetic image and prints the
     five most probable classes: they match PyTorch's, printed here first.

Usage (after scripts/build):
  PYTHONPATH=build/python /usr/bin/python3 examples/resnet18_aot.py [--size 224]
"""
import argparse
import math
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torchvision

import ember

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "build", "bin")
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


def synthetic_image(size):
    """The image classify_image.cpp draws: a colour gradient with a bright
    disc, normalized like torchvision's ImageNet transforms; (1, 3, S, S)."""
    u = (np.arange(size, dtype=np.float32) / size)[None, :].repeat(size, 0)
    v = (np.arange(size, dtype=np.float32) / size)[:, None].repeat(size, 1)
    disc = (u - np.float32(0.6)) ** 2 + (v - np.float32(0.4)) ** 2 < np.float32(0.05)
    rgb = [np.where(disc, np.float32(0.95), u), np.where(disc, np.float32(0.85), v),
           np.where(disc, np.float32(0.2),
                    np.float32(0.5) + np.float32(0.5) * np.sin(np.float32(6.0) * (u + v)))]
    image = np.stack([(c - m) / s for c, m, s in zip(rgb, MEAN, STD)])
    return image[None].astype(np.float32)


def import_model(model, image):
    """The torch module as an Ember exported program, batch symbolic (the
    example has two images: a size-1 dim would be static)."""
    batch = np.concatenate([image, image])
    return ember.from_torch(model, (torch.from_numpy(batch),), dynamic_dims=[{0: "batch"}])


def top5(logits):
    order = np.argsort(-logits)[:5]
    shifted = np.exp(logits - logits.max())
    return [(int(c), float(shifted[c] / shifted.sum())) for c in order]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=224, help="image height and width")
    parser.add_argument("--dir", help="where the model files go (default: a temporary folder)")
    args = parser.parse_args()

    torch.manual_seed(0)
    model = torchvision.models.resnet18().eval()
    image = synthetic_image(args.size)
    with torch.no_grad():
        expected = model(torch.from_numpy(image)).numpy()[0]
    print("PyTorch's top 5:", ", ".join(f"class {c} p={p:.4f}" for c, p in top5(expected)))

    program = import_model(model, image)
    got = program(ember.tensor(image)).numpy()[0]
    error = float(np.abs(got - expected).max())
    print(f"imported program vs PyTorch: max |difference| {error:.2e}")
    assert error < 1e-3 * max(1.0, float(np.abs(expected).max())), error

    folder = args.dir or tempfile.mkdtemp(prefix="resnet18_aot.")
    os.makedirs(folder, exist_ok=True)
    portable = os.path.join(folder, "resnet18.ember")
    compiled = os.path.join(folder, "resnet18.cpu.ember")
    key = os.path.join(folder, "example")
    program.save(portable)
    compile_ = os.path.join(BIN, "ember-compile")
    if not os.path.exists(key + ".key"):
        subprocess.run([compile_, "--generate-key", key], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([compile_, portable, "--target", "cpu", "--sign", key + ".key",
                    "-o", compiled], check=True)
    env = dict(os.environ, EMBER_TRUSTED_KEYS=key + ".pub")
    result = subprocess.run([os.path.join(BIN, "classify_image"), compiled, str(args.size)],
                            env=env, check=True, capture_output=True, text=True)
    print(result.stdout, end="")
    # The C++ app's classes are PyTorch's.
    printed = [int(line.split()[1]) for line in result.stdout.splitlines()
               if line.strip().startswith("class ")]
    assert printed == [c for c, _ in top5(expected)], (printed, top5(expected))
    print("the C++ app's top 5 equal PyTorch's")


if __name__ == "__main__":
    main()
