// RUN: ember-opt %s -ember-autodiff | FileCheck %s

// all_reduce sum: every rank's input gets the sum over ranks of the
// cotangents, i.e. the same all_reduce of the cotangent (avg likewise).
// CHECK-LABEL: func.func @sum_vjp
// CHECK-SAME: (%[[X:.*]]: tensor<?x4xf32>, %[[C:.*]]: tensor<?x4xf32>)
// CHECK: %[[Y:.*]] = ember.all_reduce %[[X]] {group = 2 : i64, reduce_op = 0 : i64}
// CHECK: %[[DX:.*]] = ember.all_reduce %[[C]] {group = 2 : i64, reduce_op = 0 : i64}
// CHECK: return %[[Y]], %[[DX]]
func.func @sum(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %y = ember.all_reduce %x {reduce_op = 0 : i64, group = 2 : i64} : tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}

// CHECK-LABEL: func.func @avg_vjp
// CHECK: ember.all_reduce %{{.*}} {group = 0 : i64, reduce_op = 1 : i64}
// CHECK: ember.all_reduce %{{.*}} {group = 0 : i64, reduce_op = 1 : i64}
func.func @avg(%x: tensor<3xf64>) -> tensor<3xf64> {
  %y = ember.all_reduce %x {reduce_op = 1 : i64, group = 0 : i64} : tensor<3xf64>
  return %y : tensor<3xf64>
}
