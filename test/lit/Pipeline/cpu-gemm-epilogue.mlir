// RUN: ember-opt %s -ember-lower-to-llvm | FileCheck %s
// A transformer MLP's first half, as the tracer writes it: x @ w^T + b,
// gelu, plus a residual. The whole CPU pipeline makes it one GEMM call that
// reads the weight transposed in place (no copy of w) and applies bias,
// gelu and the residual to each block of the result (activation 2 | bias
// 256 | residual 512 = 770): no loop nest, no temporary, no copy is left.

// CHECK-NOT: ember_cpu_sgemm_into
// CHECK-NOT: memrefCopy
// CHECK-NOT: llvm.intr.memcpy
// CHECK-NOT: _mlir_memref_to_llvm_aligned_alloc(
// CHECK-DAG: llvm.func @ember_cpu_sgemm_fused(
// CHECK-DAG: %[[FLAGS:.*]] = llvm.mlir.constant(770 : i64) : i64
// CHECK: llvm.call @ember_cpu_sgemm_fused({{.*}}, %[[FLAGS]])
// CHECK-NOT: ember_kernel
// CHECK-NOT: _loop0
func.func @linear_gelu_residual(%arg0: tensor<?x?xf32>, %arg1: tensor<?x?xf32>, %arg2: tensor<?xf32>, %arg3: tensor<?x?xf32>) -> tensor<?x?xf32> {
  %3 = ember.transpose %arg1 perm = [1, 0] : tensor<?x?xf32> -> tensor<?x?xf32>
  %4 = ember.matmul %arg0, %3 : tensor<?x?xf32>, tensor<?x?xf32> -> tensor<?x?xf32>
  %7 = ember.add %4, %arg2 : tensor<?x?xf32>, tensor<?xf32> -> tensor<?x?xf32>
  %8 = ember.gelu %7 : tensor<?x?xf32>
  %9 = ember.add %8, %arg3 : tensor<?x?xf32>, tensor<?x?xf32> -> tensor<?x?xf32>
  return %9 : tensor<?x?xf32>
}
