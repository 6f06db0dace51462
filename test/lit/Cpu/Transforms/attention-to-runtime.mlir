// RUN: ember-opt %s -ember-attention-to-runtime | FileCheck %s

// f32/f64 attention calls the runtime's blocked kernels: operands flattened
// to [B, rows, cols] and passed read-only, results fresh buffers read back
// as tensors; flags bit 0 causal, bit 1 mask. f16 is left for
// ember-decompose.

// CHECK-DAG: func.func private @ember_cpu_attention_f32(memref<?x?x?xf32, strided<[?, ?, ?], offset: ?>>, memref<?x?x?xf32, strided<[?, ?, ?], offset: ?>>, memref<?x?x?xf32, strided<[?, ?, ?], offset: ?>>, memref<?x?x?xf32, strided<[?, ?, ?], offset: ?>>, memref<?x?x?xf32, strided<[?, ?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, f64, i64)
// CHECK-DAG: func.func private @ember_cpu_attention_f64(
// CHECK-DAG: func.func private @ember_cpu_attention_backward_f32(

// CHECK-LABEL: func.func @causal
// CHECK: %[[Q:.*]] = tensor.expand_shape %arg0 {{\[\[}}0, 1], [2]] output_shape [1, %{{.*}}, 8] : tensor<?x8xf32> into tensor<1x?x8xf32>
// CHECK: %[[OUT:.*]] = memref.alloc(%{{.*}}) : memref<1x?x4xf32>
// CHECK: %[[OUTT:.*]] = bufferization.to_tensor %[[OUT]] restrict writable
// CHECK: %[[QB:.*]] = bufferization.to_buffer %[[Q]] read_only : tensor<1x?x8xf32> to memref<1x?x8xf32, strided<[?, ?, ?], offset: ?>>
// CHECK: %[[QC:.*]] = memref.cast %[[QB]]
// CHECK: %[[FLAGS:.*]] = arith.constant 1 : i64
// CHECK: call @ember_cpu_attention_f32(%[[QC]], %{{.*}}, %{{.*}}, %[[QC]], %{{.*}}, %{{.*}}, %{{.*}}, %[[FLAGS]])
// CHECK: %[[R:.*]] = tensor.collapse_shape %[[OUTT]] {{\[\[}}0, 1], [2]] : tensor<1x?x4xf32> into tensor<?x4xf32>
// CHECK: return %[[R]]
func.func @causal(%q: tensor<?x8xf32>, %k: tensor<?x8xf32>, %v: tensor<?x4xf32>) -> (tensor<?x4xf32>, tensor<?xf32>) {
  %o, %l = ember.attention %q, %k, %v scale = 1.25e-01 causal : tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x4xf32> -> tensor<?x4xf32>, tensor<?xf32>
  return %o, %l : tensor<?x4xf32>, tensor<?xf32>
}

// Batch dims collapse (heads with them); one mask for every item keeps its
// unit batch dim.
// CHECK-LABEL: func.func @heads
// CHECK: tensor.collapse_shape %arg0 {{\[\[}}0, 1], [2], [3]] : tensor<2x?x?x8xf64> into tensor<?x?x8xf64>
// CHECK: %[[M:.*]] = tensor.collapse_shape %arg3 {{\[\[}}0, 1], [2], [3]] : tensor<1x1x?x?xf64> into tensor<1x?x?xf64>
// CHECK: bufferization.to_buffer %[[M]] read_only
// CHECK: %[[FLAGS:.*]] = arith.constant 2 : i64
// CHECK: call @ember_cpu_attention_f64({{.*}}, %[[FLAGS]])
// CHECK: tensor.expand_shape %{{.*}} {{\[\[}}0, 1], [2], [3]] output_shape [2, %{{.*}}, %{{.*}}, 8] : tensor<?x?x8xf64> into tensor<2x?x?x8xf64>
func.func @heads(%q: tensor<2x?x?x8xf64>, %k: tensor<2x?x?x8xf64>, %v: tensor<2x?x?x8xf64>, %m: tensor<1x1x?x?xf64>) -> tensor<2x?x?x8xf64> {
  %o, %l = ember.attention %q, %k, %v mask %m : tensor<1x1x?x?xf64> scale = 1.25e-01 : tensor<2x?x?x8xf64>, tensor<2x?x?x8xf64>, tensor<2x?x?x8xf64> -> tensor<2x?x?x8xf64>, tensor<2x?x?xf64>
  return %o : tensor<2x?x?x8xf64>
}

// CHECK-LABEL: func.func @half
// CHECK: ember.attention
// CHECK-NOT: call
func.func @half(%q: tensor<?x?x8xf16>, %k: tensor<?x?x8xf16>, %v: tensor<?x?x8xf16>) -> tensor<?x?x8xf16> {
  %o, %l = ember.attention %q, %k, %v scale = 1.25e-01 : tensor<?x?x8xf16>, tensor<?x?x8xf16>, tensor<?x?x8xf16> -> tensor<?x?x8xf16>, tensor<?x?xf16>
  return %o : tensor<?x?x8xf16>
}

// CHECK-LABEL: func.func @backward
// CHECK-COUNT-3: memref.alloc
// CHECK: call @ember_cpu_attention_backward_f32(
// CHECK-NOT: ember.attention_backward
func.func @backward(%g: tensor<?x?x4xf32>, %q: tensor<?x?x8xf32>, %k: tensor<?x?x8xf32>, %v: tensor<?x?x4xf32>, %o: tensor<?x?x4xf32>, %l: tensor<?x?xf32>) -> (tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x4xf32>) {
  %dq, %dk, %dv = ember.attention_backward %g, %q, %k, %v, %o, %l scale = 1.25e-01 causal : tensor<?x?x4xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x4xf32>, tensor<?x?xf32>
  return %dq, %dk, %dv : tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x4xf32>
}
