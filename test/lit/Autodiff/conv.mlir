// RUN: ember-opt %s -ember-autodiff | FileCheck %s

// conv: the input's gradient is conv_backward_data of the cotangent with
// the weight (sizes: the input's spatial dims), the weight's is
// conv_backward_weight of the input and the cotangent (sizes: the
// kernel's); both keep the forward's attributes.
// CHECK-LABEL: func.func @conv_vjp
// CHECK-SAME: (%[[X:.*]]: tensor<?x?x?x?xf32>, %[[W:.*]]: tensor<?x?x3x3xf32>, %[[G:.*]]: tensor<?x?x?x?xf32>)
// CHECK: %[[Y:.*]] = ember.conv %[[X]], %[[W]]
// CHECK-DAG: %[[XH:.*]] = tensor.dim %[[X]], %c2
// CHECK-DAG: %[[XW:.*]] = tensor.dim %[[X]], %c3
// CHECK: %[[DX:.*]] = ember.conv_backward_data %[[G]], %[[W]] sizes(%[[XH]], %[[XW]]) {dilations = array<i64: 1, 2>, groups = 2 : i64, padding_high = array<i64: 1, 0>, padding_low = array<i64: 0, 1>, strides = array<i64: 2, 1>}
// CHECK: %[[DW:.*]] = ember.conv_backward_weight %[[X]], %[[G]] sizes(%{{.*}}, %{{.*}}) {dilations = array<i64: 1, 2>, groups = 2 : i64, padding_high = array<i64: 1, 0>, padding_low = array<i64: 0, 1>, strides = array<i64: 2, 1>}
// CHECK: return %[[Y]], %[[DX]], %[[DW]]
func.func @conv(%x: tensor<?x?x?x?xf32>, %w: tensor<?x?x3x3xf32>) -> tensor<?x?x?x?xf32> {
  %y = ember.conv %x, %w {strides = array<i64: 2, 1>, padding_low = array<i64: 0, 1>, padding_high = array<i64: 1, 0>, dilations = array<i64: 1, 2>, groups = 2 : i64} : tensor<?x?x?x?xf32>, tensor<?x?x3x3xf32> -> tensor<?x?x?x?xf32>
  return %y : tensor<?x?x?x?xf32>
}

// conv_backward_data (a transposed convolution): the cotangent's
// convolution with the weight for its operand, conv_backward_weight of the
// cotangent and the operand for the weight; the sizes get no gradient.
// CHECK-LABEL: func.func @transposed_vjp
// CHECK-SAME: (%[[G:.*]]: tensor<?x?x?xf32>, %[[W:.*]]: tensor<?x?x?xf32>, %[[N:.*]]: index, %[[C:.*]]: tensor<?x?x?xf32>)
// CHECK: %[[Y:.*]] = ember.conv_backward_data %[[G]], %[[W]] sizes(%[[N]])
// CHECK: %[[DG:.*]] = ember.conv %[[C]], %[[W]]
// CHECK: %[[DW:.*]] = ember.conv_backward_weight %[[C]], %[[G]]
// CHECK: return %[[Y]], %[[DG]], %[[DW]]
func.func @transposed(%g: tensor<?x?x?xf32>, %w: tensor<?x?x?xf32>, %n: index) -> tensor<?x?x?xf32> {
  %y = ember.conv_backward_data %g, %w sizes(%n) {strides = array<i64: 2>, padding_low = array<i64: 1>, padding_high = array<i64: 1>, dilations = array<i64: 1>, groups = 1 : i64} : tensor<?x?x?xf32>, tensor<?x?x?xf32> -> tensor<?x?x?xf32>
  return %y : tensor<?x?x?xf32>
}

// conv_backward_weight: conv_backward_data of the cotangent (a weight) for
// the input, the input's convolution with the cotangent for the gradient.
// CHECK-LABEL: func.func @weight_vjp
// CHECK-SAME: (%[[X:.*]]: tensor<?x?x?xf32>, %[[G:.*]]: tensor<?x?x?xf32>, %[[K:.*]]: index, %[[C:.*]]: tensor<?x?x?xf32>)
// CHECK: %[[Y:.*]] = ember.conv_backward_weight %[[X]], %[[G]] sizes(%[[K]])
// CHECK: %[[DX:.*]] = ember.conv_backward_data %[[G]], %[[C]]
// CHECK: %[[DG:.*]] = ember.conv %[[X]], %[[C]]
// CHECK: return %[[Y]], %[[DX]], %[[DG]]
func.func @weight(%x: tensor<?x?x?xf32>, %g: tensor<?x?x?xf32>, %k: index) -> tensor<?x?x?xf32> {
  %y = ember.conv_backward_weight %x, %g sizes(%k) {strides = array<i64: 1>, padding_low = array<i64: 0>, padding_high = array<i64: 0>, dilations = array<i64: 1>, groups = 1 : i64} : tensor<?x?x?xf32>, tensor<?x?x?xf32> -> tensor<?x?x?xf32>
  return %y : tensor<?x?x?xf32>
}
