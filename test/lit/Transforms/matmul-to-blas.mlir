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
