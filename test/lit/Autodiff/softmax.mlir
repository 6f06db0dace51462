// RUN: ember-opt %s -ember-autodiff | FileCheck %s

// softmax and log_softmax: one backward composite each (on the CPU a row
// pass, elsewhere primitives: y (g - sum(g y)), g - exp(y) sum(g)).

// CHECK-LABEL: func @softmax_vjp
// CHECK-SAME: (%[[X:.*]]: tensor<?x8xf32>, %[[G:.*]]: tensor<?x8xf32>)
// CHECK: %[[Y:.*]] = ember.softmax %[[X]] dim = 1
// CHECK: %[[D:.*]] = ember.softmax_backward %[[G]], %[[Y]] dim = 1 : tensor<?x8xf32>
// CHECK: return %[[Y]], %[[D]]
func.func @softmax(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %0 = ember.softmax %x dim = 1 : tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// CHECK-LABEL: func @log_softmax_vjp
// CHECK-SAME: (%[[X:.*]]: tensor<4x?xf32>, %[[G:.*]]: tensor<4x?xf32>)
// CHECK: %[[Y:.*]] = ember.log_softmax %[[X]] dim = 0
// CHECK: %[[D:.*]] = ember.log_softmax_backward %[[G]], %[[Y]] dim = 0 : tensor<4x?xf32>
// CHECK: return %[[Y]], %[[D]]
func.func @log_softmax(%x: tensor<4x?xf32>) -> tensor<4x?xf32> {
  %0 = ember.log_softmax %x dim = 0 : tensor<4x?xf32>
  return %0 : tensor<4x?xf32>
}

// cross_entropy_rows: the logits' gradient is one backward composite that
// recomputes the row's softmax from the logits; the targets get none.
// CHECK-LABEL: func @cross_entropy_rows_vjp
// CHECK-SAME: (%[[X:.*]]: tensor<?x10xf32>, %[[T:.*]]: tensor<?xi64>, %[[G:.*]]: tensor<?xf32>)
// CHECK: %[[L:.*]] = ember.cross_entropy_rows %[[X]], %[[T]] ignore_index = -100
// CHECK: %[[D:.*]] = ember.cross_entropy_rows_backward %[[G]], %[[X]], %[[T]] ignore_index = -100 : tensor<?xf32>, tensor<?x10xf32>, tensor<?xi64>
// CHECK: return %[[L]], %[[D]]
func.func @cross_entropy_rows(%x: tensor<?x10xf32>, %t: tensor<?xi64>) -> tensor<?xf32> {
  %0 = ember.cross_entropy_rows %x, %t ignore_index = -100 : tensor<?x10xf32>, tensor<?xi64> -> tensor<?xf32>
  return %0 : tensor<?xf32>
}
