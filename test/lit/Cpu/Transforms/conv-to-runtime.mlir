// RUN: ember-opt %s -ember-conv-to-runtime | FileCheck %s

// f32 convolutions call the runtime's kernels on 5-D views: unit spatial
// dims in front (an expand_shape joining C's group), operands read-only,
// the result a fresh 5-D buffer collapsed back; stride, low padding and
// dilation per dim (1, 0, 1 for the unit dims) and groups as i64 scalars.
// f64 is left alone.

// CHECK-DAG: func.func private @ember_cpu_conv_f32(memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64)
// CHECK-DAG: func.func private @ember_cpu_conv_backward_data_f32(
// CHECK-DAG: func.func private @ember_cpu_conv_backward_weight_f32(

// CHECK-LABEL: func.func @conv2d
// CHECK: %[[X5:.*]] = tensor.expand_shape %arg0 {{\[\[}}0], [1, 2], [3], [4]] output_shape [%{{.*}}, %{{.*}}, 1, %{{.*}}, %{{.*}}] : tensor<?x?x?x?xf32> into tensor<?x?x1x?x?xf32>
// CHECK: %[[XB:.*]] = bufferization.to_buffer %[[X5]] read_only
// CHECK: %[[XC:.*]] = memref.cast %[[XB]]
// CHECK: call @ember_cpu_conv_f32(%[[XC]], %{{.*}}, %{{.*}}, %[[ONE:.*]], %{{.*}}, %{{.*}}, %[[ZERO:.*]], %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}})
// CHECK: %[[R:.*]] = tensor.collapse_shape %{{.*}} {{\[\[}}0], [1, 2], [3], [4]] : tensor<?x?x1x?x?xf32> into tensor<?x?x?x?xf32>
// CHECK: return %[[R]]
func.func @conv2d(%x: tensor<?x?x?x?xf32>, %w: tensor<?x?x3x3xf32>) -> tensor<?x?x?x?xf32> {
  %y = ember.conv %x, %w {strides = array<i64: 2, 1>, padding_low = array<i64: 0, 1>, padding_high = array<i64: 1, 0>, dilations = array<i64: 1, 2>, groups = 2 : i64} : tensor<?x?x?x?xf32>, tensor<?x?x3x3xf32> -> tensor<?x?x?x?xf32>
  return %y : tensor<?x?x?x?xf32>
}

// The gradients: the result's sizes from the cotangent, the weight and the
// sizes operands (conv_backward_data's channels = weight dim 1 x groups).
// CHECK-LABEL: func.func @gradients
// CHECK: %[[C:.*]] = tensor.dim %arg1, %c1
// CHECK: %[[CG:.*]] = arith.muli %[[C]], %c2
// CHECK: memref.alloc(%{{.*}}, %[[CG]], %arg3) : memref<?x?x1x1x?xf32>
// CHECK: call @ember_cpu_conv_backward_data_f32(
// CHECK: call @ember_cpu_conv_backward_weight_f32(
// CHECK: tensor.collapse_shape %{{.*}} {{\[\[}}0], [1, 2, 3], [4]] : tensor<?x?x1x1x?xf32> into tensor<?x?x?xf32>
func.func @gradients(%g: tensor<?x?x?xf32>, %w: tensor<?x?x?xf32>, %x: tensor<?x?x?xf32>, %n: index, %k: index) -> (tensor<?x?x?xf32>, tensor<?x?x?xf32>) {
  %dx = ember.conv_backward_data %g, %w sizes(%n) {strides = array<i64: 2>, padding_low = array<i64: 1>, padding_high = array<i64: 1>, dilations = array<i64: 1>, groups = 2 : i64} : tensor<?x?x?xf32>, tensor<?x?x?xf32> -> tensor<?x?x?xf32>
  %dw = ember.conv_backward_weight %x, %g sizes(%k) {strides = array<i64: 2>, padding_low = array<i64: 1>, padding_high = array<i64: 1>, dilations = array<i64: 1>, groups = 2 : i64} : tensor<?x?x?xf32>, tensor<?x?x?xf32> -> tensor<?x?x?xf32>
  return %dx, %dw : tensor<?x?x?xf32>, tensor<?x?x?xf32>
}

// CHECK-LABEL: func.func @f64
// CHECK: ember.conv
// CHECK-NOT: call
func.func @f64(%x: tensor<2x3x8xf64>, %w: tensor<4x3x3xf64>) -> tensor<2x4x6xf64> {
  %y = ember.conv %x, %w {strides = array<i64: 1>, padding_low = array<i64: 0>, padding_high = array<i64: 0>, dilations = array<i64: 1>, groups = 1 : i64} : tensor<2x3x8xf64>, tensor<4x3x3xf64> -> tensor<2x4x6xf64>
  return %y : tensor<2x4x6xf64>
}
