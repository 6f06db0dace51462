// RUN: ember-opt %s | ember-opt | FileCheck %s

// custom_vjp round-trips: operands (primals, forward outputs, captures), the
// backward region with one argument per operand and per cotangent.

// CHECK-LABEL: func @exp_like
// CHECK: %[[Y:.*]] = ember.custom_vjp(%arg0, %arg1, %arg2) {num_primals = 1 : i64} : (tensor<?xf32>, tensor<?xf32>, tensor<2xi64>) -> tensor<?xf32>
// CHECK: ^bb0(%{{.*}}: tensor<?xf32>, %[[YA:.*]]: tensor<?xf32>, %{{.*}}: tensor<2xi64>, %[[G:.*]]: tensor<?xf32>):
// CHECK: %[[D:.*]] = ember.mul %[[G]], %[[YA]]
// CHECK: ember.yield %[[D]] : tensor<?xf32>
// CHECK: return %[[Y]]
func.func @exp_like(%x: tensor<?xf32>, %y0: tensor<?xf32>, %sizes: tensor<2xi64>) -> tensor<?xf32> {
  %y = ember.custom_vjp(%x, %y0, %sizes) {num_primals = 1 : i64}
      : (tensor<?xf32>, tensor<?xf32>, tensor<2xi64>) -> tensor<?xf32> {
  ^bb0(%xa: tensor<?xf32>, %ya: tensor<?xf32>, %s: tensor<2xi64>, %g: tensor<?xf32>):
    %d = ember.mul %g, %ya : tensor<?xf32>, tensor<?xf32> -> tensor<?xf32>
    ember.yield %d : tensor<?xf32>
  }
  return %y : tensor<?xf32>
}
