// RUN: ember-opt %s -split-input-file -verify-diagnostics -ember-decompose-conv | FileCheck %s

// A padded, strided 2-D convolution with a dynamic batch: the input is
// inserted into zeros of the padded size, each of the 3x3 kernel offsets
// reads one strided window (N, C, 1, L), the nine are stacked on dim 2 and
// one matmul (O, C*K) x (N, C*K, L) gives (N, O, L).
// CHECK-LABEL: func.func @conv2d
// CHECK: %[[N:.*]] = tensor.dim %arg0, %c0
// CHECK: %[[Z:.*]] = ember.broadcast_to %{{.*}}[%[[N]]] : tensor<f32> -> tensor<?x3x10x10xf32>
// CHECK: %[[P:.*]] = ember.insert_slice %arg0 into %[[Z]] start = [0, 0, 1, 1] stop = [9223372036854775807, 9223372036854775807, 9, 9] step = [1, 1, 1, 1]
// CHECK: ember.slice %[[P]] start = [0, 0, 0, 0] stop = [9223372036854775807, 9223372036854775807, 7, 7] step = [1, 1, 2, 2]
// CHECK-COUNT-8: ember.slice %[[P]]
// CHECK: %[[C:.*]] = ember.concat {{.*}} dim = 2 : {{.*}} -> tensor<?x3x9x16xf32>
// CHECK: %[[W:.*]] = ember.reshape %arg1 : tensor<4x3x3x3xf32> -> tensor<4x27xf32>
// CHECK: %[[COLS:.*]] = ember.reshape %[[C]][%[[N]]] : tensor<?x3x9x16xf32> -> tensor<?x27x16xf32>
// CHECK: %[[Y:.*]] = ember.matmul %[[W]], %[[COLS]] : tensor<4x27xf32>, tensor<?x27x16xf32> -> tensor<?x4x16xf32>
// CHECK: %[[R:.*]] = ember.reshape %[[Y]][%[[N]]] : tensor<?x4x16xf32> -> tensor<?x4x4x4xf32>
// CHECK: return %[[R]]
func.func @conv2d(%x: tensor<?x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<?x4x4x4xf32> {
  %y = ember.conv %x, %w {strides = array<i64: 2, 2>, padding_low = array<i64: 1, 1>, padding_high = array<i64: 1, 1>, dilations = array<i64: 1, 1>, groups = 1 : i64} : tensor<?x3x8x8xf32>, tensor<4x3x3x3xf32> -> tensor<?x4x4x4xf32>
  return %y : tensor<?x4x4x4xf32>
}

// -----

// Grouped, dilated, unpadded 1-D: no zeros; the GEMM is batched over the
// groups, (G, O/G, C/G*K) x (N, G, C/G*K, L).
// CHECK-LABEL: func.func @grouped
// CHECK-NOT: ember.insert_slice
// CHECK: ember.slice %arg0 start = [0, 0, 2] stop = [9223372036854775807, 9223372036854775807, 8] step = [1, 1, 1]
// CHECK: ember.matmul %{{.*}}, %{{.*}} : tensor<2x3x6xf64>, tensor<2x2x6x6xf64> -> tensor<2x2x3x6xf64>
// CHECK: ember.reshape %{{.*}} : tensor<2x2x3x6xf64> -> tensor<2x6x6xf64>
func.func @grouped(%x: tensor<2x4x10xf64>, %w: tensor<6x2x3xf64>) -> tensor<2x6x6xf64> {
  %y = ember.conv %x, %w {strides = array<i64: 1>, padding_low = array<i64: 0>, padding_high = array<i64: 0>, dilations = array<i64: 2>, groups = 2 : i64} : tensor<2x4x10xf64>, tensor<6x2x3xf64> -> tensor<2x6x6xf64>
  return %y : tensor<2x6x6xf64>
}

// -----

func.func @dynamic_weight(%x: tensor<?x3x?xf32>, %w: tensor<4x3x?xf32>) -> tensor<?x4x?xf32> {
  // expected-error @+1 {{needs a static weight shape}}
  %y = ember.conv %x, %w {strides = array<i64: 1>, padding_low = array<i64: 0>, padding_high = array<i64: 0>, dilations = array<i64: 1>, groups = 1 : i64} : tensor<?x3x?xf32>, tensor<4x3x?xf32> -> tensor<?x4x?xf32>
  return %y : tensor<?x4x?xf32>
}

// -----

// Dynamic spatial sizes (a traced program's intermediate types): the
// padded size, the slices' stops and the column count are run-time values.
// CHECK-LABEL: func.func @dynamic_spatial
// CHECK: %[[W:.*]] = tensor.dim %arg0, %c2
// CHECK: %[[PW:.*]] = arith.addi %[[W]], %c2
// CHECK: ember.broadcast_to %{{.*}}[%{{.*}}, %[[PW]]] : tensor<f32> -> tensor<?x3x?xf32>
// CHECK: ember.insert_slice %{{.*}} into %{{.*}} start = [0, 0, 1] stop = [9223372036854775807, 9223372036854775807, %{{.*}}] step = [1, 1, 1]
// CHECK-COUNT-3: ember.slice %{{.*}} start = [0, 0, {{[0-2]}}] stop = [9223372036854775807, 9223372036854775807, %{{.*}}] step = [1, 1, 2]
// CHECK: ember.matmul %{{.*}}, %{{.*}} : tensor<4x9xf32>, tensor<?x9x?xf32> -> tensor<?x4x?xf32>
func.func @dynamic_spatial(%x: tensor<?x?x?xf32>, %w: tensor<4x3x3xf32>) -> tensor<?x4x?xf32> {
  %y = ember.conv %x, %w {strides = array<i64: 2>, padding_low = array<i64: 1>, padding_high = array<i64: 1>, dilations = array<i64: 1>, groups = 1 : i64} : tensor<?x?x?xf32>, tensor<4x3x3xf32> -> tensor<?x4x?xf32>
  return %y : tensor<?x4x?xf32>
}

// -----

// A traced program casts its static arguments to dynamic types: the pass
// reads through the casts and casts its static result back.
// CHECK-LABEL: func.func @through_casts
// CHECK: ember.matmul %{{.*}}, %{{.*}} : tensor<4x27xf32>, tensor<?x27x64xf32> -> tensor<?x4x64xf32>
// CHECK: %[[R:.*]] = tensor.cast %{{.*}} : tensor<?x4x8x8xf32> to tensor<?x?x?x?xf32>
// CHECK: return %[[R]]
func.func @through_casts(%x: tensor<?x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<?x?x?x?xf32> {
  %cx = tensor.cast %x : tensor<?x3x8x8xf32> to tensor<?x?x?x?xf32>
  %cw = tensor.cast %w : tensor<4x3x3x3xf32> to tensor<?x?x?x?xf32>
  %y = ember.conv %cx, %cw {strides = array<i64: 1, 1>, padding_low = array<i64: 1, 1>, padding_high = array<i64: 1, 1>, dilations = array<i64: 1, 1>, groups = 1 : i64} : tensor<?x?x?x?xf32>, tensor<?x?x?x?xf32> -> tensor<?x?x?x?xf32>
  return %y : tensor<?x?x?x?xf32>
}
