// RUN: ember-opt %s -ember-autodiff | FileCheck %s

// gather's VJP scatters the cotangent into zeros (repeated indices
// accumulate); scatter_add's VJP gathers it back. Indices get no gradient.

// CHECK-LABEL: func @gather_vjp
// CHECK-SAME: (%[[X:.*]]: tensor<?x8xf32>, %[[I:.*]]: tensor<2x3xi64>, %[[G:.*]]: tensor<?x2x3xf32>) -> (tensor<?x2x3xf32>, tensor<?x8xf32>)
// CHECK: %[[Z:.*]] = ember.broadcast_to %{{.*}} : tensor<f32> -> tensor<?x8xf32>
// CHECK: %[[D:.*]] = ember.scatter_add %[[Z]], %[[I]], %[[G]] dim = 1 : tensor<?x8xf32>, tensor<2x3xi64>, tensor<?x2x3xf32>
// CHECK: return %{{.*}}, %[[D]]
func.func @gather(%x: tensor<?x8xf32>, %i: tensor<2x3xi64>) -> tensor<?x2x3xf32> {
  %0 = ember.gather %x, %i dim = 1 : tensor<?x8xf32>, tensor<2x3xi64> -> tensor<?x2x3xf32>
  return %0 : tensor<?x2x3xf32>
}

// CHECK-LABEL: func @scatter_vjp
// CHECK-SAME: (%{{.*}}: tensor<?x8xf32>, %[[I:.*]]: tensor<2x3xi64>, %{{.*}}: tensor<?x2x3xf32>, %[[G:.*]]: tensor<?x8xf32>) -> (tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x2x3xf32>)
// CHECK: %[[U:.*]] = ember.gather %[[G]], %[[I]] dim = 1
// CHECK: return %{{.*}}, %[[G]], %[[U]]
func.func @scatter(%d: tensor<?x8xf32>, %i: tensor<2x3xi64>, %u: tensor<?x2x3xf32>) -> tensor<?x8xf32> {
  %0 = ember.scatter_add %d, %i, %u dim = 1 : tensor<?x8xf32>, tensor<2x3xi64>, tensor<?x2x3xf32>
  return %0 : tensor<?x8xf32>
}
