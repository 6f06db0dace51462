# lit configuration for the GPU back end's FileCheck tests (compiler/gpu).
import os

import lit.formats

config.name = "EmberGpu"
config.test_format = lit.formats.ShTest(execute_external=True)
config.suffixes = [".mlir"]
config.test_source_root = os.path.dirname(__file__)
# Bazel's runfiles are read-only: write lit's temporaries elsewhere.
config.test_exec_root = os.environ.get("TEST_TMPDIR") or os.environ.get(
    "LIT_EXEC_ROOT", "/tmp/ember-gpu-lit")
config.excludes = ["lit.cfg.py", "run_lit.sh", "Inputs"]
config.environment["PATH"] = os.environ["PATH"]
# Debian's Python for the binary checker, whatever python3 is first on PATH.
config.substitutions.append(("%python", "/usr/bin/python3"))
