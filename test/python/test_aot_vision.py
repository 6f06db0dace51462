"""Vision models through the three loaders of a compiled model: a small CNN
(the layers of resnet and mobilenet: strided, grouped and depthwise
convolutions, batch norm, residual adds, max and adaptive average pooling,
hardswish) and a small ViT (patch-embedding convolution, class token,
position embedding, multi-head attention, layer norm, GELU), each exported
with ``ember.export`` (batch symbolic) and run after

  .save -> ember-compile --target cpu[,vulkan] -> ember-run (and --device vulkan),
  ember.load_model, and the C++ runtime (examples/cpp/classify_image),

against PyTorch 1.13 with the same weights. Exported convolutions are one
``ember.conv`` op each: the CPU artifact calls the runtime's kernel through
its slot, and the Vulkan artifact gets the ``ember-decompose-conv`` im2col.
"""
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import ember
from ember_testing import tool

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "examples"))
from resnet18_aot import synthetic_image, top5  # noqa: E402

VULKAN = ember.vulkan.is_available()
SIZE = 32



def run(command, env=None):
    result = subprocess.run(command, capture_output=True, text=True, timeout=600,
                            env=None if env is None else {**os.environ, **env})
    if result.returncode != 0:
        pytest.fail(f"{' '.join(command)} failed ({result.returncode}):\n"
                    f"{result.stdout}\n{result.stderr}")
    return result


def small_cnn(lib):
    """resnet's and mobilenet's layers, written once for torch and ember."""
    nn = lib.nn

    class Block(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.conv1 = nn.Conv2d(c, c, 3, 1, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(c)
            self.conv2 = nn.Conv2d(c, c, 3, 1, 1, groups=2, bias=False)
            self.bn2 = nn.BatchNorm2d(c)
            self.relu = nn.ReLU()

        def forward(self, x):
            return self.relu(self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x))))) + x)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 8, 5, 2, 2, bias=False), nn.BatchNorm2d(8),
                                      nn.ReLU(), nn.MaxPool2d(3, 2, 1))
            self.block = Block(8)
            self.depthwise = nn.Sequential(nn.Conv2d(8, 8, 3, 2, 1, groups=8),
                                           nn.BatchNorm2d(8), nn.Hardswish(),
                                           nn.Conv2d(8, 16, 1))
            self.pool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(16, 10)

        def forward(self, x):
            x = self.depthwise(self.block(self.stem(x)))
            return self.fc(lib.flatten(self.pool(x), 1))

    return Net()


def small_vit(lib):
    """vit_b_16's layers at a small size, written once for torch and ember."""
    nn = lib.nn

    class ViT(nn.Module):
        def __init__(self, patch=8, dim=32, heads=4):
            super().__init__()
            self.patch = nn.Conv2d(3, dim, patch, patch)
            self.class_token = nn.Parameter(lib.zeros(1, 1, dim))
            self.position = nn.Parameter(lib.zeros(1, (SIZE // patch) ** 2 + 1, dim))
            self.ln1 = nn.LayerNorm(dim)
            self.attention = nn.MultiheadAttention(dim, heads, batch_first=True)
            self.ln2 = nn.LayerNorm(dim)
            self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))
            self.head = nn.Linear(dim, 10)

        def forward(self, x):
            x = self.patch(x).flatten(2).transpose(1, 2)
            token = self.class_token.expand(x.shape[0], -1, -1)
            x = lib.cat([token, x], 1) + self.position
            y = self.ln1(x)
            x = x + self.attention(y, y, y, need_weights=False)[0]
            x = x + self.mlp(self.ln2(x))
            return self.head(x[:, 0])

    return ViT()


def twins(build):
    """The torch module (random weights, eval) and the ember one with them."""
    torch.manual_seed(0)
    reference = build(torch).eval()
    with torch.no_grad():
        for p in reference.parameters():  # away from zero-initialised tokens
            p.add_(0.1 * torch.randn_like(p))
        for name, b in reference.named_buffers():
            if name.endswith("running_var"):
                b.uniform_(0.5, 1.5)
            elif name.endswith("running_mean"):
                b.normal_()
    model = build(ember)
    model.load_state_dict({k: ember.tensor(v.detach().numpy().copy())
                           for k, v in reference.state_dict().items()})
    return reference, model.eval()


@pytest.fixture(scope="module", params=["cnn", "vit"])
def compiled(request, tmp_path_factory):
    """(torch module, exported program, portable file, compiled file, key)."""
    reference, model = twins({"cnn": small_cnn, "vit": small_vit}[request.param])
    folder = tmp_path_factory.mktemp(request.param)
    example = ember.tensor(np.random.default_rng(1).standard_normal(
        (2, 3, SIZE, SIZE)).astype(np.float32))
    program = ember.export(model, (example,), dynamic_dims=[{0: "batch"}])
    portable, native = str(folder / "model.ember"), str(folder / "model.native.ember")
    program.save(portable)
    key = str(folder / "key")
    run([tool("tools/ember-compile/ember-compile"), "--generate-key", key])
    targets = "cpu,vulkan" if VULKAN else "cpu"
    run([tool("tools/ember-compile/ember-compile"), portable, "--target", targets,
         "--sign", key + ".key", "-o", native])
    return request.param, reference, program, portable, native, key + ".pub"


def expected(reference, x):
    with torch.no_grad():
        return reference(torch.from_numpy(x)).numpy()


def test_exported_convolutions_are_conv_ops(compiled):
    kind, _, program, *_ = compiled
    # Every convolution, the depthwise one included (export traces under
    # no_grad, where depthwise convolutions are ember.conv too).
    assert program.program_text().count("ember.conv ") == {"cnn": 5, "vit": 1}[kind]


@pytest.mark.parametrize("batch", [1, 3])
def test_load_model_matches_torch(compiled, batch):
    _, reference, _, _, native, pub = compiled
    x = np.random.default_rng(batch).standard_normal((batch, 3, SIZE, SIZE)).astype(np.float32)
    model = ember.load_model(native, trusted_keys=[pub])
    assert model.executable_kind == "cpu-native"
    np.testing.assert_allclose(model(ember.tensor(x)).numpy(), expected(reference, x),
                               rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("device", ["cpu"] + (["vulkan"] if VULKAN else []))
def test_ember_run_matches_torch(compiled, device, tmp_path):
    _, reference, _, _, native, pub = compiled
    x = np.random.default_rng(5).standard_normal((2, 3, SIZE, SIZE)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    command = [tool("tools/ember-run/ember-run"), native, "--trusted-key", pub,
               "--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.npy")]
    if device != "cpu":
        command += ["--device", device]
    out = run(command)
    assert ("cpu-native" in out.stdout + out.stderr) == (device == "cpu")
    tolerance = 1e-4 if device == "cpu" else 1e-3
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), expected(reference, x),
                               rtol=tolerance, atol=tolerance)


def test_cpp_app_classifies_like_torch(compiled):
    """examples/cpp/classify_image (runtime only) on its synthetic image."""
    _, reference, _, _, native, pub = compiled
    out = run([tool("examples/classify_image"), native, str(SIZE)],
              env={"EMBER_TRUSTED_KEYS": pub}).stdout
    assert "runs cpu-native code" in out
    printed = [(int(line.split()[1]), float(line.split()[4])) for line in out.splitlines()
               if line.strip().startswith("class ")]
    want = top5(expected(reference, synthetic_image(SIZE))[0])
    assert [c for c, _ in printed] == [c for c, _ in want]
    np.testing.assert_allclose([p for _, p in printed], [p for _, p in want], atol=2e-4)


def test_a_model_loaded_where_another_was_gets_its_own_weights(tmp_path):
    """Compiled models pack their convolution weights once (cached while
    the file is loaded, dropped when it is released): a second model with
    other weights, likely mapped at the first one's address, must not run
    with the first one's packed weights."""
    import gc

    x = np.random.default_rng(3).standard_normal((1, 3, SIZE, SIZE)).astype(np.float32)
    key = str(tmp_path / "key")
    run([tool("tools/ember-compile/ember-compile"), "--generate-key", key])
    for seed in (1, 2, 3):
        torch.manual_seed(seed)
        reference = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(),
                                        torch.nn.Conv2d(8, 4, 3, stride=2)).eval()
        model = ember.nn.Sequential(ember.nn.Conv2d(3, 8, 3, padding=1), ember.nn.ReLU(),
                                    ember.nn.Conv2d(8, 4, 3, stride=2))
        model.load_state_dict({k: ember.tensor(v.detach().numpy().copy())
                               for k, v in reference.state_dict().items()})
        portable, native = str(tmp_path / "m.ember"), str(tmp_path / f"m{seed}.cpu.ember")
        ember.export(model.eval(), (ember.tensor(x),)).save(portable)
        run([tool("tools/ember-compile/ember-compile"), portable, "--target", "cpu",
             "--sign", key + ".key", "-o", native])
        loaded = ember.load_model(native, trusted_keys=[key + ".pub"])
        for _ in range(2):  # the second call reads the cached panels
            np.testing.assert_allclose(loaded(ember.tensor(x)).numpy(), expected(reference, x),
                                       rtol=1e-4, atol=1e-4)
        del loaded
        gc.collect()
