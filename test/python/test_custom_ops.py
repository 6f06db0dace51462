"""C++ custom ops: ember.utils.cpp_extension.load builds
examples/custom_op/swish_op.cpp once for the module (a few seconds); its
ops run in compiled programs (forward and backward against NumPy, fused
graphs around them), fail with their shape functions' and kernels'
messages, are exported into .ember files that name their library, and run
from the C++ runtime (ember-run) only when trusted."""

import json
import os
import shutil
import struct
import subprocess
import sys

import numpy as np
import pytest

import ember
from ember_testing import tool
from ember import nn
from ember.utils import cpp_extension

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SOURCE = os.path.join(ROOT, "examples", "custom_op", "swish_op.cpp")



@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    folder = tmp_path_factory.mktemp("extension")
    return cpp_extension.load("demo_ops", [SOURCE], build_directory=str(folder))


def sigmoid(v):
    return 1 / (1 + np.exp(-v))


def test_load_registers_ops_and_skips_an_unchanged_rebuild(lib):
    assert sorted(lib.op_names) == ["demo::frexp", "demo::scaled_add", "demo::sincos",
                                    "demo::sincos_backward", "demo::swish",
                                    "demo::swish_backward"]
    assert ember.ops.demo.swish.name == "demo::swish"
    built = cpp_extension._load.built
    again = cpp_extension.load("demo_ops", [SOURCE],
                               build_directory=os.path.dirname(lib.path))
    assert again.path == lib.path and cpp_extension._load.built == built


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_forward_matches_numpy_on_strided_inputs(lib, dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 3)).astype(dtype)
    t = ember.from_numpy(x)
    y = lib.swish(t, beta=1.5).numpy()
    np.testing.assert_allclose(y, x * sigmoid(1.5 * x), rtol=1e-6)
    # A transposed view reaches the kernel with its strides, no copy.
    yt = lib.swish(t.t()).numpy()
    np.testing.assert_allclose(yt, x.T * sigmoid(x.T), rtol=1e-6)


def test_fused_graph_around_the_op_compiles_once(lib):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 6)).astype(np.float32)

    def f(t):
        return (lib.swish(t * 2 + 1, beta=0.5) * 3).sum(dim=1)

    ember.compile_stats()  # warm
    before = ember.compile_stats()["compiles"]
    out = f(ember.from_numpy(x)).numpy()
    middle = ember.compile_stats()["compiles"]
    out2 = f(ember.from_numpy(x + 1)).numpy()  # same graph: a cache hit
    after = ember.compile_stats()["compiles"]
    z = x * 2 + 1
    np.testing.assert_allclose(out, (z * sigmoid(0.5 * z) * 3).sum(1), rtol=1e-5)
    z = (x + 1) * 2 + 1
    np.testing.assert_allclose(out2, (z * sigmoid(0.5 * z) * 3).sum(1), rtol=1e-5)
    assert middle - before == 1 and after == middle


def test_backward_from_the_registered_cpp_op(lib):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 4)).astype(np.float32)
    w = rng.standard_normal((3, 4)).astype(np.float32)
    t = ember.tensor(x, requires_grad=True)
    (lib.swish(t, beta=2.0) * ember.from_numpy(w)).sum().backward()
    s = sigmoid(2 * x)
    np.testing.assert_allclose(t.grad.numpy(), w * (s + 2 * x * s * (1 - s)),
                               rtol=1e-5, atol=1e-6)


def test_backward_from_a_python_function(lib):
    rng = np.random.default_rng(3)
    a = ember.tensor(rng.standard_normal((2, 3)).astype(np.float32), requires_grad=True)
    b = ember.tensor(rng.standard_normal((2, 3)).astype(np.float32), requires_grad=True)
    with pytest.raises(RuntimeError, match="demo::scaled_add: an input requires "
                       "grad but the op has no backward"):
        lib.scaled_add(a, b)

    def setup(ctx, inputs, output):
        _, _, ctx.alpha = inputs

    def backward(ctx, grad):
        # The backward may call custom ops too (traced into the program).
        return grad, lib.scaled_add(grad * 0, grad, alpha=ctx.alpha)

    ember.library.register_autograd("demo::scaled_add", backward, setup_context=setup)
    g = rng.standard_normal((2, 3)).astype(np.float32)
    (lib.scaled_add(a, b, alpha=-2.5) * ember.from_numpy(g)).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), g, rtol=1e-6)
    np.testing.assert_allclose(b.grad.numpy(), -2.5 * g, rtol=1e-6)


def test_shape_function_and_kernel_errors(lib):
    a, b = ember.zeros(3, 4), ember.zeros(3, 5)
    with pytest.raises(RuntimeError, match="demo::scaled_add: input 1 must have "
                       "input 0's dtype and shape"):
        lib.scaled_add(a, b)
    with pytest.raises(RuntimeError, match="demo::swish: expected float32 or float64"):
        lib.swish(ember.zeros(3, dtype=ember.int64))
    with pytest.raises(TypeError, match="unexpected keyword argument 'gamma'"):
        lib.swish(a, gamma=1.0)
    # A kernel's failure surfaces when the program runs.
    with pytest.raises(RuntimeError, match="demo::scaled_add: alpha is NaN"):
        lib.scaled_add(a, a, alpha=float("nan")).numpy()
    # The op still works afterwards.
    assert lib.scaled_add(a, a + 1, alpha=2.0).numpy().sum() == 24


def test_compile_error_reports_the_compiler_output(tmp_path):
    source = tmp_path / "broken.cpp"
    source.write_text('#include "ember/Runtime/CustomOp.h"\n'
                      "int f() { return undeclared_thing; }\n")
    with pytest.raises(RuntimeError) as error:
        cpp_extension.load("broken", [str(source)], build_directory=str(tmp_path))
    message = str(error.value)
    assert "Error building extension 'broken'" in message
    assert "undeclared_thing" in message and "error" in message


def read_manifest(path):
    data = open(path, "rb").read()
    version = struct.unpack_from("<I", data, 8)[0]
    start = data.index(b'{\n "format_version"')
    depth, end = 0, start
    for end in range(start, len(data)):
        depth += {ord("{"): 1, ord("}"): -1}.get(data[end], 0)
        if depth == 0:
            break
    return version, json.loads(data[start:end + 1])


def test_export_names_the_library_and_the_cpp_runtime_trusts_it_explicitly(
        lib, tmp_path):
    ember.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 6))
    x = np.random.default_rng(4).standard_normal((5, 8)).astype(np.float32)

    def forward(t):
        return lib.swish(model(t), beta=1.25)

    with ember.no_grad():
        expected = forward(ember.from_numpy(x)).numpy()
    program = ember.export(forward, (ember.from_numpy(x),),
                           dynamic_dims=[{0: "batch"}])
    path = tmp_path / "swish.ember"
    program.save(path)
    version, manifest = read_manifest(path)
    assert version == 3 and manifest["format_version"] == 3
    [entry] = manifest["custom_op_libraries"]
    assert entry["name"] == "libdemo_ops.so" and entry["ops"] == ["demo::swish"]
    # In this process the ops are registered already: no library to load.
    loaded = ember.load_model(path)
    np.testing.assert_allclose(loaded(ember.from_numpy(x)).numpy(), expected,
                               rtol=1e-5, atol=1e-6)

    # The C++ runtime in a fresh process: the library next to the model.
    shutil.copy(lib.path, tmp_path / "libdemo_ops.so")
    x3 = x[:3]
    np.save(tmp_path / "x.npy", x3)
    command = [tool("tools/ember-run/ember-run"), str(path), "--input",
               str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.npy")]
    refused = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0
    assert "custom ops from 'libdemo_ops.so', a native library; refusing to load " \
        "it: the file is not signed" in refused.stderr
    allowed = subprocess.run(command + ["--trust-native"], capture_output=True,
                             text=True, timeout=120)
    assert allowed.returncode == 0, allowed.stderr
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), expected[:3],
                               rtol=1e-5, atol=1e-6)
    # A library that is not the exported one is refused even when allowed.
    (tmp_path / "libdemo_ops.so").write_bytes(b"\x7fELF not it")
    changed = subprocess.run(command + ["--trust-native"], capture_output=True,
                             text=True, timeout=120)
    assert changed.returncode != 0 and "is not the library the model was " \
        "exported with" in changed.stderr


def test_signed_native_file_loads_its_library_for_a_trusted_key(lib, tmp_path):
    # ember-compile adds native code (which calls the op through the
    # runtime's slots) and signs the file: its manifest, and so the
    # library's digest, is then trusted without --trust-native.
    x = np.random.default_rng(5).standard_normal((4, 3)).astype(np.float32)
    program = ember.export(lambda t: lib.swish(t * 2, beta=0.75),
                           (ember.from_numpy(x),), dynamic_dims=[{0: "n"}])
    portable, signed = tmp_path / "p.ember", tmp_path / "s.ember"
    program.save(portable)
    compile_tool = tool("tools/ember-compile/ember-compile")
    subprocess.run([compile_tool, "--generate-key", str(tmp_path / "key")],
                   check=True, capture_output=True)
    subprocess.run([compile_tool, str(portable), "--target", "cpu", "--sign",
                    str(tmp_path / "key.key"), "-o", str(signed)],
                   check=True, capture_output=True)
    shutil.copy(lib.path, tmp_path / "libdemo_ops.so")
    np.save(tmp_path / "x.npy", x)
    result = subprocess.run(
        [tool("tools/ember-run/ember-run"), str(signed), "--input",
         str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.npy"),
         "--trusted-key", str(tmp_path / "key.pub")],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "cpu-native" in result.stdout
    z = 2 * x
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), z * sigmoid(0.75 * z),
                               rtol=1e-5, atol=1e-6)


# Ops with several outputs: a tuple, gradients for each output, export.

def test_multi_output_ops_return_tuples_matching_numpy(lib):
    x = np.random.default_rng(7).standard_normal((4, 5)).astype(np.float32)
    s, c = lib.sincos(ember.from_numpy(x).t())  # strided input
    np.testing.assert_allclose(s.numpy(), np.sin(x.T), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(c.numpy(), np.cos(x.T), rtol=1e-6, atol=1e-7)
    m, e = ember.ops.demo.frexp(ember.from_numpy(x * 100))
    m_ref, e_ref = np.frexp(x * 100)
    assert e.dtype == ember.int32 and m.dtype == ember.float32
    np.testing.assert_array_equal(m.numpy(), m_ref)
    np.testing.assert_array_equal(e.numpy(), e_ref)
    # Only the second output used: the op still runs once in the graph.
    np.testing.assert_allclose((lib.sincos(ember.from_numpy(x))[1] * 2).numpy(),
                               2 * np.cos(x), rtol=1e-6)


def test_multi_output_backward_gets_a_gradient_per_output(lib):
    rng = np.random.default_rng(8)
    x = rng.standard_normal((3, 4)).astype(np.float32)
    a, b = (rng.standard_normal((3, 4)).astype(np.float32) for _ in range(2))
    t = ember.tensor(x, requires_grad=True)
    s, c = lib.sincos(t)
    (s * ember.from_numpy(a) + c * ember.from_numpy(b)).sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), a * np.cos(x) - b * np.sin(x),
                               rtol=1e-5, atol=1e-6)
    # An output the loss does not use contributes nothing (its cotangent is 0).
    t2 = ember.tensor(x, requires_grad=True)
    (lib.sincos(t2)[1] * ember.from_numpy(b)).sum().backward()
    np.testing.assert_allclose(t2.grad.numpy(), -b * np.sin(x), rtol=1e-5, atol=1e-6)

    # A Python backward: frexp's integer exponent gets None as its gradient.
    seen = []

    def setup(ctx, inputs, output):
        ctx.exponent = output[1]

    def backward(ctx, grad_mantissa, grad_exponent):
        seen.append(grad_exponent)
        return grad_mantissa * (2.0 ** -ctx.exponent.to(ember.float32))

    ember.library.register_autograd("demo::frexp", backward, setup_context=setup)
    t3 = ember.tensor(x * 10, requires_grad=True)
    m, e = ember.ops.demo.frexp(t3)
    assert e.dtype == ember.int32
    (m * ember.from_numpy(a)).sum().backward()
    assert seen == [None]
    np.testing.assert_allclose(t3.grad.numpy(), a * 2.0 ** -np.frexp(x * 10)[1],
                               rtol=1e-6)


def test_multi_output_op_exports_and_runs_in_ember_run(lib, tmp_path):
    x = np.random.default_rng(9).standard_normal((5, 3)).astype(np.float32)
    program = ember.export(lambda t: lib.sincos(t * 2),
                           (ember.from_numpy(x),), dynamic_dims=[{0: "n"}])
    path = tmp_path / "sincos.ember"
    program.save(path)
    _, manifest = read_manifest(path)
    assert manifest["custom_op_libraries"][0]["ops"] == ["demo::sincos"]
    shutil.copy(lib.path, tmp_path / "libdemo_ops.so")
    np.save(tmp_path / "x.npy", x[:4])
    result = subprocess.run(
        [tool("tools/ember-run/ember-run"), str(path), "--input", str(tmp_path / "x.npy"),
         "--output", str(tmp_path / "s.npy"), "--output", str(tmp_path / "c.npy"),
         "--trust-native"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    np.testing.assert_allclose(np.load(tmp_path / "s.npy"), np.sin(2 * x[:4]), rtol=1e-6)
    np.testing.assert_allclose(np.load(tmp_path / "c.npy"), np.cos(2 * x[:4]), rtol=1e-6)


def bazel_library():
    """libswish_ops.so as the Bazel macro built it (ember_custom_op_library in
    examples/custom_op/BUILD.bazel): in the test's runfiles, or bazel-bin."""
    for root in (os.path.join(os.environ.get("TEST_SRCDIR", ""), "ember"),
                 os.path.join(ROOT, "bazel-bin")):
        candidate = os.path.join(root, "examples", "custom_op", "libswish_ops.so")
        if os.path.exists(candidate):
            return candidate
    pytest.fail("//examples/custom_op:swish_ops is not built (run scripts/build)")


BAZEL_EXPORT = """
import sys, numpy as np, ember
names = ember.ops.load_library(sys.argv[1])
assert "demo::swish" in names, names
x = np.load(sys.argv[2])
t = ember.from_numpy(x).requires_grad_()
y = ember.ops.demo.swish(t * 2.0, beta=0.5)
y.sum().backward()
np.save(sys.argv[4], t.grad.numpy())
ember.export(lambda v: ember.ops.demo.swish(v * 2.0, beta=0.5), (ember.from_numpy(x),),
             dynamic_dims=[{0: "n"}]).save(sys.argv[3])
"""


def test_bazel_built_library_trains_exports_and_runs_in_the_cpp_runtime(tmp_path):
    # A fresh process: this module's cpp_extension build registers the same
    # ops. The Bazel macro's library is what a C++ app ships beside its model.
    library = bazel_library()
    x = np.random.default_rng(11).standard_normal((6, 4)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    model, grad = tmp_path / "swish.ember", tmp_path / "grad.npy"
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(ember.__file__)))
    done = subprocess.run([sys.executable, "-c", BAZEL_EXPORT, library,
                           str(tmp_path / "x.npy"), str(model), str(grad)],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    z = 2 * x
    s = sigmoid(0.5 * z)
    np.testing.assert_allclose(np.load(grad), 2 * (s + 0.5 * z * s * (1 - s)),
                               rtol=1e-5, atol=1e-6)
    _, manifest = read_manifest(model)
    [entry] = manifest["custom_op_libraries"]
    assert entry["name"] == "libswish_ops.so" and "demo::swish" in entry["ops"]
    # The C++ runtime finds the library through --custom-op-path (its folder
    # is not the model's).
    np.save(tmp_path / "x3.npy", x[:3])
    run = subprocess.run(
        [tool("tools/ember-run/ember-run"), str(model), "--input", str(tmp_path / "x3.npy"),
         "--output", str(tmp_path / "y.npy"), "--custom-op-path", library,
         "--trust-native"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), z[:3] * sigmoid(0.5 * z[:3]),
                               rtol=1e-5, atol=1e-6)


# Vulkan kernels (the example's SPIR-V), dispatched from the launch plan.

VULKAN = ember.vulkan.is_available()
needs_vulkan = pytest.mark.skipif(
    not VULKAN, reason="Vulkan is not available here: " + ember.vulkan.unavailable_reason())


@needs_vulkan
def test_vulkan_kernel_forward_and_backward_match_numpy(lib):
    rng = np.random.default_rng(10)
    x = rng.standard_normal((70, 3)).astype(np.float32)  # > one workgroup
    w = rng.standard_normal((3, 70)).astype(np.float32)
    dev = ember.from_numpy(x).to("vulkan")
    # Elementwise work on both sides fuses into kernels of its own; the op is
    # a dispatch of the user's shader between them, on a transposed view.
    y = (lib.swish(dev.t() * 2, beta=1.5) + 1).cpu().numpy()
    z = 2 * x.T
    np.testing.assert_allclose(y, z * sigmoid(1.5 * z) + 1, rtol=1e-5, atol=1e-6)
    t = ember.tensor(x, requires_grad=True, device="vulkan")
    (lib.swish(t.t(), beta=0.5) * ember.from_numpy(w).to("vulkan")).sum().backward()
    assert t.grad.device.type == "vulkan"
    s = sigmoid(0.5 * x)
    np.testing.assert_allclose(t.grad.cpu().numpy(), w.T * (s + 0.5 * x * s * (1 - s)),
                               rtol=1e-5, atol=1e-6)
    with pytest.raises(RuntimeError, match="demo::scaled_add: has no kernel for vulkan"):
        lib.scaled_add(dev, dev)
    # The shader reads 32-bit elements: a float64 tensor is refused, not
    # read as pairs of floats.
    with pytest.raises(RuntimeError, match="input 0 has 64-bit elements"):
        lib.swish(ember.from_numpy(x.astype(np.float64)).to("vulkan"), beta=1.0).cpu()


@needs_vulkan
def test_vulkan_kernel_in_a_compiled_gpu_artifact(lib, tmp_path):
    x = np.random.default_rng(11).standard_normal((6, 5)).astype(np.float32)
    program = ember.export(lambda t: lib.swish(t + 1, beta=0.75) * 3,
                           (ember.from_numpy(x),), dynamic_dims=[{0: "n"}])
    portable, compiled = tmp_path / "p.ember", tmp_path / "v.ember"
    program.save(portable)
    subprocess.run([tool("tools/ember-compile/ember-compile"), str(portable),
                    "--target", "vulkan", "-o", str(compiled)],
                   check=True, capture_output=True)
    shutil.copy(lib.path, tmp_path / "libdemo_ops.so")
    np.save(tmp_path / "x.npy", x)
    result = subprocess.run(
        [tool("tools/ember-run/ember-run"), str(compiled), "--device", "vulkan",
         "--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.npy"),
         "--trust-native"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    z = x + 1
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), 3 * z * sigmoid(0.75 * z),
                               rtol=1e-5, atol=1e-6)
