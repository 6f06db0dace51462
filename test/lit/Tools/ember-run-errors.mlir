// Bad files and bad inputs for ember-run: "ember-run: error: ...", exit 1.

// RUN: ember-pack %s -o %t.ember --entry forward --input x:float32:batch,8 \
// RUN:   --output y:float32:batch,8 --weight w:float32:8
// RUN: ember-compile %t.ember -o %t.cpu.ember --quiet
// RUN: %python %S/Inputs/model_tool.py npy %t.x.npy float32 2,8
// RUN: %python %S/Inputs/model_tool.py npy %t.x7.npy float32 2,7
// RUN: %python %S/Inputs/model_tool.py npy %t.xd.npy float64 2,8
// RUN: %python %S/Inputs/model_tool.py bad-npy %t.bad.npy

// RUN: not ember-run %t.missing.ember --input %t.x.npy 2>&1 | FileCheck %s --check-prefix=MISSING
// MISSING: ember-run: error: {{.*}}missing.ember

// RUN: %python %S/Inputs/model_tool.py magic %t.ember %t.magic.ember
// RUN: not ember-run %t.magic.ember --info 2>&1 | FileCheck %s --check-prefix=MAGIC
// MAGIC: ember-run: error: {{.*}}magic.ember{{.*}}not an ember model file

// RUN: %python %S/Inputs/model_tool.py truncate %t.ember %t.short.ember 100
// RUN: not ember-run %t.short.ember --input %t.x.npy 2>&1 | FileCheck %s --check-prefix=SHORT
// SHORT: ember-run: error: {{.*}}short.ember{{.*}}truncated

// RUN: %python %S/Inputs/model_tool.py version %t.ember %t.v4.ember 4
// RUN: not ember-run %t.v4.ember --input %t.x.npy 2>&1 | FileCheck %s --check-prefix=VERSION
// VERSION: ember-run: error: {{.*}}v4.ember{{.*}}version 4

// RUN: %python %S/Inputs/model_tool.py flip %t.cpu.ember %t.flip.ember artifact.cpu
// RUN: not ember-run %t.flip.ember --input %t.x.npy 2>&1 | FileCheck %s --check-prefix=FLIP
// FLIP: ember-run: error: {{.*}}flip.ember{{.*}}artifact.cpu{{.*}}checksum

// The manifest's checksum for the artifact differs from the section's:
// native code is refused.
// RUN: ember-pack --from %t.cpu.ember --artifact-checksum 0123456789abcdef -o %t.badsum.ember
// RUN: not ember-run %t.badsum.ember --input %t.x.npy 2>&1 | FileCheck %s --check-prefix=BADSUM
// BADSUM: ember-run: error: {{.*}}badsum.ember{{.*}}checksum
// RUN: ember-run %t.badsum.ember --input %t.x.npy --no-native | FileCheck %s --check-prefix=JIT
// JIT: running forward (jit)

// RUN: not ember-run %t.cpu.ember 2>&1 | FileCheck %s --check-prefix=COUNT
// RUN: not ember-run %t.cpu.ember --input %t.x.npy --input %t.x.npy 2>&1 | FileCheck %s --check-prefix=COUNT
// COUNT: ember-run: error: {{.*}}input

// RUN: not ember-run %t.cpu.ember --input %t.x7.npy 2>&1 | FileCheck %s --check-prefix=SHAPE
// SHAPE: ember-run: error: {{.*}}'x'{{.*}}[2, 7]

// RUN: not ember-run %t.cpu.ember --input %t.xd.npy 2>&1 | FileCheck %s --check-prefix=DTYPE
// DTYPE: ember-run: error: {{.*}}'x'{{.*}}float64

// RUN: not ember-run %t.cpu.ember --input %t.bad.npy 2>&1 | FileCheck %s --check-prefix=NPY
// NPY: ember-run: error: {{.*}}bad.npy

// RUN: not ember-run %t.cpu.ember --input %t.x.npy --output %t.a.npy --output %t.b.npy 2>&1 | FileCheck %s --check-prefix=OUTPUTS
// OUTPUTS: ember-run: error: entry 'forward' has 1 outputs but 2 --output files were given

// RUN: not ember-run %t.cpu.ember --input %t.x.npy --entry backward 2>&1 | FileCheck %s --check-prefix=ENTRY
// ENTRY: ember-run: error: {{.*}}no entry named 'backward'

func.func @forward(%x: tensor<?x8xf32>, %w: tensor<8xf32>) -> tensor<?x8xf32> {
  %0 = ember.mul %x, %w : tensor<?x8xf32>, tensor<8xf32> -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// --device takes any spelling of a GPU backend (level-zero, level_zero, xpu):
// here Level Zero is absent, which the error says, rather than "unknown".
// RUN: not ember-run %t.cpu.ember --device level-zero --input %t.x.npy 2>&1 | FileCheck %s --check-prefix=LZ
// RUN: not ember-run %t.cpu.ember --device xpu --input %t.x.npy 2>&1 | FileCheck %s --check-prefix=LZ
// LZ: ember-run: error: level_zero is not available
// RUN: not ember-run %t.cpu.ember --device metal --input %t.x.npy 2>&1 | FileCheck %s --check-prefix=UNKNOWN-DEVICE
// UNKNOWN-DEVICE: ember-run: error: unknown device 'metal' (cpu, vulkan, cuda, rocm or level-zero)
