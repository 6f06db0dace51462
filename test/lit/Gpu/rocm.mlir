// ROCDL: each kernel is an HSACO (AMDGPU ELF) with its kernel descriptor and
// no calls into ROCm's device libraries (__ocml/__ockl): the math is
// polynomial and floor is expanded.
// RUN: rm -rf %t && ember-gpu-compile %S/Inputs/mlp.mlir --target rocm:gfx942 -o %t | FileCheck %s
// RUN: llvm-readelf -h -s %t/ember_entry_forward_kernel_2.hsaco | FileCheck %s --check-prefix=ELF
// RUN: for f in %t/*.hsaco; do llvm-readelf -s $f | grep 'ember_entry_forward_kernel.kd' > /dev/null || exit 1; done
// RUN: cat %t/*.hsaco | not grep -a -E '__ocml|__ockl'

// CHECK: ember_entry_forward_kernel_2: ember_entry_forward_kernel, block {{.*}} bytes of hsaco
// CHECK: kernels for rocm:gfx942 in

// ELF: Machine: EM_AMDGPU
// ELF: Flags: {{.*}}gfx942
// ELF: ember_entry_forward_kernel.kd
// ELF-NOT: UND {{.*}}__oc
