// RUN: ember-opt %s -ember-attention-to-runtime | FileCheck %s
// RUN: ember-opt %s -ember-attention-to-runtime -canonicalize | FileCheck %s --check-prefix=VIEW

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

// The heads of a fused QKV projection (reshape [B, L, 3, H, E], transpose,
// slice, reshape): q, k and v are strided views of the projection's
// buffer, and the output is written in the [B, L, H, E] layout its
// transpose asked for: no copies.
// CHECK-LABEL: func.func @qkv_heads
// CHECK: call @ember_cpu_attention_heads_f32(
// CHECK-NOT: ember.attention
// VIEW-LABEL: func.func @qkv_heads
// VIEW-DAG: %[[Y:.*]] = bufferization.to_buffer %arg0 read_only : tensor<?x?x?xf32> to memref<?x?x?xf32>
// VIEW-DAG: %[[OUT:.*]] = memref.alloc(%arg1) : memref<?x197x12x64xf32>
// VIEW-DAG: %[[OUTV:.*]] = memref.reinterpret_cast %[[OUT]] to offset: [0], sizes: [%arg1, 12, 197, 64], strides: [151296, 64, 768, 1]
// VIEW-DAG: %[[Q:.*]] = memref.reinterpret_cast %[[Y]] to offset: [0], sizes: [%arg1, 12, 197, 64], strides: [453888, 64, 2304, 1]
// VIEW-DAG: %[[K:.*]] = memref.reinterpret_cast %[[Y]] to offset: [768], sizes: [%arg1, 12, 197, 64], strides: [453888, 64, 2304, 1]
// VIEW-DAG: %[[V:.*]] = memref.reinterpret_cast %[[Y]] to offset: [1536], sizes: [%arg1, 12, 197, 64], strides: [453888, 64, 2304, 1]
// VIEW-DAG: %[[R:.*]] = bufferization.to_tensor %[[OUT]]
// VIEW: call @ember_cpu_attention_heads_f32(
// VIEW: %[[RC:.*]] = tensor.cast %[[R]]
// VIEW: ember.reshape %[[RC]]
// VIEW-NOT: ember.transpose
// VIEW: return
func.func @qkv_heads(%y: tensor<?x?x?xf32>, %n: index) -> tensor<?x?x?xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c3 = arith.constant 3 : index
  %c12 = arith.constant 12 : index
  %c64 = arith.constant 64 : index
  %c197 = arith.constant 197 : index
  %c768 = arith.constant 768 : index
  %r = ember.reshape %y[%n, %c197, %c3, %c12, %c64] : tensor<?x?x?xf32> -> tensor<?x?x?x?x?xf32>
  %t = ember.transpose %r perm = [2, 0, 3, 1, 4] : tensor<?x?x?x?x?xf32> -> tensor<?x?x?x?x?xf32>
  %s0 = ember.slice %t start = [%c0, 0, 0, 0, 0] stop = [%c1, 9223372036854775807, 9223372036854775807, 9223372036854775807, 9223372036854775807] step = [1, 1, 1, 1, 1] : tensor<?x?x?x?x?xf32> -> tensor<?x?x?x?x?xf32>
  %c_0 = tensor.cast %s0 : tensor<?x?x?x?x?xf32> to tensor<1x?x?x?x?xf32>
  %q = ember.reshape %c_0[%n, %c12, %c197, %c64] : tensor<1x?x?x?x?xf32> -> tensor<?x?x?x?xf32>
  %s1 = ember.slice %t start = [%c1, 0, 0, 0, 0] stop = [%c2, 9223372036854775807, 9223372036854775807, 9223372036854775807, 9223372036854775807] step = [1, 1, 1, 1, 1] : tensor<?x?x?x?x?xf32> -> tensor<?x?x?x?x?xf32>
  %c_1 = tensor.cast %s1 : tensor<?x?x?x?x?xf32> to tensor<1x?x?x?x?xf32>
  %k = ember.reshape %c_1[%n, %c12, %c197, %c64] : tensor<1x?x?x?x?xf32> -> tensor<?x?x?x?xf32>
  %s2 = ember.slice %t start = [%c2, 0, 0, 0, 0] stop = [%c3, 9223372036854775807, 9223372036854775807, 9223372036854775807, 9223372036854775807] step = [1, 1, 1, 1, 1] : tensor<?x?x?x?x?xf32> -> tensor<?x?x?x?x?xf32>
  %c_2 = tensor.cast %s2 : tensor<?x?x?x?x?xf32> to tensor<1x?x?x?x?xf32>
  %v = ember.reshape %c_2[%n, %c12, %c197, %c64] : tensor<1x?x?x?x?xf32> -> tensor<?x?x?x?xf32>
  %o, %l = ember.attention %q, %k, %v scale = 1.25e-01 : tensor<?x?x?x?xf32>, tensor<?x?x?x?xf32>, tensor<?x?x?x?xf32> -> tensor<?x?x?x?xf32>, tensor<?x?x?xf32>
  %ot = ember.transpose %o perm = [0, 2, 1, 3] : tensor<?x?x?x?xf32> -> tensor<?x?x?x?xf32>
  %res = ember.reshape %ot[%n, %c197, %c768] : tensor<?x?x?x?xf32> -> tensor<?x?x?xf32>
  return %res : tensor<?x?x?xf32>
}

// A slice whose stop may pass the dim's end (Python clamps) is not a view
// this pass computes: the operands are flattened copies as before.
// CHECK-LABEL: func.func @unknown_stop
// CHECK: call @ember_cpu_attention_f32(
func.func @unknown_stop(%x: tensor<?x?x?x?xf32>) -> tensor<?x?x?x?xf32> {
  %s = ember.slice %x start = [0, 0, 0, 0] stop = [9223372036854775807, 9223372036854775807, 5, 9223372036854775807] step = [1, 1, 1, 1] : tensor<?x?x?x?xf32> -> tensor<?x?x?x?xf32>
  %o, %l = ember.attention %s, %s, %s scale = 1.25e-01 : tensor<?x?x?x?xf32>, tensor<?x?x?x?xf32>, tensor<?x?x?x?xf32> -> tensor<?x?x?x?xf32>, tensor<?x?x?xf32>
  return %o : tensor<?x?x?x?xf32>
}

// nn.MultiheadAttention's split: a column slice of the projection, its
// columns split into [heads, head size], then transposed.
// VIEW-LABEL: func.func @column_heads
// VIEW-DAG: %[[Y:.*]] = bufferization.to_buffer %arg0 read_only : tensor<?x10x96xf32> to memref<?x10x96xf32>
// VIEW-DAG: memref.reinterpret_cast %[[Y]] to offset: [0], sizes: [%[[N:.*]], 4, 10, 8], strides: [960, 8, 96, 1]
// VIEW-DAG: memref.reinterpret_cast %[[Y]] to offset: [32], sizes: [%[[N]], 4, 10, 8], strides: [960, 8, 96, 1]
// VIEW-DAG: memref.reinterpret_cast %[[Y]] to offset: [64], sizes: [%[[N]], 4, 10, 8], strides: [960, 8, 96, 1]
// VIEW: call @ember_cpu_attention_heads_f32(
func.func @column_heads(%y: tensor<?x10x96xf32>) -> tensor<?x?x?x?xf32> {
  %c0 = arith.constant 0 : index
  %c4 = arith.constant 4 : index
  %c8 = arith.constant 8 : index
  %c10 = arith.constant 10 : index
  %n = tensor.dim %y, %c0 : tensor<?x10x96xf32>
  %s0 = ember.slice %y start = [0, 0, 0] stop = [9223372036854775807, 9223372036854775807, 32] step = [1, 1, 1] : tensor<?x10x96xf32> -> tensor<?x10x32xf32>
  %s1 = ember.slice %y start = [0, 0, 32] stop = [9223372036854775807, 9223372036854775807, 64] step = [1, 1, 1] : tensor<?x10x96xf32> -> tensor<?x10x32xf32>
  %s2 = ember.slice %y start = [0, 0, 64] stop = [9223372036854775807, 9223372036854775807, 96] step = [1, 1, 1] : tensor<?x10x96xf32> -> tensor<?x10x32xf32>
  %r0 = ember.reshape %s0[%n, %c10, %c4, %c8] : tensor<?x10x32xf32> -> tensor<?x?x?x?xf32>
  %r1 = ember.reshape %s1[%n, %c10, %c4, %c8] : tensor<?x10x32xf32> -> tensor<?x?x?x?xf32>
  %r2 = ember.reshape %s2[%n, %c10, %c4, %c8] : tensor<?x10x32xf32> -> tensor<?x?x?x?xf32>
  %q = ember.transpose %r0 perm = [0, 2, 1, 3] : tensor<?x?x?x?xf32> -> tensor<?x?x?x?xf32>
  %k = ember.transpose %r1 perm = [0, 2, 1, 3] : tensor<?x?x?x?xf32> -> tensor<?x?x?x?xf32>
  %v = ember.transpose %r2 perm = [0, 2, 1, 3] : tensor<?x?x?x?xf32> -> tensor<?x?x?x?xf32>
  %o, %l = ember.attention %q, %k, %v scale = 1.25e-01 : tensor<?x?x?x?xf32>, tensor<?x?x?x?xf32>, tensor<?x?x?x?xf32> -> tensor<?x?x?x?xf32>, tensor<?x?x?xf32>
  return %o : tensor<?x?x?x?xf32>
}
