// The vulkan artifact really runs (on Mesa's lavapipe here) and matches the
// cpu artifact at several batch sizes; a file without one says how to add it.
// REQUIRES: vulkan
// RUN: ember-pack %s -o %t.ember --entry forward --input x:float32:batch,8 \
// RUN:   --output y:float32:batch,4 --weight w:float32:8,4 --weight b:float32:4
// RUN: ember-compile %t.ember --target cpu,vulkan -o %t.all.ember --quiet
// RUN: %python %S/Inputs/model_tool.py npy %t.x1.npy float32 1,8
// RUN: %python %S/Inputs/model_tool.py npy %t.x300.npy float32 300,8
// RUN: ember-run %t.all.ember --input %t.x1.npy --output %t.c1.npy
// RUN: ember-run %t.all.ember --device vulkan --input %t.x1.npy --output %t.v1.npy --trust-native | FileCheck %s
// RUN: ember-run %t.all.ember --input %t.x300.npy --output %t.c300.npy
// RUN: ember-run %t.all.ember --device vulkan --input %t.x300.npy --output %t.v300.npy --trust-native
// RUN: %python %S/Inputs/model_tool.py compare %t.c1.npy %t.v1.npy
// RUN: %python %S/Inputs/model_tool.py compare %t.c300.npy %t.v300.npy
// A file written before kernel descriptions recorded the Vulkan placement
// runs with the sequential layout the compiler always chose.
// RUN: %python %S/Inputs/model_tool.py old-gpu-manifest %t.all.ember %t.old.ember | FileCheck %s --check-prefix=OLD
// RUN: ember-run %t.old.ember --device vulkan --input %t.x300.npy --output %t.o300.npy --trust-native
// RUN: %python %S/Inputs/model_tool.py compare %t.c300.npy %t.o300.npy
// RUN: not ember-run %t.ember --device vulkan --input %t.x1.npy 2>&1 | FileCheck %s --check-prefix=NONE
// RUN: not ember-run %t.all.ember --device vulkan --input %t.x1.npy --input %t.x1.npy --trust-native 2>&1 | FileCheck %s --check-prefix=COUNT

// OLD: removed {{[1-9][0-9]*}} keys
// CHECK: running forward (vulkan on {{.*}})
// CHECK: y: [1, 4] float32
// GPU kernels are code: like native CPU code they run only from a trusted file.
// RUN: not ember-run %t.all.ember --device vulkan --input %t.x1.npy 2>&1 | FileCheck %s --check-prefix=UNTRUSTED
// UNTRUSTED: ember-run: error: {{.*}}all.ember: artifact 'artifact.vulkan': cannot run the GPU kernels: they are not signed, and unsigned native code was not allowed
// NONE: ember-run: error: {{.*}}.ember: no vulkan code in this file; add it with `ember-compile {{.*}} --target vulkan -o OUT.ember`
// COUNT: ember-run: error: entry 'forward' takes 1 input(s), got 2

func.func @forward(%x: tensor<?x8xf32>, %w: tensor<8x4xf32>, %b: tensor<4xf32>) -> tensor<?x4xf32> {
  %0 = ember.matmul %x, %w : tensor<?x8xf32>, tensor<8x4xf32> -> tensor<?x4xf32>
  %1 = ember.add %0, %b : tensor<?x4xf32>, tensor<4xf32> -> tensor<?x4xf32>
  %2 = ember.gelu %1 : tensor<?x4xf32>
  %3 = ember.softmax %2 dim = 1 : tensor<?x4xf32>
  return %3 : tensor<?x4xf32>
}
