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
from ember_testing import tool
from ember import nn

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))



EMBER_COMPILE = "tools/ember-compile/ember-compile"
EMBER_RUN = "tools/ember-run/ember-run"
PREDICT_DIGITS = "examples/predict_digits"


def run(command, expect_ok=True, env=None):
    result = subprocess.run(command, capture_output=True, text=True, timeout=300,
                            env=None if env is None else {**os.environ, **env})
    if expect_ok and result.returncode != 0:
        pytest.fail(f"{' '.join(command)} failed ({result.returncode}):\n"
                    f"{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="module")
def digits_model(tmp_path_factory):
    """A 64-128-10 classifier, its exported file and the compiled one, signed
    with a fresh key (its public half is `KEY`)."""
    ember.manual_seed(7)
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    model.eval()
    folder = tmp_path_factory.mktemp("deploy")
    portable = str(folder / "mlp.ember")
    compiled = str(folder / "mlp.cpu.ember")
    ember.export(model, ember.randn(4, 64), dynamic_dims=[{0: "batch"}]).save(portable)
    run([tool(EMBER_COMPILE), "--generate-key", str(folder / "key")])
    result = run([tool(EMBER_COMPILE), portable, "--target", "cpu", "--sign",
                  str(folder / "key.key"), "-o", compiled])
    # Progress goes to stderr, stage by stage.
    assert "[1/" in result.stderr and compiled in result.stderr
    KEY[0] = str(folder / "key.pub")
    return model, portable, compiled


KEY = [None]


def eager(model, x):
    with ember.no_grad():
        return model(ember.from_numpy(x)).numpy()


@pytest.mark.parametrize("batch", [1, 3, 17, 64])
def test_ember_run_native_matches_eager(digits_model, tmp_path, rng, batch):
    model, _, compiled = digits_model
    x = rng.standard_normal((batch, 64), dtype=np.float32)
    np.save(tmp_path / "x.npy", x)
    result = run([tool(EMBER_RUN), compiled, "--input", str(tmp_path / "x.npy"),
                  "--output", str(tmp_path / "y.npy"), "--trusted-key", KEY[0]])
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
                  str(tmp_path / "y.npy")], env={"EMBER_TRUSTED_KEYS": KEY[0]})
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
    loaded = ember.load_model(compiled, trusted_keys=[KEY[0]])
    assert loaded.executable_kind == "cpu-native" and loaded.native_note == ""
    x = rng.standard_normal((batch, 64), dtype=np.float32)
    np.testing.assert_allclose(loaded(ember.from_numpy(x)).numpy(), eager(model, x),
                               rtol=1e-5, atol=1e-5)


def test_native_code_runs_only_from_trusted_files(digits_model, tmp_path, rng):
    model, portable, compiled = digits_model
    x = rng.standard_normal((3, 64), dtype=np.float32)
    # Signed by a key this caller does not trust: the portable program runs,
    # and native_note says why and how to go on.
    loaded = ember.load_model(compiled)
    assert loaded.executable_kind == "jit"
    assert "signed by key" in loaded.native_note and "not trusted" in loaded.native_note
    np.testing.assert_allclose(loaded(ember.from_numpy(x)).numpy(), eager(model, x),
                               rtol=1e-5, atol=1e-5)
    # Unsigned: native code only when the caller allows it explicitly.
    unsigned = str(tmp_path / "unsigned.ember")
    run([tool(EMBER_COMPILE), portable, "-o", unsigned, "--quiet"])
    assert ember.load_model(unsigned).executable_kind == "jit"
    assert "not signed" in ember.load_model(unsigned).native_note
    assert ember.load_model(unsigned, allow_native=True).executable_kind == "cpu-native"
    assert ember.load_model(compiled, allow_native=False,
                            trusted_keys=KEY[0]).executable_kind == "jit"
    with pytest.raises(TypeError, match="allow_native must be None"):
        ember.load_model(compiled, allow_native="yes")
    with pytest.raises(RuntimeError, match="cannot read key file"):
        ember.load_model(compiled, trusted_keys=[str(tmp_path / "missing.pub")])


def test_a_file_changed_after_signing_is_refused(digits_model, tmp_path):
    _, _, compiled = digits_model
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        "model_tool", os.path.join(ROOT, "test", "lit", "Tools", "Inputs", "model_tool.py"))
    model_tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(model_tool)
    for section in ("manifest", "program", "weights", "artifact.cpu"):
        data = model_tool.read(compiled)
        offset, size = model_tool.section(data, section)
        data[offset + size // 2] ^= 0x01
        model_tool.rechecksum(data)
        path = str(tmp_path / f"{section}.ember")
        model_tool.write(path, data)
        # The manifest's own artifact checksum catches a changed artifact
        # first; every other change breaks the signature.
        with pytest.raises(RuntimeError, match="signature: does not match the contents|"
                                               "does not match the manifest's|manifest"):
            ember.load_model(path, trusted_keys=[KEY[0]])


def _sections(path):
    """The (kind, name, bytes) sections of a model file."""
    import struct
    data = open(path, "rb").read()
    count, table = struct.unpack_from("<IQ", data, 12)
    parts = []
    for i in range(count):
        kind, _, name, offset, size, _ = struct.unpack_from("<II32sQQQ", data, table + 64 * i)
        parts.append((kind, name.rstrip(b"\0").decode(), data[offset:offset + size]))
    return parts


def _with_manifest(path, out, edit):
    """`path` with its manifest's JSON edited by `edit(dict)` (unsigned)."""
    import json
    parts = []
    for kind, name, data in _sections(path):
        if name == "signature":
            continue
        if name == "manifest":
            manifest = json.loads(data)
            edit(manifest)
            data = json.dumps(manifest).encode()
        parts.append((kind, name, data))
    with open(out, "wb") as f:
        f.write(ember._ember._build_model_image(parts))
    return out


def _entry(manifest):
    return manifest["entries"][0]


# Issue 17's reproductions: a manifest that disagrees with the code it ships.
MANIFEST_EDITS = {
    "shortened weights": lambda m: _entry(m).update(weights=_entry(m)["weights"][:-1]),
    "reordered weights": lambda m: _entry(m).update(weights=_entry(m)["weights"][::-1]),
    "swapped weight shapes": lambda m: [m["weights"][0].update(shape=[64, 128])],
    "float64 output": lambda m: _entry(m)["outputs"][0].update(dtype="float64"),
    "output [batch, 11]": lambda m: _entry(m)["outputs"][0].update(shape=["batch", 11]),
    "entry symbol memcpy": lambda m: m["artifacts"][0]["entry_symbols"].update(forward="memcpy"),
    "no runtime slots": lambda m: m["artifacts"][0].update(runtime_slots=[]),
}


@pytest.mark.parametrize("case", sorted(MANIFEST_EDITS))
def test_native_code_is_checked_against_the_manifest(digits_model, tmp_path, case):
    _, _, compiled = digits_model
    edited = _with_manifest(compiled, str(tmp_path / "edited.ember"), MANIFEST_EDITS[case])
    with pytest.raises(RuntimeError) as failure:
        model = ember.load_model(edited, allow_native=True)
        model(ember.randn(3, 64))
    message = str(failure.value)
    assert "edited.ember" in message and ("refusing" in message or "manifest" in message), message


def test_output_shapes_are_computed_not_trusted(digits_model, tmp_path):
    # The manifest says the output is [batch - 5, 10]; the program writes
    # [batch, 10]: a clean error, never a write past the buffer.
    _, portable, compiled = digits_model
    def shrink(manifest):
        _entry(manifest)["outputs"][0]["shape"][0] = {"add": -5, "terms": {"batch": 1}}
    for source, allow in ((portable, False), (compiled, True)):
        edited = _with_manifest(source, str(tmp_path / "shrunk.ember"), shrink)
        model = ember.load_model(edited, allow_native=allow)
        with pytest.raises(ValueError, match=r"output 'output0': the manifest says \[3, 10\] "
                                             r"for these inputs but the program computes \[8, 10\]"):
            model(ember.randn(8, 64))


def test_a_swapped_in_shared_object_never_runs(digits_model, tmp_path):
    """Issue 17's attack: a shared object with a constructor swapped into
    artifact.cpu, checksums recomputed. Even with unsigned native code
    allowed it is refused before dlopen, so its constructor never runs."""
    import json
    import shutil
    _, _, compiled = digits_model
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.fail("gcc is missing (scripts/setup installs it)")
    source = tmp_path / "evil.c"
    source.write_text(
        '#include <stdio.h>\n#include <stdlib.h>\n'
        '__attribute__((constructor)) static void evil(void) {\n'
        '  FILE *f = fopen(getenv("EMBER_TEST_MARKER"), "w");\n'
        '  if (f) { fputs("ran", f); fclose(f); }\n}\n'
        'void _mlir__mlir_ciface_ember_entry_forward(void **args) {}\n')
    library = tmp_path / "evil.so"
    run([gcc, "-shared", "-fPIC", str(source), "-o", str(library)])
    marker = tmp_path / "marker"
    os.environ["EMBER_TEST_MARKER"] = str(marker)
    try:
        evil = library.read_bytes()
        parts = []
        for kind, name, data in _sections(compiled):
            if name == "signature":
                continue
            if name == "artifact.cpu":
                data = evil
            parts.append((kind, name, data))
        manifest = json.loads(dict((n, d) for _, n, d in parts)["manifest"])
        manifest["artifacts"][0]["checksum"] = "%016x" % _xxh64(evil)
        parts = [(k, n, json.dumps(manifest).encode() if n == "manifest" else d)
                 for k, n, d in parts]
        path = tmp_path / "swapped.ember"
        path.write_bytes(ember._ember._build_model_image(parts))
        with pytest.raises(RuntimeError, match="refusing to load it: it has an initialiser"):
            ember.load_model(str(path), allow_native=True)
        assert not marker.exists(), "the object's constructor ran"
        # Without allow_native the unsigned code is not even inspected: the
        # portable program runs.
        assert ember.load_model(str(path)).executable_kind == "jit"
        assert not marker.exists()
    finally:
        del os.environ["EMBER_TEST_MARKER"]


def _xxh64(data):
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        "model_tool", os.path.join(ROOT, "test", "lit", "Tools", "Inputs", "model_tool.py"))
    model_tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(model_tool)
    return model_tool.xxh64(data)
