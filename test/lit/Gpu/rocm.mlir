// ROCDL: each kernel is an HSACO (AMDGPU ELF) with its kernel descriptor and
// no calls into ROCm's device libraries (__ocml/__ockl): the math is
// polynomial and floor is expanded.
// RUN: rm -rf %t && ember-compile %S/Inputs/mlp.mlir --target rocm:gfx942 --emit-kernels %t | FileCheck %s
// RUN: llvm-readelf -h -s %t/ember_entry_forward_kernel_2.hsaco | FileCheck %s --check-prefix=ELF
// RUN: for f in %t/*.hsaco; do llvm-readelf -s $f | grep -E 'ember_gpu_kernel_[0-9a-f]+\.kd' > /dev/null || exit 1; done
// The matmul and row reductions use LDS (workgroup memory): a nonzero
// group segment in the kernel descriptor's metadata.
// RUN: llvm-readelf --notes %t/ember_entry_forward_matmul0.hsaco | FileCheck %s --check-prefix=LDS
// RUN: cat %t/*.hsaco | not grep -a -E '__ocml|__ockl'

// CHECK: ember_entry_forward_matmul0: {{ember_gpu_kernel_[0-9a-f]+}}, block 16x16x1
// CHECK: ember_entry_forward_rowreduce1: {{ember_gpu_kernel_[0-9a-f]+}}, block 256x1x1
// CHECK: ember_entry_forward_kernel_2: {{ember_gpu_kernel_[0-9a-f]+}}, block {{.*}} bytes of hsaco
// CHECK: kernels for rocm:gfx942 in

// ELF: Machine: EM_AMDGPU
// ELF: Flags: {{.*}}gfx942
// ELF: {{ember_gpu_kernel_[0-9a-f]+}}.kd
// ELF-NOT: UND {{.*}}__oc

// LDS: .group_segment_fixed_size: 8192
// LDS: .name: {{ember_gpu_kernel_[0-9a-f]+}}
