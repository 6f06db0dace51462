"""The deployment path end to end: ember.export in Python, ember-compile,
then the C++ runtime through ember-run and the examples/cpp app, checked
against eager Python on fresh random inputs at several batch sizes (the batch
dim is symbolic in the compiled artifact).

The tools come from the test's runfiles under Bazel (data deps in BUILD) and
from build/bin otherwise.
"""
import os
import re
import subprocess

import numpy as np
import pytest

import ember
from ember import nn

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def tool(label_path):
    """The binary for a Bazel target path like 'tools/ember-run/ember-run'."""
    runfiles = os.environ.get("TEST_SRCDIR")
    if runfiles:
        candidate = os.path.join(runfiles, "ember", label_path)
        if os.path.exists(candidate):
            return candidate
    candidate = os.path.join(ROOT, "build", "bin", os.path.basename(label_path))
    if not os.path.exists(candidate):
        pytest.fail(f"{label_path} is not built (run scripts/build)")
    return candidate


EMBER_COMPILE = "tools/ember-compile/ember-compile"
EMBER_RUN = "tools/ember-run/ember-run"
PREDICT_DIGITS = "examples/predict_digits"


def run(command, expect_ok=True):
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    if expect_ok and result.returncode != 0:
        pytest.fail(f"{' '.join(command)} failed ({result.returncode}):\n"
                    f"{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="module")
def digits_model(tmp_path_factory):
    """A 64-128-10 classifier, its exported file and the compiled one."""
    ember.manual_seed(7)
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    model.eval()
    folder = tmp_path_factory.mktemp("deploy")
    portable = str(folder / "mlp.ember")
    compiled = str(folder / "mlp.cpu.ember")
    ember.export(model, ember.randn(4, 64), dynamic_dims=[{0: "batch"}]).save(portable)
    result = run([tool(EMBER_COMPILE), portable, "--target", "cpu", "-o", compiled])
    # Progress goes to stderr, stage by stage.
    assert "[1/" in result.stderr and compiled in result.stderr
    return model, portable, compiled


def eager(model, x):
    with ember.no_grad():
        return model(ember.from_numpy(x)).numpy()


@pytest.mark.parametrize("batch", [1, 3, 17, 64])
def test_ember_run_native_matches_eager(digits_model, tmp_path, rng, batch):
    model, _, compiled = digits_model
    x = rng.standard_normal((batch, 64), dtype=np.float32)
    np.save(tmp_path / "x.npy", x)
    result = run([tool(EMBER_RUN), compiled, "--input", str(tmp_path / "x.npy"),
                  "--output", str(tmp_path / "y.npy")])
    assert "cpu-native" in result.stdout
    assert f"[{batch}, 10]" in result.stdout
    y = np.load(tmp_path / "y.npy")
    assert y.shape == (batch, 10) and y.dtype == np.float32
    np.testing.assert_allclose(y, eager(model, x), rtol=1e-5, atol=1e-5)


def test_ember_run_portable_file_jit_matches_eager(digits_model, tmp_path, rng):
    model, portable, _ = digits_model
    x = rng.standard_normal((5, 64), dtype=np.float32)
    np.save(tmp_path / "x.npy", x)
    result = run([tool(EMBER_RUN), portable, "--input", str(tmp_path / "x.npy"),
                  "--output", str(tmp_path / "y.npy")])
    assert "jit" in result.stdout
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), eager(model, x),
                               rtol=1e-5, atol=1e-5)


def test_cpp_app_predicts_like_eager(digits_model, tmp_path, rng):
    model, _, compiled = digits_model
    x = rng.standard_normal((6, 64), dtype=np.float32)
    labels = eager(model, x).argmax(axis=1).astype(np.int64)
    labels[0] = (labels[0] + 1) % 10  # one wrong label: the app must say so
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", labels)
    result = run([tool(PREDICT_DIGITS), compiled, str(tmp_path / "x.npy"),
                  str(tmp_path / "y.npy")])
    predicted = [int(p) for p in re.findall(r"predicted (\d+), label", result.stdout)]
    assert predicted == list(eager(model, x).argmax(axis=1))
    assert "runs cpu-native code" in result.stdout
    assert "5 of 6 predictions correct" in result.stdout


def test_runtime_only_app_rejects_a_file_without_native_code(digits_model, tmp_path, rng):
    _, portable, _ = digits_model
    np.save(tmp_path / "x.npy", rng.standard_normal((2, 64), dtype=np.float32))
    np.save(tmp_path / "y.npy", np.zeros(2, dtype=np.int64))
    result = run([tool(PREDICT_DIGITS), portable, str(tmp_path / "x.npy"),
                  str(tmp_path / "y.npy")], expect_ok=False)
    assert result.returncode == 1
    assert "ember-compile" in result.stderr, result.stderr


@pytest.mark.parametrize("batch", [2, 9])
def test_load_model_runs_the_native_artifact(digits_model, rng, batch):
    model, _, compiled = digits_model
    loaded = ember.load_model(compiled)
    assert loaded.executable_kind == "cpu-native"
    x = rng.standard_normal((batch, 64), dtype=np.float32)
    np.testing.assert_allclose(loaded(ember.from_numpy(x)).numpy(), eager(model, x),
                               rtol=1e-5, atol=1e-5)
