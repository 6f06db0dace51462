// Every way ember-compile can be handed a bad file or bad options: one line
// "ember-compile: error: ..." naming the file, exit code 1.

// RUN: ember-pack %s -o %t.ember --entry forward --input x:float32:batch,8 \
// RUN:   --output y:float32:batch,8 --weight w:float32:8

// RUN: not ember-compile %t.missing.ember -o %t.out.ember 2>&1 | FileCheck %s --check-prefix=MISSING
// MISSING: ember-compile: error: {{.*}}missing.ember

// RUN: %python %S/Inputs/model_tool.py magic %t.ember %t.magic.ember
// RUN: not ember-compile %t.magic.ember -o %t.out.ember 2>&1 | FileCheck %s --check-prefix=MAGIC
// MAGIC: ember-compile: error: {{.*}}magic.ember{{.*}}not an ember model file

// RUN: %python %S/Inputs/model_tool.py truncate %t.ember %t.short.ember 5000
// RUN: not ember-compile %t.short.ember -o %t.out.ember 2>&1 | FileCheck %s --check-prefix=SHORT
// SHORT: ember-compile: error: {{.*}}short.ember{{.*}}truncated

// The version is checked before the header checksum (which now fails too).
// RUN: %python %S/Inputs/model_tool.py version %t.ember %t.v99.ember 99
// RUN: not ember-compile %t.v99.ember -o %t.out.ember 2>&1 | FileCheck %s --check-prefix=VERSION
// VERSION: ember-compile: error: {{.*}}v99.ember{{.*}}version 99

// RUN: %python %S/Inputs/model_tool.py flip %t.ember %t.flip.ember weights
// RUN: not ember-compile %t.flip.ember -o %t.out.ember 2>&1 | FileCheck %s --check-prefix=FLIP
// FLIP: ember-compile: error: {{.*}}flip.ember{{.*}}weights{{.*}}checksum

// RUN: not ember-compile %t.ember --target tpu -o %t.out.ember 2>&1 | FileCheck %s --check-prefix=UNKNOWN
// UNKNOWN: ember-compile: error: unknown target 'tpu' (supported: cpu

// RUN: not ember-compile %t.ember --target cpu,cuda:90 -o %t.out.ember 2>&1 | FileCheck %s --check-prefix=CUDA
// CUDA: ember-compile: error: unknown target 'cuda:90' (supported: cpu, cuda:sm_XX, rocm:gfxNNN, level-zero, vulkan)

// RUN: not ember-compile %t.ember --target rocm -o %t.out.ember 2>&1 | FileCheck %s --check-prefix=ROCM
// ROCM: ember-compile: error: unknown target 'rocm'

// RUN: not ember-compile %t.ember --cpu not-a-cpu -o %t.out.ember 2>&1 | FileCheck %s --check-prefix=CPU
// CPU: ember-compile: error: {{.*}}.ember: cannot compile for cpu: unknown CPU 'not-a-cpu'

// RUN: not ember-compile %t.ember -o %t.no/such/folder/out.ember 2>&1 | FileCheck %s --check-prefix=UNWRITABLE
// UNWRITABLE: [3/4] compiled for cpu
// UNWRITABLE: ember-compile: error: {{.*}}no/such/folder/out.ember

// A program that does not match its manifest.
// RUN: ember-pack %s -o %t.mismatch.ember --entry forward --input x:float32:batch,4 \
// RUN:   --output y:float32:batch,8 --weight w:float32:8
// RUN: not ember-compile %t.mismatch.ember -o %t.out.ember 2>&1 | FileCheck %s --check-prefix=MISMATCH
// MISMATCH: ember-compile: error: {{.*}}mismatch.ember: entry 'forward': input 'x' is [batch, 4] float32 in the manifest but tensor<?x8xf32> in the program

// RUN: ember-pack %s -o %t.noentry.ember --entry predict --input x:float32:batch,8 \
// RUN:   --output y:float32:batch,8 --weight w:float32:8
// RUN: not ember-compile %t.noentry.ember -o %t.out.ember 2>&1 | FileCheck %s --check-prefix=NOENTRY
// NOENTRY: ember-compile: error: {{.*}}noentry.ember: entry 'predict': the program has no public function 'predict'

func.func @forward(%x: tensor<?x8xf32>, %w: tensor<8xf32>) -> tensor<?x8xf32> {
  %0 = ember.mul %x, %w : tensor<?x8xf32>, tensor<8xf32> -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}
