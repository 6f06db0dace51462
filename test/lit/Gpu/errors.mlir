// Bad targets and bad programs give one error line, exit code 1.
// RUN: not ember-gpu-compile %S/Inputs/mlp.mlir --target cuda:90 -o %t 2>&1 | FileCheck %s --check-prefix=TARGET
// RUN: not ember-gpu-compile %S/Inputs/mlp.mlir --target tpu -o %t 2>&1 | FileCheck %s --check-prefix=TARGET
// RUN: not ember-gpu-compile %s.missing --target vulkan -o %t 2>&1 | FileCheck %s --check-prefix=MISSING

// TARGET: ember-gpu-compile: error: unknown GPU target '{{.*}}' (expected cuda:sm_XX, rocm:gfxNNN, level-zero or vulkan)
// MISSING: ember-gpu-compile: error: cannot parse '{{.*}}errors.mlir.missing'
