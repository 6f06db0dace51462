// RUN: ember-opt %s -ember-lower-to-llvm | FileCheck %s
// The whole CPU pipeline: ember in, LLVM dialect out, no other dialect left.

// CHECK-NOT: ember.
// CHECK-NOT: linalg.
// CHECK-NOT: memref.
// CHECK-DAG: llvm.func @ember_cpu_sgemm(
// CHECK-DAG: llvm.func @ember_entry_mlp(
// CHECK-DAG: llvm.func @_mlir_ciface_ember_entry_mlp(
func.func @mlp(%x: tensor<?x64xf32>, %w: tensor<64x10xf32>, %b: tensor<10xf32>) -> tensor<?x10xf32> {
  %0 = ember.matmul %x, %w : tensor<?x64xf32>, tensor<64x10xf32> -> tensor<?x10xf32>
  %1 = ember.add %0, %b : tensor<?x10xf32>, tensor<10xf32> -> tensor<?x10xf32>
  %2 = ember.gelu %1 : tensor<?x10xf32>
  %3 = ember.log_softmax %2 dim = 1 : tensor<?x10xf32>
  return %3 : tensor<?x10xf32>
}
