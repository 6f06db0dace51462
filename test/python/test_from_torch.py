"""ember.from_torch / ember.import_torch_module against PyTorch 1.13.

Each mapping family on tiny modules (forward, and parameter gradients where
the op is trainable): torch.nn leaf modules, torch / F functions, Tensor
methods, operator and torchvision's stochastic_depth; the error an unmapped
op raises (op, module path, source line); one small CNN and one small
transformer end to end through export, .save and ember.load_model; a
fine-tuning step whose gradients equal torch's; docs/from_torch.md against
its generator. The torchvision models are in scripts/check-from-torch-models
(slow, not in this suite).
"""

import math
import os
import runpy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import ember

TOL = dict(rtol=1e-4, atol=1e-5)


def _find(relative):
    for base in (os.environ.get("TEST_SRCDIR", ""), os.path.dirname(__file__)):
        for candidate in (os.path.join(base, "_main", relative),
                          os.path.join(base, "__main__", relative),
                          os.path.join(base, "..", "..", relative)):
            if os.path.exists(candidate):
                return candidate
    raise FileNotFoundError(relative)


def _e(x):
    return ember.from_numpy(x.detach().numpy().copy())


def check(module, *inputs, grads=True, tol=TOL):
    """The imported module's output (and, with grads, its parameters'
    gradients of sum(output * weights)) equal torch's."""
    torch.manual_seed(0)
    imported = ember.import_torch_module(module, inputs)
    imported.train(module.training)
    expected = module(*inputs)
    got = imported(*[_e(x) for x in inputs])
    if isinstance(expected, tuple):
        expected, got = expected[0], got[0]
    np.testing.assert_allclose(got.numpy(), expected.detach().numpy(), **tol)
    assert [k for k in imported.state_dict()] == [k for k in module.state_dict()]
    if grads and expected.dtype.is_floating_point and any(
            p.requires_grad for p in module.parameters()):
        weights = torch.randn(expected.shape)
        (expected * weights).sum().backward()
        (got * _e(weights)).sum().backward()
        ours = dict(imported.named_parameters())
        for name, p in module.named_parameters():
            np.testing.assert_allclose(ours[name].grad.numpy(), p.grad.numpy(), rtol=1e-3,
                                       atol=1e-4, err_msg=name)
    return imported


# --- torch.nn leaf modules ----------------------------------------------------

LEAVES = [
    (lambda: torch.nn.Conv2d(3, 4, 3, stride=2, padding=1, groups=1), (2, 3, 8, 8)),
    (lambda: torch.nn.Conv2d(4, 4, 3, padding="same", groups=4, bias=False), (1, 4, 6, 6)),
    (lambda: torch.nn.Conv1d(3, 5, 3, dilation=2), (2, 3, 12)),
    (lambda: torch.nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, output_padding=1),
     (1, 3, 5, 5)),
    (lambda: torch.nn.Linear(6, 3), (4, 6)),
    (lambda: torch.nn.BatchNorm2d(3).eval(), (2, 3, 4, 4)),
    (lambda: torch.nn.BatchNorm1d(5), (4, 5)),
    (lambda: torch.nn.LayerNorm([4], eps=1e-6), (2, 3, 4)),
    (lambda: torch.nn.GroupNorm(2, 4), (2, 4, 3, 3)),
    (lambda: torch.nn.MaxPool2d(3, 2, 1), (1, 2, 7, 7)),
    (lambda: torch.nn.AvgPool2d(2), (1, 2, 6, 6)),
    (lambda: torch.nn.AdaptiveAvgPool2d((1, 1)), (2, 3, 5, 5)),
    (lambda: torch.nn.Hardswish(), (3, 7)),
    (lambda: torch.nn.Hardsigmoid(), (3, 7)),
    (lambda: torch.nn.SiLU(), (3, 7)),
    (lambda: torch.nn.GELU(approximate="tanh"), (3, 7)),
    (lambda: torch.nn.ReLU6(inplace=True), (3, 7)),
    (lambda: torch.nn.Softmax(dim=1), (3, 7)),
    (lambda: torch.nn.Dropout(0.3).eval(), (3, 7)),
    (lambda: torch.nn.Identity(), (3, 7)),
    (lambda: torch.nn.Flatten(1), (2, 3, 4)),
    (lambda: torch.nn.ZeroPad2d((1, 2, 0, 1)), (1, 2, 3, 3)),
    (lambda: torch.nn.ReflectionPad2d(1), (1, 2, 3, 3)),
    (lambda: torch.nn.MultiheadAttention(8, 2, batch_first=True), "mha"),
    (lambda: torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True,
                                              activation="gelu").eval(), (2, 5, 8)),
]


@pytest.mark.parametrize("make,shape", LEAVES, ids=lambda v: getattr(v, "__name__", None)
                         if not callable(v) else type(v()).__name__)
def test_leaf_module(make, shape):
    torch.manual_seed(1)
    module = make()
    if shape == "mha":
        x = torch.randn(2, 5, 8)
        check(module, x, x, x)
        return
    check(module, torch.randn(*shape))


def test_embedding_imports_and_exports():
    torch.manual_seed(2)
    module = torch.nn.Embedding(11, 4)
    tokens = torch.tensor([[1, 3, 10], [0, 2, 2]])
    check(module, tokens)
    program = ember.from_torch(module, (tokens,))
    np.testing.assert_allclose(program(tokens.numpy()).numpy(), module(tokens).detach().numpy(),
                               **TOL)


# --- functions, methods, operators -------------------------------------------


class Functional(torch.nn.Module):
    """One module calling a spread of torch / F functions, Tensor methods and
    operators, on a trainable weight so that gradients flow through them."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.randn(4, 6))
        self.register_buffer("scale", torch.rand(6) + 0.5)

    def forward(self, x):
        b = x.size(0)
        h = F.linear(x, self.w.t()) * self.scale
        h = torch.cat([F.gelu(h), F.silu(h), torch.tanh(h)], dim=1)
        h = h.view(b, 3, 6).permute(0, 2, 1).contiguous().reshape(b, -1)
        h = F.layer_norm(h, (18,)) + F.hardswish(h) - F.hardsigmoid(h) / 2
        h = h.unsqueeze(1).expand(b, 2, 18).flatten(1)
        q, k = h.chunk(2, dim=1)
        attn = torch.softmax(q.unsqueeze(2) @ k.unsqueeze(1) / math.sqrt(18), dim=-1)
        out = (attn @ k.unsqueeze(-1)).squeeze(-1)
        out = out.mean(dim=1, keepdim=True) + out.sum(-1, keepdim=True) ** 2
        return F.relu(out).clamp(max=50.0) + torch.sigmoid(out) * out.abs()


def test_functions_methods_operators():
    torch.manual_seed(3)
    check(Functional(), torch.randn(3, 4))


class ShapeCode(torch.nn.Module):
    """Unpacks a shape, slices a buffer by a size and branches on a size (as
    torchvision's ViT does): the tracer runs on the example to trace these."""

    def __init__(self):
        super().__init__()
        self.token = torch.nn.Parameter(torch.randn(1, 1, 4))
        self.register_buffer("position", torch.randn(1, 16, 4))

    def forward(self, x):
        n, t, c = x.shape
        torch._assert(c == 4, "4 channels")
        x = torch.cat([self.token.expand(n, -1, -1), x], dim=1)
        if t > 2:
            x = x + self.position[:, :t + 1]
        return x.transpose(1, 2)[..., 1:]


def test_shape_code_and_dynamic_batch_export():
    torch.manual_seed(4)
    module = ShapeCode()
    check(module, torch.randn(2, 5, 4))
    program = ember.from_torch(module, (torch.randn(2, 5, 4),), dynamic_dims=[{0: "batch"}])
    assert program.input_specs[0].name == "x"
    for batch in (1, 6):
        x = torch.randn(batch, 5, 4)
        np.testing.assert_allclose(program(x.numpy()).numpy(), module(x).detach().numpy(),
                                   **TOL)


def test_stochastic_depth():
    torchvision = pytest.importorskip("torchvision")

    class Residual(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(5, 5)

        def forward(self, x):
            return x + torchvision.ops.stochastic_depth(self.linear(x), 0.2, "row",
                                                       self.training)

    module = Residual().eval()
    check(module, torch.randn(3, 5))


# --- errors ---------------------------------------------------------------------


class Inner(torch.nn.Module):
    def forward(self, x):
        return torch.i0(x.tanh())  # ember has no i0


class Outer(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = Inner()

    def forward(self, x):
        return self.inner(x) + 1


def test_unmapped_op_names_op_module_and_line():
    from ember._from_torch import UnsupportedTorchOp
    with pytest.raises(UnsupportedTorchOp) as info:
        ember.import_torch_module(Outer(), (torch.randn(2),))
    message = str(info.value)
    assert "torch.i0" in message
    assert "module 'inner' (Inner)" in message
    assert "test_from_torch.py:" in message and "torch.i0(x.tanh())" in message


def test_rejects_non_modules():
    with pytest.raises(TypeError, match="torch.nn.Module"):
        ember.from_torch(lambda x: x, (torch.randn(2),))


# --- end to end and training -----------------------------------------------------


class SqueezeExcitation(torch.nn.Module):
    """MobileNetV3's: x * hardsigmoid(fc2(relu(fc1(mean(x))))), the fcs 1x1
    convs on one pixel."""

    def __init__(self, channels, squeezed):
        super().__init__()
        self.fc1 = torch.nn.Conv2d(channels, squeezed, 1)
        self.fc2 = torch.nn.Conv2d(squeezed, channels, 1)

    def forward(self, x):
        scale = torch.nn.functional.adaptive_avg_pool2d(x, 1)
        scale = self.fc2(torch.relu(self.fc1(scale)))
        return x * torch.nn.functional.hardsigmoid(scale)


class SmallCNN(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.features = torch.nn.Sequential(
            torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
            torch.nn.MaxPool2d(2), torch.nn.Conv2d(8, 8, 3, padding=1, groups=2),
            torch.nn.Hardswish(),
            # A MobileNetV3 block: depthwise conv + BatchNorm + hardswish
            # (one fused call), squeeze-and-excitation (its hardsigmoid in
            # the second fc's call).
            torch.nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False), torch.nn.BatchNorm2d(8),
            torch.nn.Hardswish(), SqueezeExcitation(8, 4))
        self.pool = torch.nn.AdaptiveAvgPool2d(1)
        self.head = torch.nn.Linear(8, 5)

    def forward(self, x):
        return self.head(torch.flatten(self.pool(self.features(x) + 0.5), 1))


def test_small_cnn_save_and_load(tmp_path):
    torch.manual_seed(5)
    model = SmallCNN()
    with torch.no_grad():  # running stats that are not the initial ones
        for norm in (model.features[1], model.features[7]):
            norm.running_mean.uniform_(-0.5, 0.5)
            norm.running_var.uniform_(0.5, 2.0)
    model.eval()
    program = ember.from_torch(model, (torch.randn(2, 3, 8, 8),), dynamic_dims=[{0: "batch"}])
    # The BatchNorm is folded into the conv before it (its weight and bias).
    assert "features.1.running_mean" not in program.weights
    assert "features.0.bias" in program.weights
    path = tmp_path / "cnn.ember"
    program.save(path)
    loaded = ember.load_model(path)
    for batch in (1, 8):
        x = torch.randn(batch, 3, 8, 8)
        np.testing.assert_allclose(loaded(x.numpy()).numpy(), model(x).detach().numpy(), **TOL)


class ConvNorms(torch.nn.Module):
    """Conv1d without bias + BatchNorm without affine (folded), and a
    BatchNorm whose conv's output is also read elsewhere (kept)."""

    def __init__(self):
        super().__init__()
        self.a = torch.nn.Conv1d(3, 6, 3, padding=1, bias=False)
        self.norm_a = torch.nn.BatchNorm1d(6, affine=False)
        self.b = torch.nn.Conv1d(6, 6, 1)
        self.norm_b = torch.nn.BatchNorm1d(6)

    def forward(self, x):
        z = self.b(torch.relu(self.norm_a(self.a(x))))
        return self.norm_b(z) + z


def test_batch_norm_folds_into_conv_at_export_only():
    torch.manual_seed(8)
    model = ConvNorms()
    with torch.no_grad():
        for norm in (model.norm_a, model.norm_b):
            norm.running_mean.uniform_(-0.5, 0.5)
            norm.running_var.uniform_(0.5, 2.0)
        model.norm_b.weight.uniform_(0.5, 1.5)
        model.norm_b.bias.uniform_(-0.5, 0.5)
    model.eval()
    x = torch.randn(2, 3, 10)
    program = ember.from_torch(model, (x,))
    assert "norm_a.running_mean" not in program.weights and "a.bias" in program.weights
    assert "norm_b.running_mean" in program.weights
    with torch.no_grad():
        expected = model(x).numpy()
    np.testing.assert_allclose(program(x.numpy()).numpy(), expected, **TOL)
    # Opted out, and the trainable import: the BatchNorm layers stay.
    assert "norm_a.running_mean" in ember.from_torch(model, (x,), fold_batch_norm=False).weights
    assert "norm_a.running_mean" in ember.import_torch_module(model, (x,)).state_dict()
    assert model.a.bias is None  # the torch module is left as it was


# The torch.export path (PyTorch 2.x): the same folding on the aten graph.
# Runs in this process under torch 2.x, else under the peers' torch 2.x
# (EMBER_TORCH2_PYTHON, default /work/peers/bin/python) when it exists.
_EXPORT_FOLD_CHECK = """
import numpy as np, torch, ember
class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = torch.nn.Conv2d(3, 6, 3, padding=1, bias=False)
        self.norm_a = torch.nn.BatchNorm2d(6)
        self.b = torch.nn.Conv2d(6, 6, 1)
        self.norm_b = torch.nn.BatchNorm2d(6, affine=False)
        self.norm_c = torch.nn.BatchNorm2d(6)
    def forward(self, x):
        y = torch.relu(self.norm_a(self.a(x)))
        z = self.b(y)
        return self.norm_b(z) + self.norm_c(y)
torch.manual_seed(9)
model = Block()
with torch.no_grad():
    for norm in (model.norm_a, model.norm_b, model.norm_c):
        norm.running_mean.uniform_(-0.5, 0.5)
        norm.running_var.uniform_(0.5, 2.0)
    model.norm_a.weight.uniform_(0.5, 1.5)
    model.norm_a.bias.uniform_(-0.5, 0.5)
model.eval()
x = torch.randn(2, 3, 6, 6)
program = ember.from_torch(model, (x,), dynamic_dims=[{0: "batch"}], method="export")
names = set(program.weights)
assert {"a.weight", "a.bias", "b.weight", "b.bias"} <= names, names
assert not any(n.startswith(("norm_a.", "norm_b.")) for n in names), names
assert "norm_c.running_mean" in names, names  # after a ReLU: stays
assert model.a.bias is None  # the torch module is left as it was
x = torch.randn(3, 3, 6, 6)
with torch.no_grad():
    expected = model(x).numpy()
np.testing.assert_allclose(program(x.numpy()).numpy(), expected, rtol=1e-4, atol=1e-5)
kept = ember.from_torch(model, (x,), method="export", fold_batch_norm=False)
assert "norm_a.running_mean" in kept.weights
print("export fold ok")
"""


def test_batch_norm_folds_on_the_export_path():
    if int(torch.__version__.split(".")[0]) >= 2:
        exec(_EXPORT_FOLD_CHECK, {})
        return
    python = os.environ.get("EMBER_TORCH2_PYTHON", "/work/peers/bin/python")
    if not os.path.exists(python):
        pytest.skip(f"no PyTorch 2.x ({python} is missing)")
    import subprocess
    package = os.path.dirname(os.path.dirname(ember.__file__))
    env = dict(os.environ, PYTHONPATH=package)
    result = subprocess.run([python, "-W", "ignore", "-c", _EXPORT_FOLD_CHECK], env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0 and "export fold ok" in result.stdout, result.stderr[-3000:]


def test_transformer_encoder_save_and_load(tmp_path):
    torch.manual_seed(6)
    layer = torch.nn.TransformerEncoderLayer(8, 2, 16, batch_first=True)
    model = torch.nn.TransformerEncoder(layer, 2).eval()
    program = ember.from_torch(model, (torch.randn(2, 4, 8),), dynamic_dims=[{0: "batch"}])
    program.save(tmp_path / "encoder.ember")
    loaded = ember.load_model(tmp_path / "encoder.ember")
    x = torch.randn(3, 4, 8)
    with torch.no_grad():
        expected = model(x).numpy()
    np.testing.assert_allclose(loaded(x.numpy()).numpy(), expected, **TOL)


def test_fine_tuning_step_matches_torch():
    """One SGD step on the imported CNN in train mode (BatchNorm on batch
    statistics): loss, gradients and updated weights equal torch's."""
    torch.manual_seed(7)
    model = SmallCNN().train()
    x, y = torch.randn(4, 3, 8, 8), torch.tensor([0, 3, 1, 4])
    imported = ember.import_torch_module(model, (x,)).train()
    reference = SmallCNN()
    reference.load_state_dict(model.state_dict())
    reference.train()
    loss = F.cross_entropy(reference(x), y)
    loss.backward()
    ours = ember.nn.functional.cross_entropy(imported(_e(x)), _e(y))
    ours.backward()
    np.testing.assert_allclose(ours.item(), loss.item(), rtol=1e-5)
    parameters = dict(imported.named_parameters())
    for name, p in reference.named_parameters():
        np.testing.assert_allclose(parameters[name].grad.numpy(), p.grad.numpy(), rtol=1e-3,
                                   atol=1e-5, err_msg=name)
    ember.optim.SGD(imported.parameters(), lr=0.1).step()
    torch.optim.SGD(reference.parameters(), lr=0.1).step()
    np.testing.assert_allclose(parameters["head.weight"].numpy(),
                               reference.head.weight.detach().numpy(), rtol=1e-4, atol=1e-6)


def test_weights_are_shared_not_copied():
    """The imported parameters view the torch tensors' memory; an Ember
    optimizer step writes Ember's own buffers and leaves torch's as they were."""
    module = torch.nn.Linear(3, 2)
    imported = ember.import_torch_module(module, (torch.randn(1, 3),))
    with torch.no_grad():
        module.weight.add_(1.0)
    np.testing.assert_array_equal(imported.weight.detach().numpy(),
                                  module.weight.detach().numpy())
    before = module.weight.detach().clone()
    imported(ember.randn(4, 3)).sum().backward()
    ember.optim.SGD(imported.parameters(), lr=0.1).step()
    assert torch.equal(module.weight.detach(), before)
    assert not np.allclose(imported.weight.detach().numpy(), before.numpy())


def test_docs_are_generated_from_the_table():
    generator = runpy.run_path(_find("scripts/gen-from-torch-docs"))
    with open(_find("docs/from_torch.md")) as f:
        assert f.read() == generator["render"](), \
            "docs/from_torch.md is out of date: run scripts/gen-from-torch-docs"
