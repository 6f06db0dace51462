# lit configuration for Ember's FileCheck tests.
import os

import lit.formats

config.name = "Ember"
config.test_format = lit.formats.ShTest(execute_external=True)
config.suffixes = [".mlir"]
config.test_source_root = os.path.dirname(__file__)
# Bazel's runfiles are read-only: write lit's temporaries elsewhere.
config.test_exec_root = os.environ.get("TEST_TMPDIR") or os.environ.get(
    "LIT_EXEC_ROOT", "/tmp/ember-lit")
config.excludes = ["lit.cfg.py", "run_lit.sh", "BUILD.bazel", "Inputs"]

# The runner script puts the Ember tools and LLVM's FileCheck/not first on
# PATH.
config.environment["PATH"] = os.environ["PATH"]
# Debian's Python (with NumPy) for the model tests' helper, whatever python3
# comes first on PATH.
config.substitutions.append(("%python", "/usr/bin/python3"))
