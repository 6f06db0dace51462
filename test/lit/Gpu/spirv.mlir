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

// VK: kernels for vulkan in
// ZE: kernels for level-zero in

// VKDIS: OpCapability Shader
// VKDIS: OpEntryPoint GLCompute %{{.*}} "ember_entry_forward_kernel"
// VKDIS: OpExecutionMode %{{.*}} LocalSize 16 16 1
// VKDIS: OpDecorate %{{.*}} DescriptorSet 0

// ZEDIS: OpCapability Kernel
// ZEDIS: OpEntryPoint Kernel %{{.*}} "ember_entry_forward_kernel"

// Workgroup memory and barriers in both flavours.
// VKMM: OpExecutionMode %{{.*}} LocalSize 16 16 1
// VKMM: OpVariable %{{.*}} Workgroup
// VKMM: OpControlBarrier
// ZEROWS: OpEntryPoint Kernel %{{.*}} "ember_entry_forward_rowreduce1"
// ZEROWS: OpVariable %{{.*}} Workgroup
// ZEROWS: OpControlBarrier
