"""The conformance suite on one backend (EMBER_CTS_BACKEND: cpu_jit, cpu_aot,
vulkan, cuda, rocm or level_zero; one py_test each in BUILD.bazel).

Every (program, dtype) of programs/*.mlir is compiled with the real tools for
the backend (ember-pack, ember-compile --target, ember-run --device) and run
on fresh random inputs against the program's NumPy reference. Where the
backend's device is absent every case is skipped with the runtime's reason.
A pair listed in unsupported.txt must still fail: the case checks that it
does, so the list cannot go stale silently.
"""

import os
import shutil
import subprocess
import zlib

import numpy as np
import pytest

import cts

BACKEND = os.environ.get("EMBER_CTS_BACKEND", "cpu_jit")
if BACKEND not in cts.BACKENDS:
    raise SystemExit(f"EMBER_CTS_BACKEND={BACKEND!r}: want one of {sorted(cts.BACKENDS)}")

ROOT = os.path.dirname(os.path.dirname(cts.HERE))
PROGRAMS = cts.load_programs()
UNSUPPORTED = cts.load_unsupported()
CASES = [(p, d) for p in PROGRAMS for d in p.dtypes]


def _absent_reason():
    """Why the backend's device is absent here, or None when it is present."""
    kind = cts.BACKENDS[BACKEND]["device"]
    if kind is None:
        return None
    import ember
    module = getattr(ember, kind)
    if module.is_available():
        return None
    return f"no {kind} device: {module.unavailable_reason() or 'none found'}"


ABSENT = _absent_reason()


def _tool(label_path):
    """The binary of a Bazel target path, from the runfiles or a local build."""
    runfiles = os.environ.get("TEST_SRCDIR")
    candidates = [os.path.join(runfiles, "ember", label_path)] if runfiles else []
    candidates += [os.path.join(ROOT, "bazel-bin", label_path),
                   os.path.join(ROOT, "build", "bin", os.path.basename(label_path))]
    for candidate in candidates:
        if os.path.exists(candidate):
            return candidate
    pytest.fail(f"{label_path} is not built (bazel build //{os.path.dirname(label_path)})")


def _vendor_arch(command, prefix):
    """The first GPU's architecture as the vendor's tool prints it (nvidia-smi's
    compute_cap "9.0" -> "sm_90", rocminfo's "gfx942"), or None."""
    if not shutil.which(command[0]):
        return None
    try:
        text = subprocess.run(command, capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for word in text.replace(",", " ").split():
        if word.startswith(prefix):
            return word
        if prefix == "sm_" and "." in word and word.replace(".", "").isdigit():
            return "sm_" + word.replace(".", "")
    return None


def _gpu_arch():
    """ember-compile's architecture for cuda and rocm: EMBER_CUDA_ARCH /
    EMBER_ROCM_ARCH (as the eager path), else the device's, else the oldest
    the compiler targets (PTX for an older architecture runs on newer GPUs)."""
    if BACKEND == "cuda":
        arch = os.environ.get("EMBER_CUDA_ARCH")
        return ("sm_" + arch if arch else None) or _vendor_arch(
            ["nvidia-smi", "--query-gpu=compute_cap", "--format=csv,noheader"], "sm_") or "sm_70"
    if BACKEND == "rocm":
        return os.environ.get("EMBER_ROCM_ARCH") or _vendor_arch(["rocminfo"], "gfx") or "gfx942"
    return None


@pytest.fixture(scope="module")
def tools():
    arch = _gpu_arch()
    return cts.Tools(
        pack=_tool("test/tools/ember-pack"),
        compile=_tool("tools/ember-compile/ember-compile"),
        run=_tool("tools/ember-run/ember-run"),
        env=dict(os.environ),
        cuda_arch=arch if BACKEND == "cuda" else "sm_70",
        rocm_arch=arch if BACKEND == "rocm" else "gfx942")


def _case_id(case):
    program, dtype = case
    return f"{program.name}-{dtype}"


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_conformance(case, tools, tmp_path):
    if ABSENT:
        pytest.skip(ABSENT)
    program, dtype = case
    rng = np.random.default_rng(zlib.crc32(f"{BACKEND}/{program.name}/{dtype}".encode()))
    reason = cts.unsupported_reason(UNSUPPORTED, BACKEND, program.name, dtype)
    cts.check_case(program, dtype, BACKEND, tools, str(tmp_path), rng, reason)


def test_unsupported_list_names_real_cases():
    """Every line of unsupported.txt names a backend, a program and dtypes
    the program is declared for."""
    by_name = {p.name: p for p in PROGRAMS}
    for entry in UNSUPPORTED:
        where = f"unsupported.txt:{entry.line}"
        assert entry.backend in cts.BACKENDS, f"{where}: unknown backend {entry.backend}"
        assert entry.program in by_name, f"{where}: no program {entry.program}"
        if entry.dtypes != ["*"]:
            extra = set(entry.dtypes) - set(by_name[entry.program].dtypes)
            assert not extra, f"{where}: {entry.program} is not declared for {sorted(extra)}"
        assert len(entry.reason) > 10, f"{where}: give the reason"


@pytest.mark.skipif(BACKEND != "cpu_jit", reason="checks the driver, once (cts_cpu_jit)")
def test_the_driver_catches_a_wrong_result(tools, tmp_path):
    """A reference off by one integer in one element, or by 1% in a float32
    softmax, fails the case: the comparison can fail."""
    program = cts.load_program(os.path.join(cts.PROGRAMS, "binary_arith.mlir"))
    program.reference = program.reference.replace("x + y", "x + y + (x == 1)")
    with pytest.raises(cts.CaseFailed, match="output add"):
        cts.run_case(program, "i32", BACKEND, tools, str(tmp_path), np.random.default_rng(7))
    program = cts.load_program(os.path.join(cts.PROGRAMS, "softmax.mlir"))
    program.reference = "softmax(x, 1) * 1.01, log_softmax(x, 1), softmax(x, 0)"
    with pytest.raises(cts.CaseFailed, match="output sm "):
        cts.run_case(program, "f32", BACKEND, tools, str(tmp_path), np.random.default_rng(7))


@pytest.mark.skipif(BACKEND != "cpu_jit", reason="checks the driver, once (cts_cpu_jit)")
def test_a_listed_case_that_passes_fails_the_suite(tools, tmp_path):
    """An unsupported.txt line for a case that works is reported as stale;
    one for a case that fails passes."""
    program = cts.load_program(os.path.join(cts.PROGRAMS, "binary_arith.mlir"))
    rng = np.random.default_rng(7)
    with pytest.raises(cts.StaleUnsupported, match="delete that line"):
        cts.check_case(program, "i32", BACKEND, tools, str(tmp_path), rng, "a test reason")
    program.reference = program.reference.replace("x + y", "x + y + 1")
    cts.check_case(program, "i32", BACKEND, tools, str(tmp_path), rng, "a test reason")


def test_every_program_instantiates_for_each_dtype():
    """The header matches the signature for every declared dtype (a fast
    check of the suite itself, before any tool runs)."""
    for program, dtype in CASES:
        text, in_types, out_types, _, _ = cts.instantiate(program, dtype)
        assert f"!T = {dtype}" in text
        assert len(in_types) == len(program.inputs)
        assert len(out_types) == len(program.outputs)
