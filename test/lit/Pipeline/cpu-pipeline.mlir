// RUN: ember-opt %s -ember-lower-to-llvm | FileCheck %s
// RUN: ember-opt %s -ember-lower-to-llvm | FileCheck %s --check-prefix=ALLOC
// The whole CPU pipeline: ember in, LLVM dialect out, no other dialect left.
// Temporaries (log_softmax's row max and sum) come from the runtime's host
// allocator, never from malloc.

// CHECK-NOT: ember.
// CHECK-NOT: linalg.
// CHECK-NOT: memref.
// CHECK-DAG: llvm.func @ember_cpu_sgemm_into(
// CHECK-DAG: llvm.func @_mlir_memref_to_llvm_aligned_alloc(i64, i64) -> !llvm.ptr
// CHECK-DAG: llvm.func @_mlir_memref_to_llvm_free(!llvm.ptr)
// CHECK-DAG: llvm.call @_mlir_memref_to_llvm_aligned_alloc(
// CHECK-DAG: llvm.call @_mlir_memref_to_llvm_free(
// CHECK-DAG: llvm.func @ember_entry_mlp(
// The element-wise kernel runs on the runtime's thread pool.
// CHECK-DAG: llvm.func internal @ember_entry_mlp_loop0_tramp(
// CHECK-DAG: llvm.call @ember_parallel_for(
// CHECK-DAG: llvm.func @_mlir_ciface_ember_entry_mlp(
// ALLOC-NOT: @malloc
// ALLOC-NOT: @aligned_alloc
// ALLOC-NOT: @free(
func.func @mlp(%x: tensor<?x64xf32>, %w: tensor<64x10xf32>, %b: tensor<10xf32>) -> tensor<?x10xf32> {
  %0 = ember.matmul %x, %w : tensor<?x64xf32>, tensor<64x10xf32> -> tensor<?x10xf32>
  %1 = ember.add %0, %b : tensor<?x10xf32>, tensor<10xf32> -> tensor<?x10xf32>
  %2 = ember.gelu %1 : tensor<?x10xf32>
  %3 = ember.log_softmax %2 dim = 1 : tensor<?x10xf32>
  return %3 : tensor<?x10xf32>
}
