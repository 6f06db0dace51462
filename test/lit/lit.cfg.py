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

# Validators the GPU tests use when they are installed (scripts/setup installs
# spirv-tools; ptxas comes with the CUDA toolkit in /usr/local/cuda).
import shutil
for tool, fallback in (("ptxas", "/usr/local/cuda/bin/ptxas"), ("spirv-val", None)):
    found = shutil.which(tool) or (fallback if fallback and os.path.exists(fallback) else None)
    if found:
        config.available_features.add(tool)
        # Appended: the LLVM 22 tools earlier on PATH must stay first.
        config.environment["PATH"] += os.pathsep + os.path.dirname(found)
# Vulkan runs on Mesa's lavapipe where it is installed (scripts/setup):
# only that driver, without the on-disk shader cache.
lavapipe = "/usr/share/vulkan/icd.d/lvp_icd.x86_64.json"
if os.path.exists(lavapipe):
    config.available_features.add("vulkan")
    config.environment["VK_ICD_FILENAMES"] = lavapipe
    config.environment["MESA_SHADER_CACHE_DISABLE"] = "true"
