// f64 transcendentals, f16, bf16 (and a select on it), bool and 0-d ops
// compile for every target without device-library calls (__nv_*, __ocml_*):
// the f64 math is Ember's own.
// RUN: rm -rf %t && mkdir -p %t
// RUN: ember-compile %S/Inputs/dtypes.mlir --target cuda:sm_90 --emit-kernels %t/cuda | FileCheck %s --check-prefix=CUDA
// RUN: ember-compile %S/Inputs/dtypes.mlir --target rocm:gfx942 --emit-kernels %t/rocm | FileCheck %s --check-prefix=ROCM
// RUN: ember-compile %S/Inputs/dtypes.mlir --target vulkan --emit-kernels %t/vk | FileCheck %s --check-prefix=VK
// RUN: ember-compile %S/Inputs/dtypes.mlir --target level-zero --emit-kernels %t/ze | FileCheck %s --check-prefix=ZE
// RUN: cat %t/cuda/*.ptx %t/rocm/*.hsaco | not grep -a -E '__nv_|__ocml|__ockl'
// RUN: for f in %t/rocm/*.hsaco; do llvm-readelf -s $f | grep -E 'ember_gpu_kernel_[0-9a-f]+\.kd' > /dev/null || exit 1; done
// RUN: spirv-dis %t/vk/ember_entry_forward_kernel_0.spv | FileCheck %s --check-prefix=VKF16

// CUDA: 4 kernels for cuda:sm_90
// ROCM: 4 kernels for rocm:gfx942
// VK: ember_entry_forward_scalar0: {{ember_gpu_kernel_[0-9a-f]+}}, block 1x1x1
// VK: 4 kernels for vulkan
// ZE: 4 kernels for level-zero

// The f16 kernel computes in f16 on 16-bit storage.
// VKF16: OpCapability StorageBuffer16BitAccess
// VKF16: OpCapability Float16
// VKF16: OpTypeFloat 16
