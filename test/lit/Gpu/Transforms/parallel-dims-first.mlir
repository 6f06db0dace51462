// RUN: ember-opt %s --pass-pipeline='builtin.module(func.func(ember-parallel-dims-first))' | FileCheck %s

// A column sum: the reduced dim comes first. Interchanged, each output
// element is one thread looping over the rows, not a launch per row.
// CHECK-DAG:  #[[IN:.*]] = affine_map<(d0, d1) -> (d1, d0)>
// CHECK-DAG:  #[[OUT:.*]] = affine_map<(d0, d1) -> (d0)>
// CHECK-LABEL: func.func @column_sum(
// CHECK:        linalg.generic {indexing_maps = [#[[IN]], #[[OUT]]], iterator_types = ["parallel", "reduction"]}
#rows = affine_map<(d0, d1) -> (d0, d1)>
#cols = affine_map<(d0, d1) -> (d1)>
func.func @column_sum(%a: memref<4x8xf32>, %out: memref<8xf32>) {
  linalg.generic {indexing_maps = [#rows, #cols], iterator_types = ["reduction", "parallel"]}
      ins(%a : memref<4x8xf32>) outs(%out : memref<8xf32>) {
  ^bb0(%x: f32, %acc: f32):
    %s = arith.addf %x, %acc : f32
    linalg.yield %s : f32
  }
  return
}

// Parallel dims already first: left as it is.
// CHECK-LABEL: func.func @row_sum(
// CHECK:        linalg.generic {indexing_maps = [#{{.*}}, #{{.*}}], iterator_types = ["parallel", "reduction"]}
// CHECK-SAME:     ins(%{{.*}} : memref<4x8xf32>) outs(%{{.*}} : memref<4xf32>)
#row_out = affine_map<(d0, d1) -> (d0)>
func.func @row_sum(%a: memref<4x8xf32>, %out: memref<4xf32>) {
  linalg.generic {indexing_maps = [#rows, #row_out], iterator_types = ["parallel", "reduction"]}
      ins(%a : memref<4x8xf32>) outs(%out : memref<4xf32>) {
  ^bb0(%x: f32, %acc: f32):
    %s = arith.addf %x, %acc : f32
    linalg.yield %s : f32
  }
  return
}

// A copy between buffers becomes a linalg.copy (a kernel): a strided copy
// is not one device-to-device transfer.
// CHECK-LABEL: func.func @strided_copy(
// CHECK-SAME:    %[[A:[a-z0-9]+]]: memref<4x8xf32, strided<[16, 1]>>, %[[B:[a-z0-9]+]]: memref<4x8xf32>
// CHECK-NOT:    memref.copy
// CHECK:        linalg.copy ins(%[[A]] : memref<4x8xf32, strided<[16, 1]>>) outs(%[[B]] : memref<4x8xf32>)
func.func @strided_copy(%a: memref<4x8xf32, strided<[16, 1]>>, %b: memref<4x8xf32>) {
  memref.copy %a, %b : memref<4x8xf32, strided<[16, 1]>> to memref<4x8xf32>
  return
}
