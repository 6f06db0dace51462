// Every PTX module assembles with ptxas for sm_90, and
// ember-compile --emit-kernels made a cubin next to each (ptxas is found, as
// here).
// REQUIRES: ptxas
// RUN: rm -rf %t && ember-compile %S/Inputs/mlp.mlir --target cuda:sm_90 --emit-kernels %t | FileCheck %s
// RUN: for f in %t/*.ptx; do ptxas -arch=sm_90 $f -o %t/check.cubin || exit 1; done
// RUN: ls %t | FileCheck %s --check-prefix=FILES

// CHECK: ember_entry_forward_kernel_0: {{.*}} bytes of ptx + cubin
// FILES: ember_entry_forward_kernel_0.cubin
// FILES: ember_entry_forward_kernel_0.ptx
