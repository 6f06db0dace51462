// Bad targets and bad programs give one error line, exit code 1.
// RUN: not ember-compile %S/Inputs/mlp.mlir --target cuda:90 --emit-kernels %t 2>&1 | FileCheck %s --check-prefix=TARGET
// RUN: not ember-compile %S/Inputs/mlp.mlir --target tpu --emit-kernels %t 2>&1 | FileCheck %s --check-prefix=TARGET
// RUN: not ember-compile %s.missing --target vulkan --emit-kernels %t 2>&1 | FileCheck %s --check-prefix=MISSING
// RUN: not ember-compile %S/Inputs/mlp.mlir --target cpu --emit-kernels %t 2>&1 | FileCheck %s --check-prefix=CPU
// RUN: not ember-compile %S/Inputs/mlp.mlir --target vulkan,cuda:sm_90 --emit-kernels %t 2>&1 | FileCheck %s --check-prefix=LIST
// RUN: not ember-compile %S/Inputs/mlp.mlir --target vulkan --emit-kernels %t -o %t.ember 2>&1 | FileCheck %s --check-prefix=MODEL
// RUN: not ember-compile --target vulkan --emit-kernels %t 2>&1 | FileCheck %s --check-prefix=NOINPUT

// TARGET: ember-compile: error: unknown GPU target '{{.*}}' (expected cuda:sm_XX, rocm:gfxNNN, level-zero or vulkan)
// MISSING: ember-compile: error: cannot parse '{{.*}}errors.mlir.missing'
// CPU: ember-compile: error: unknown GPU target 'cpu' (expected cuda:sm_XX, rocm:gfxNNN, level-zero or vulkan)
// LIST: ember-compile: error: unknown GPU target 'vulkan,cuda:sm_90'
// MODEL: ember-compile: error: --emit-kernels writes a folder: -o and --sign are for model files
// NOINPUT: ember-compile: error: expected a program .mlir before --emit-kernels (see --help)
