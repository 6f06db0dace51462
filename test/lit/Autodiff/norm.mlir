// RUN: ember-opt %s -ember-autodiff | FileCheck %s

// layer_norm: the input's gradient is the backward composite (it
// recomputes the row statistics); the weight's the column sum of
// g * layer_norm(x) (no affine), the bias's the column sum of g.

// CHECK-LABEL: func @layer_norm_vjp
// CHECK-SAME: (%[[X:.*]]: tensor<?x8xf32>, %[[W:.*]]: tensor<8xf32>, %[[B:.*]]: tensor<8xf32>, %[[G:.*]]: tensor<?x8xf32>)
// CHECK-DAG: %[[Y:.*]] = ember.layer_norm %[[X]] weight %[[W]] : tensor<8xf32> bias %[[B]] : tensor<8xf32> eps = 1.000000e-05 : tensor<?x8xf32>
// CHECK-DAG: %[[DX:.*]] = ember.layer_norm_backward %[[G]], %[[X]] weight %[[W]] : tensor<8xf32> eps = 1.000000e-05 : tensor<?x8xf32>
// CHECK-DAG: %[[XHAT:.*]] = ember.layer_norm %[[X]] eps = 1.000000e-05 : tensor<?x8xf32>
// CHECK-DAG: %[[GX:.*]] = ember.mul %[[G]], %[[XHAT]]
// CHECK-DAG: %[[DW:.*]] = ember.sum %[[GX]] dims = [0] : tensor<?x8xf32> -> tensor<8xf32>
// CHECK-DAG: %[[DB:.*]] = ember.sum %[[G]] dims = [0] : tensor<?x8xf32> -> tensor<8xf32>
// CHECK: return %[[Y]], %[[DX]], %[[DW]], %[[DB]]
func.func @layer_norm(%x: tensor<?x8xf32>, %w: tensor<8xf32>, %b: tensor<8xf32>) -> tensor<?x8xf32> {
  %0 = ember.layer_norm %x weight %w : tensor<8xf32> bias %b : tensor<8xf32> eps = 1.0e-05 : tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// rms_norm without weight: only the input's gradient.
// CHECK-LABEL: func @rms_norm_vjp
// CHECK-SAME: (%[[X:.*]]: tensor<2x3x?xf16>, %[[G:.*]]: tensor<2x3x?xf16>)
// CHECK: %[[DX:.*]] = ember.rms_norm_backward %[[G]], %[[X]] eps = 9.765625E-4 : tensor<2x3x?xf16>
// CHECK-NOT: ember.sum
// CHECK: return %{{.*}}, %[[DX]]
func.func @rms_norm(%x: tensor<2x3x?xf16>) -> tensor<2x3x?xf16> {
  %0 = ember.rms_norm %x eps = 9.765625E-4 : tensor<2x3x?xf16>
  return %0 : tensor<2x3x?xf16>
}
