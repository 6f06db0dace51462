// RUN: ember-compile --help | FileCheck %s

// CHECK: ember-compile: add native code to a .ember model file
// CHECK: ember-compile model.ember --target cpu -o model.cpu.ember
// CHECK: ember-compile model.ember --target cpu,cuda:sm_90,rocm:gfx942,level-zero,vulkan -o all.ember
// CHECK: ember-compile program.mlir --target vulkan --emit-kernels kernels/
// CHECK: No GPU is needed to compile.
// CHECK: --emit-kernels compiles an ember program (.mlir) for one GPU target
// CHECK: --cpu=<name>
// CHECK-SAME: CPU to generate code for
// CHECK: --emit-kernels=<folder>
// CHECK-SAME: Compile an ember program (.mlir) for one GPU target
// CHECK: -o <out.ember>
// CHECK: --quiet
// CHECK: --target=<list>
// CHECK-SAME: cpu (the default), cuda:sm_XX, rocm:gfxNNN, level-zero, vulkan
