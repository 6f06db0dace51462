// RUN: ember-gpu-opt %s --ember-gpu-lower-to-cuda | FileCheck %s --implicit-check-not=__nv_

// NVVM: sm_90 with PTX 8.0, one pointer per buffer (bare-pointer calling
// convention), 64-bit sizes, static shared memory as an addrspace(3)
// global, nvvm.barrier0 for gpu.barrier; no libdevice (__nv_*) calls:
// fma/abs are LLVM intrinsics, floor is expanded.
// CHECK:       gpu.module @ember_entry_row_max_pointwise0 [#nvvm.target<chip = "sm_90", features = "+ptx80">]
// CHECK:         llvm.func @ember_entry_row_max_pointwise0(%{{.*}}: i64, %{{.*}}: !llvm.ptr) attributes {{{.*}}nvvm.kernel, nvvm.maxntid = array<i32: 256, 1, 1>}
// CHECK-LABEL: gpu.module @ember_entry_row_max_rowreduce1
// CHECK:         llvm.mlir.global internal @{{.*}}() {addr_space = 3 : i32} : !llvm.array<256 x f32>
// CHECK:         llvm.func @ember_entry_row_max_rowreduce1(%{{.*}}: i64, %{{.*}}: i64, %{{.*}}: !llvm.ptr, %{{.*}}: i64, %{{.*}}: !llvm.ptr)
// CHECK:           nvvm.barrier0
// CHECK-LABEL: gpu.module @ember_entry_gelu_pointwise0
// CHECK:         llvm.intr.fma
// CHECK-NOT:   func.func
func.func @row_max(%x: tensor<?x?xf32>) -> tensor<?xf32> {
  %0 = ember.max %x dims = [1] : tensor<?x?xf32> -> tensor<?xf32>
  return %0 : tensor<?xf32>
}

func.func @gelu(%x: tensor<?xf32>) -> tensor<?xf32> {
  %0 = ember.gelu %x : tensor<?xf32>
  %1 = ember.exp %0 : tensor<?xf32>
  return %1 : tensor<?xf32>
}
