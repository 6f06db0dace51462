// RUN: ember-opt %s -ember-matmul-to-blas | FileCheck %s

// CHECK-DAG: func.func private @ember_cpu_sgemm(memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>)
// CHECK-DAG: func.func private @ember_cpu_dgemm_batched(memref<?x?x?xf64, strided<[?, ?, ?], offset: ?>>

// CHECK-LABEL: func @gemms
func.func @gemms(%a: memref<?x4xf32>, %b: memref<4x5xf32>, %c: memref<?x5xf32>,
                 %x: memref<2x3x4xf64>, %y: memref<2x4x5xf64>, %z: memref<2x3x5xf64>,
                 %i: memref<3x4xi32>, %j: memref<4x5xi32>, %k: memref<3x5xi32>) {
  // CHECK: memref.cast %{{.*}} : memref<?x4xf32> to memref<?x?xf32, strided<[?, ?], offset: ?>>
  // CHECK: call @ember_cpu_sgemm(
  linalg.matmul ins(%a, %b : memref<?x4xf32>, memref<4x5xf32>) outs(%c : memref<?x5xf32>)
  // CHECK: call @ember_cpu_dgemm_batched(
  linalg.batch_matmul ins(%x, %y : memref<2x3x4xf64>, memref<2x4x5xf64>) outs(%z : memref<2x3x5xf64>)
  // Integer GEMMs stay as linalg (loops).
  // CHECK: linalg.matmul ins(%{{.*}}, %{{.*}} : memref<3x4xi32>, memref<4x5xi32>)
  linalg.matmul ins(%i, %j : memref<3x4xi32>, memref<4x5xi32>) outs(%k : memref<3x5xi32>)
  return
}

// A bufferized transpose read only by the matmul becomes a transposed view:
// the GEMM reads the layout, no copy is made.
// CHECK-LABEL: func @transposed_operand
// CHECK-SAME: (%[[X:.*]]: memref<?x?xf32>, %[[G:.*]]: memref<?x?xf32>, %[[C:.*]]: memref<?x?xf32>)
// CHECK-NOT: linalg.generic
// CHECK-NOT: memref.alloc
// CHECK: %[[T:.*]] = memref.transpose %[[X]] (d0, d1) -> (d1, d0)
// CHECK: %[[V:.*]] = memref.cast %[[T]]
// CHECK: call @ember_cpu_sgemm_into(%[[V]],
// CHECK-NOT: memref.copy
func.func @transposed_operand(%x: memref<?x?xf32>, %g: memref<?x?xf32>, %c: memref<?x?xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %d0 = memref.dim %x, %c0 : memref<?x?xf32>
  %d1 = memref.dim %x, %c1 : memref<?x?xf32>
  %t = memref.alloc(%d1, %d0) : memref<?x?xf32>
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d1, d0)>, affine_map<(d0, d1) -> (d0, d1)>],
                  iterator_types = ["parallel", "parallel"]}
      ins(%x : memref<?x?xf32>) outs(%t : memref<?x?xf32>) {
  ^bb0(%in: f32, %out: f32):
    linalg.yield %in : f32
  }
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%c : memref<?x?xf32>)
  linalg.matmul ins(%t, %g : memref<?x?xf32>, memref<?x?xf32>) outs(%c : memref<?x?xf32>)
  memref.copy %c, %c : memref<?x?xf32> to memref<?x?xf32>
  return
}

// Allocations between the transpose and the matmul (an exported model's
// static weight, then the matmul's own buffers) do not stop the view.
// CHECK-LABEL: func @transposed_static_weight
// CHECK-SAME: (%[[X:.*]]: memref<?x784xf32>, %[[W:.*]]: memref<512x784xf32>
// CHECK-NOT: linalg.generic
// CHECK: memref.alloc
// CHECK: %[[T:.*]] = memref.transpose %[[W]] (d0, d1) -> (d1, d0)
// CHECK: call @ember_cpu_sgemm_into(
func.func @transposed_static_weight(%x: memref<?x784xf32>, %w: memref<512x784xf32>, %out: memref<?x512xf32>) {
  %c0 = arith.constant 0 : index
  %t = memref.alloc() {alignment = 64 : i64} : memref<784x512xf32>
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d1, d0)>, affine_map<(d0, d1) -> (d0, d1)>],
                  iterator_types = ["parallel", "parallel"]}
      ins(%w : memref<512x784xf32>) outs(%t : memref<784x512xf32>) {
  ^bb0(%in: f32, %o: f32):
    linalg.yield %in : f32
  }
  %n = memref.dim %x, %c0 : memref<?x784xf32>
  %acc = memref.alloc(%n) {alignment = 64 : i64} : memref<?x512xf32>
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%acc : memref<?x512xf32>)
  linalg.matmul ins(%x, %t : memref<?x784xf32>, memref<784x512xf32>) outs(%acc : memref<?x512xf32>)
  memref.copy %acc, %out : memref<?x512xf32> to memref<?x512xf32>
  return
}

// A transpose whose copy is read elsewhere too stays a copy.
// CHECK-LABEL: func @shared_transpose
// CHECK: linalg.generic
// CHECK: call @ember_cpu_sgemm(
func.func @shared_transpose(%x: memref<?x?xf32>, %g: memref<?x?xf32>, %c: memref<?x?xf32>, %d: memref<?x?xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %d0 = memref.dim %x, %c0 : memref<?x?xf32>
  %d1 = memref.dim %x, %c1 : memref<?x?xf32>
  %t = memref.alloc(%d1, %d0) : memref<?x?xf32>
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d1, d0)>, affine_map<(d0, d1) -> (d0, d1)>],
                  iterator_types = ["parallel", "parallel"]}
      ins(%x : memref<?x?xf32>) outs(%t : memref<?x?xf32>) {
  ^bb0(%in: f32, %out: f32):
    linalg.yield %in : f32
  }
  linalg.matmul ins(%t, %g : memref<?x?xf32>, memref<?x?xf32>) outs(%c : memref<?x?xf32>)
  memref.copy %t, %d : memref<?x?xf32> to memref<?x?xf32>
  return
}

// A zero-filled output (how ember.matmul lowers) is overwritten by the
// `_into` GEMM (BLAS beta = 0); the fill is gone. A fill of another value,
// or a write of the output in between, keeps the accumulating call.
// CHECK-LABEL: func @zero_initialized
// CHECK-NOT: linalg.fill
// CHECK: call @ember_cpu_sgemm_into(
// CHECK: linalg.fill ins(%{{.*}} : f32) outs(%[[D:.*]] : memref<?x5xf32>)
// CHECK: call @ember_cpu_sgemm(
// CHECK: linalg.fill
// CHECK: linalg.generic
// CHECK: call @ember_cpu_dgemm_batched(
func.func @zero_initialized(%a: memref<?x4xf32>, %b: memref<4x5xf32>, %c: memref<?x5xf32>,
                            %d: memref<?x5xf32>, %x: memref<2x3x4xf64>, %y: memref<2x4x5xf64>,
                            %z: memref<2x3x5xf64>) {
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %zero64 = arith.constant 0.0 : f64
  linalg.fill ins(%zero : f32) outs(%c : memref<?x5xf32>)
  linalg.matmul ins(%a, %b : memref<?x4xf32>, memref<4x5xf32>) outs(%c : memref<?x5xf32>)
  linalg.fill ins(%one : f32) outs(%d : memref<?x5xf32>)
  linalg.matmul ins(%a, %b : memref<?x4xf32>, memref<4x5xf32>) outs(%d : memref<?x5xf32>)
  linalg.fill ins(%zero64 : f64) outs(%z : memref<2x3x5xf64>)
  linalg.generic {indexing_maps = [affine_map<(i, j, k) -> (i, j, k)>], iterator_types = ["parallel", "parallel", "parallel"]} outs(%z : memref<2x3x5xf64>) {
  ^bb0(%o: f64):
    %t = arith.addf %o, %o : f64
    linalg.yield %t : f64
  }
  linalg.batch_matmul ins(%x, %y : memref<2x3x4xf64>, memref<2x4x5xf64>) outs(%z : memref<2x3x5xf64>)
  return
}
