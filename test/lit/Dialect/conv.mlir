// RUN: ember-opt %s | ember-opt | FileCheck %s
// ember.conv and its two gradients parse and print (1 to 3 spatial dims,
// dynamic sizes, asymmetric padding, groups).

// CHECK-LABEL: func.func @conv2d
// CHECK: ember.conv %arg0, %arg1 {dilations = array<i64: 1, 2>, groups = 2 : i64, padding_high = array<i64: 1, 0>, padding_low = array<i64: 0, 1>, strides = array<i64: 2, 1>} : tensor<?x?x?x?xf32>, tensor<?x?x3x3xf32> -> tensor<?x?x?x?xf32>
func.func @conv2d(%x: tensor<?x?x?x?xf32>, %w: tensor<?x?x3x3xf32>) -> tensor<?x?x?x?xf32> {
  %y = ember.conv %x, %w {strides = array<i64: 2, 1>, padding_low = array<i64: 0, 1>, padding_high = array<i64: 1, 0>, dilations = array<i64: 1, 2>, groups = 2 : i64} : tensor<?x?x?x?xf32>, tensor<?x?x3x3xf32> -> tensor<?x?x?x?xf32>
  return %y : tensor<?x?x?x?xf32>
}

// CHECK-LABEL: func.func @gradients
// CHECK: ember.conv_backward_data %arg0, %arg1 sizes(%arg3) {{.*}} : tensor<2x4x5xf64>, tensor<4x3x3xf64> -> tensor<2x3x?xf64>
// CHECK: ember.conv_backward_weight %arg2, %arg0 sizes(%arg4) {{.*}} : tensor<2x3x7xf64>, tensor<2x4x5xf64> -> tensor<4x3x?xf64>
func.func @gradients(%g: tensor<2x4x5xf64>, %w: tensor<4x3x3xf64>, %x: tensor<2x3x7xf64>, %n: index, %k: index) -> (tensor<2x3x?xf64>, tensor<4x3x?xf64>) {
  %dx = ember.conv_backward_data %g, %w sizes(%n) {strides = array<i64: 1>, padding_low = array<i64: 0>, padding_high = array<i64: 0>, dilations = array<i64: 1>, groups = 1 : i64} : tensor<2x4x5xf64>, tensor<4x3x3xf64> -> tensor<2x3x?xf64>
  %dw = ember.conv_backward_weight %x, %g sizes(%k) {strides = array<i64: 1>, padding_low = array<i64: 0>, padding_high = array<i64: 0>, dilations = array<i64: 1>, groups = 1 : i64} : tensor<2x3x7xf64>, tensor<2x4x5xf64> -> tensor<4x3x?xf64>
  return %dx, %dw : tensor<2x3x?xf64>, tensor<4x3x?xf64>
}
