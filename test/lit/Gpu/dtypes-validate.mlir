// The binaries of Inputs/dtypes.mlir pass their targets' validators: ptxas
// for sm_90, spirv-val for Vulkan 1.1. The OpenCL-flavour modules are
// checked against the plain SPIR-V 1.0 rules: spirv-val's OpenCL profiles
// refuse the Float16 capability that cl_khr_fp16 devices (Level Zero) take.
// REQUIRES: ptxas, spirv-val
// RUN: rm -rf %t && mkdir -p %t
// RUN: ember-compile %S/Inputs/dtypes.mlir --target cuda:sm_90 --emit-kernels %t/cuda > /dev/null
// RUN: ember-compile %S/Inputs/dtypes.mlir --target vulkan --emit-kernels %t/vk > /dev/null
// RUN: ember-compile %S/Inputs/dtypes.mlir --target level-zero --emit-kernels %t/ze > /dev/null
// RUN: for f in %t/cuda/*.ptx; do ptxas -arch=sm_90 $f -o %t/check.cubin || exit 1; done
// RUN: for f in %t/vk/*.spv; do spirv-val --target-env vulkan1.1 $f || exit 1; done
// RUN: for f in %t/ze/*.spv; do spirv-val --target-env spv1.0 $f || exit 1; done
// RUN: echo done | FileCheck %s
// CHECK: done
