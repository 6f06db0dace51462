// RUN: ember-opt %s -ember-strip-custom-vjp | FileCheck %s

// After autodiff, a custom_vjp only forwards the outputs it carries.

// CHECK-LABEL: func @strip
// CHECK-SAME: (%[[X:.*]]: tensor<?xf32>, %[[A:.*]]: tensor<?xf32>, %[[B:.*]]: tensor<?xi64>)
// CHECK-NOT: ember.custom_vjp
// CHECK: %[[S:.*]] = ember.add %[[A]], %[[A]]
// CHECK: return %[[S]], %[[B]]
func.func @strip(%x: tensor<?xf32>, %a: tensor<?xf32>, %b: tensor<?xi64>) -> (tensor<?xf32>, tensor<?xi64>) {
  %y:2 = ember.custom_vjp(%x, %a, %b) {num_primals = 1 : i64}
      : (tensor<?xf32>, tensor<?xf32>, tensor<?xi64>) -> (tensor<?xf32>, tensor<?xi64>) {
  ^bb0(%xa: tensor<?xf32>, %aa: tensor<?xf32>, %ba: tensor<?xi64>, %g: tensor<?xf32>, %h: tensor<?xi64>):
    ember.yield %g : tensor<?xf32>
  }
  %s = ember.add %y#0, %y#0 : tensor<?xf32>, tensor<?xf32> -> tensor<?xf32>
  return %s, %y#1 : tensor<?xf32>, tensor<?xi64>
}
