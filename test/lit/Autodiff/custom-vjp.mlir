// RUN: ember-opt %s -ember-autodiff | FileCheck %s

// custom_vjp's VJP is its region, inlined with the real cotangent: the
// gradient is what the backward computes (here 3 * g, not exp's derivative),
// and a saved forward output reads the op's result.

// CHECK-LABEL: func @wrong_on_purpose_vjp
// CHECK-SAME: (%[[X:.*]]: tensor<?xf32>, %[[G:.*]]: tensor<?xf32>)
// CHECK: %[[THREE:.*]] = ember.constant dense<3.000000e+00>
// CHECK: %[[Y0:.*]] = ember.exp %[[X]]
// CHECK: %[[Y:.*]] = ember.custom_vjp(%[[X]], %[[Y0]])
// CHECK: ember.yield
// CHECK: %[[D:.*]] = ember.mul %[[G]], %[[THREE]]
// CHECK-NOT: ember.exp
// CHECK: return %[[Y]], %[[D]]
func.func @wrong_on_purpose(%x: tensor<?xf32>) -> tensor<?xf32> {
  %y0 = ember.exp %x : tensor<?xf32>
  %y = ember.custom_vjp(%x, %y0) {num_primals = 1 : i64}
      : (tensor<?xf32>, tensor<?xf32>) -> tensor<?xf32> {
  ^bb0(%xa: tensor<?xf32>, %ya: tensor<?xf32>, %g: tensor<?xf32>):
    %c = ember.constant dense<3.0> : tensor<f32>
    %d = ember.mul %g, %c : tensor<?xf32>, tensor<f32> -> tensor<?xf32>
    ember.yield %d : tensor<?xf32>
  }
  return %y : tensor<?xf32>
}

// The saved output (region argument #1) becomes the op's result.
// CHECK-LABEL: func @saved_output_vjp
// CHECK-SAME: (%[[X:.*]]: tensor<?xf32>, %[[G:.*]]: tensor<?xf32>)
// CHECK: %[[Y:.*]] = ember.custom_vjp
// CHECK: %[[D:.*]] = ember.mul %[[G]], %[[Y]]
// CHECK: return %{{.*}}, %[[D]]
func.func @saved_output(%x: tensor<?xf32>) -> tensor<?xf32> {
  %y0 = ember.exp %x : tensor<?xf32>
  %y = ember.custom_vjp(%x, %y0) {num_primals = 1 : i64}
      : (tensor<?xf32>, tensor<?xf32>) -> tensor<?xf32> {
  ^bb0(%xa: tensor<?xf32>, %ya: tensor<?xf32>, %g: tensor<?xf32>):
    %d = ember.mul %g, %ya : tensor<?xf32>, tensor<?xf32> -> tensor<?xf32>
    ember.yield %d : tensor<?xf32>
  }
  return %y : tensor<?xf32>
}
