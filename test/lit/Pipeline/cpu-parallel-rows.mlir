// RUN: ember-opt %s -ember-lower-to-llvm | FileCheck %s
// A row loop written as scf.forall (as one-pass normalisations emit them)
// becomes a chunk kernel launched on the runtime's thread pool: 64 rows of
// 1024 element-iterations each, so a grain of 32 rows.

// CHECK:     llvm.func internal @ember_entry_rows_loop0_tramp(
// CHECK:     llvm.func @ember_entry_rows_loop0(
// CHECK-LABEL: llvm.func @ember_entry_rows(
// CHECK-DAG: %[[RANGE:.*]] = llvm.mlir.constant(64 : index) : i64
// CHECK-DAG: %[[GRAIN:.*]] = llvm.mlir.constant(32 : index) : i64
// CHECK:     llvm.call @ember_parallel_for(%{{.*}}, %{{.*}}, %{{.*}}, %[[RANGE]], %[[GRAIN]])
func.func @rows(%x: tensor<64x1024xf32>) -> tensor<64x1024xf32> {
  %e = tensor.empty() : tensor<64x1024xf32>
  %r = scf.forall (%i) in (64) shared_outs(%o = %e) -> tensor<64x1024xf32> {
    %row = tensor.extract_slice %x[%i, 0] [1, 1024] [1, 1] : tensor<64x1024xf32> to tensor<1024xf32>
    %init = tensor.empty() : tensor<1024xf32>
    %y = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]} ins(%row : tensor<1024xf32>) outs(%init : tensor<1024xf32>) {
    ^bb0(%a: f32, %b: f32):
      %z = arith.mulf %a, %a : f32
      linalg.yield %z : f32
    } -> tensor<1024xf32>
    scf.forall.in_parallel {
      tensor.parallel_insert_slice %y into %o[%i, 0] [1, 1024] [1, 1] : tensor<1024xf32> into tensor<64x1024xf32>
    }
  }
  return %r : tensor<64x1024xf32>
}
