// RUN: ember-opt %s -ember-autodiff | FileCheck %s

// softmax: y (g - sum(g y)); log_softmax: g - exp(y) sum(g); both along dim.

// CHECK-LABEL: func @softmax_vjp
// CHECK-SAME: (%[[X:.*]]: tensor<?x8xf32>, %[[G:.*]]: tensor<?x8xf32>)
// CHECK: %[[Y:.*]] = ember.softmax %[[X]] dim = 1
// CHECK: %[[GY:.*]] = ember.mul %[[G]], %[[Y]]
// CHECK: %[[S:.*]] = ember.sum %[[GY]] dims = [1] keepdim : tensor<?x8xf32> -> tensor<?x1xf32>
// CHECK: %[[C:.*]] = ember.sub %[[G]], %[[S]]
// CHECK: %[[D:.*]] = ember.mul %[[Y]], %[[C]]
// CHECK: return %[[Y]], %[[D]]
func.func @softmax(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %0 = ember.softmax %x dim = 1 : tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// CHECK-LABEL: func @log_softmax_vjp
// CHECK-SAME: (%[[X:.*]]: tensor<4x?xf32>, %[[G:.*]]: tensor<4x?xf32>)
// CHECK: %[[Y:.*]] = ember.log_softmax %[[X]] dim = 0
// CHECK: %[[S:.*]] = ember.sum %[[G]] dims = [0] keepdim : tensor<4x?xf32> -> tensor<1x?xf32>
// CHECK: %[[P:.*]] = ember.exp %[[Y]]
// CHECK: %[[M:.*]] = ember.mul %[[P]], %[[S]]
// CHECK: %[[D:.*]] = ember.sub %[[G]], %[[M]]
// CHECK: return %[[Y]], %[[D]]
func.func @log_softmax(%x: tensor<4x?xf32>) -> tensor<4x?xf32> {
  %0 = ember.log_softmax %x dim = 0 : tensor<4x?xf32>
  return %0 : tensor<4x?xf32>
}
