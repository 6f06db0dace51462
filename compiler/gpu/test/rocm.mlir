// RUN: ember-gpu-opt %s --ember-gpu-lower-to-rocm | FileCheck %s --implicit-check-not=__ocml --implicit-check-not=__ockl

// ROCDL: gfx942, bare pointers, constant work-group sizes (no
// __ockl_get_local_size), no __ocml calls: exp/erf are polynomials and
// floor is expanded (-ceil(-x), ceil through fptosi/sitofp).
// CHECK:       gpu.module @ember_entry_gelu_pointwise0 [#rocdl.target<chip = "gfx942">]
// CHECK:         llvm.func @ember_entry_gelu_pointwise0(%{{.*}}: i64, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr) attributes {{{.*}}rocdl.kernel, rocdl.reqd_work_group_size = array<i32: 256, 1, 1>}
// CHECK-NOT:     __ocml
// CHECK-NOT:     __ockl
// CHECK-NOT:     llvm.intr.floor
func.func @gelu(%x: tensor<?xf32>) -> tensor<?xf32> {
  %0 = ember.gelu %x : tensor<?xf32>
  %1 = ember.exp %0 : tensor<?xf32>
  return %1 : tensor<?xf32>
}
