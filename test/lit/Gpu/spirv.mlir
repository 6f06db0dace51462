// SPIR-V for Vulkan (Shader) and Level Zero (OpenCL Kernel): every module
// passes spirv-val for its environment.
// REQUIRES: spirv-val
// RUN: rm -rf %t.vk %t.ze
// RUN: ember-compile %S/Inputs/mlp.mlir --target vulkan --emit-kernels %t.vk | FileCheck %s --check-prefix=VK
// RUN: ember-compile %S/Inputs/mlp.mlir --target level-zero --emit-kernels %t.ze | FileCheck %s --check-prefix=ZE
// RUN: for f in %t.vk/*.spv; do spirv-val --target-env vulkan1.1 $f || exit 1; done
// RUN: for f in %t.ze/*.spv; do spirv-val --target-env opencl2.0 $f || exit 1; done
// RUN: spirv-dis %t.vk/ember_entry_forward_kernel_0.spv | FileCheck %s --check-prefix=VKDIS
// RUN: spirv-dis %t.ze/ember_entry_forward_kernel_0.spv | FileCheck %s --check-prefix=ZEDIS
// RUN: spirv-dis %t.vk/ember_entry_forward_matmul0.spv | FileCheck %s --check-prefix=VKMM
// RUN: spirv-dis %t.ze/ember_entry_forward_rowreduce1.spv | FileCheck %s --check-prefix=ZEROWS
// RUN: FileCheck %s --check-prefix=VKMETA < %t.vk/kernels.json
// RUN: FileCheck %s --check-prefix=ZEMETA < %t.ze/kernels.json

// VK: kernels for vulkan in
// ZE: kernels for level-zero in

// Vulkan's kernel descriptions record where ember-spirv-push-constants put
// each argument: buffers at set 0, bindings 0, 1, ... in order, scalar k's
// word at push-constant byte 8 k. Level Zero takes them in order: nothing
// is placed.
// VKMETA: "binary_format": "spirv",
// VKMETA: {"module":"ember_entry_forward_matmul0","name":"{{ember_gpu_kernel_[0-9a-f]+}}","block":[16,16,1],"params":[{"kind":"index","bits":64,"rank":0,"type":"index","offset":0},{"kind":"buffer","bits":64,"rank":1,"type":"f32","set":0,"binding":0},{"kind":"buffer","bits":64,"rank":1,"type":"f32","set":0,"binding":1},{"kind":"buffer","bits":64,"rank":1,"type":"f32","set":0,"binding":2},{"kind":"index","bits":64,"rank":0,"type":"index","offset":8},{"kind":"index","bits":64,"rank":0,"type":"index","offset":16}],"size":{{[0-9]+}}}
// VKMETA-NOT: scalar_buffer
// ZEMETA: "binary_format": "spirv",
// ZEMETA: {"module":"ember_entry_forward_matmul0","name":"{{ember_gpu_kernel_[0-9a-f]+}}","block":[16,16,1],"params":[{"kind":"index","bits":64,"rank":0,"type":"index"},{"kind":"buffer","bits":64,"rank":1,"type":"f32"},
// ZEMETA-NOT: "binding"

// VKDIS: OpCapability Shader
// VKDIS: OpEntryPoint GLCompute %{{.*}} "{{ember_gpu_kernel_[0-9a-f]+}}"
// VKDIS: OpExecutionMode %{{.*}} LocalSize 16 16 1
// VKDIS: OpDecorate %{{.*}} DescriptorSet 0

// ZEDIS: OpCapability Kernel
// ZEDIS: OpEntryPoint Kernel %{{.*}} "{{ember_gpu_kernel_[0-9a-f]+}}"

// Workgroup memory and barriers in both flavours.
// VKMM: OpExecutionMode %{{.*}} LocalSize 16 16 1
// VKMM: OpVariable %{{.*}} Workgroup
// VKMM: OpControlBarrier
// ZEROWS: OpEntryPoint Kernel %{{.*}} "{{ember_gpu_kernel_[0-9a-f]+}}"
// ZEROWS: OpVariable %{{.*}} Workgroup
// ZEROWS: OpControlBarrier
