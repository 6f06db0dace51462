// ember-compile adds one gpu-kernels artifact per GPU target next to the cpu
// one; ember-run lists them and refuses unknown devices.
// RUN: ember-pack %s -o %t.ember --entry forward --input x:float32:batch,8 \
// RUN:   --output y:float32:batch,4 --weight w:float32:8,4 --weight b:float32:4
// RUN: ember-compile %t.ember --target cpu,cuda:sm_90,rocm:gfx942,level-zero,vulkan -o %t.all.ember 2>&1 | FileCheck %s --check-prefix=PROGRESS
// RUN: ember-run %t.all.ember --info | FileCheck %s --check-prefix=INFO
// RUN: not ember-run %t.all.ember --device tpu --input %t.ember 2>&1 | FileCheck %s --check-prefix=DEVICE

// PROGRESS: [1/8] read
// PROGRESS: [4/8] compiled for cuda:sm_90: {{[0-9]+}} kernels (ptx)
// PROGRESS: [5/8] compiled for rocm:gfx942: {{[0-9]+}} kernels (hsaco)
// PROGRESS: [6/8] compiled for level-zero: {{[0-9]+}} kernels (spirv)
// PROGRESS: [7/8] compiled for vulkan: {{[0-9]+}} kernels (spirv)
// PROGRESS: [8/8] wrote

// INFO: artifact cpu: elf-shared-object in section artifact.cpu
// INFO: artifact cuda:sm_90: gpu-kernels in section artifact.cuda:sm_90
// INFO: artifact rocm:gfx942: gpu-kernels in section artifact.rocm:gfx942
// INFO: artifact level-zero: gpu-kernels in section artifact.level-zero
// INFO: artifact vulkan: gpu-kernels in section artifact.vulkan

// DEVICE: ember-run: error: unknown device 'tpu' (cpu, vulkan, cuda, rocm or level-zero)

func.func @forward(%x: tensor<?x8xf32>, %w: tensor<8x4xf32>, %b: tensor<4xf32>) -> tensor<?x4xf32> {
  %0 = ember.matmul %x, %w : tensor<?x8xf32>, tensor<8x4xf32> -> tensor<?x4xf32>
  %1 = ember.add %0, %b : tensor<?x4xf32>, tensor<4xf32> -> tensor<?x4xf32>
  %2 = ember.gelu %1 : tensor<?x4xf32>
  %3 = ember.softmax %2 dim = 1 : tensor<?x4xf32>
  return %3 : tensor<?x4xf32>
}
