// RUN: ember-opt %s -ember-autodiff | FileCheck %s
// RUN: ember-opt %s -ember-autodiff="func=two_results wrt=1,2" | FileCheck %s --check-prefix=WRT
// RUN: ember-opt %s -ember-autodiff -ember-autodiff | FileCheck %s --check-prefix=SECOND
// RUN: ember-opt %s -ember-autodiff="func=fanout recompute=true" | FileCheck %s --check-prefix=RECOMPUTE

// %0 = exp(x) has two users: its cotangents are summed with ember.add, and
// x's three contributions too.
// CHECK-LABEL: func @fanout_vjp
// CHECK-SAME: (%[[X:[a-z0-9]+]]: tensor<?xf32>, %[[G:[a-z0-9]+]]: tensor<?xf32>) -> (tensor<?xf32>, tensor<?xf32>)
// CHECK: %[[E:.*]] = ember.exp %[[X]]
// CHECK: %[[GE:.*]] = ember.mul %[[G]], %[[E]]
// CHECK: %[[GX:.*]] = ember.mul %[[G]], %[[X]]
// CHECK: %[[CE:.*]] = ember.add %[[G]], %[[GX]]
// CHECK: %[[DE:.*]] = ember.mul %[[CE]], %[[E]]
// CHECK: %[[DX:.*]] = ember.add %[[GE]], %[[DE]]
// CHECK: return %{{.*}}, %[[DX]]
func.func @fanout(%x: tensor<?xf32>) -> tensor<?xf32> {
  %0 = ember.exp %x : tensor<?xf32>
  %1 = ember.mul %0, %x : tensor<?xf32>, tensor<?xf32> -> tensor<?xf32>
  %2 = ember.add %1, %0 : tensor<?xf32>, tensor<?xf32> -> tensor<?xf32>
  return %2 : tensor<?xf32>
}

// One cotangent per result; an argument that does not reach the results
// gets zeros of its (dynamic) shape.
// CHECK-LABEL: func @two_results_vjp
// CHECK-SAME: (%[[X:[a-z0-9]+]]: tensor<4xf32>, %[[Y:[a-z0-9]+]]: tensor<4xf32>, %[[U:[a-z0-9]+]]: tensor<?x3xf32>, %[[G0:[a-z0-9]+]]: tensor<4xf32>, %[[G1:[a-z0-9]+]]: tensor<4xf32>)
// CHECK-SAME: -> (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<?x3xf32>)
// CHECK-DAG: %[[ZERO:.*]] = ember.constant dense<0.000000e+00> : tensor<f32>
// CHECK-DAG: %[[DY:.*]] = ember.mul %[[G0]], %[[X]]
// CHECK-DAG: %[[DXMUL:.*]] = ember.mul %[[G0]], %[[Y]]
// CHECK: %[[DX:.*]] = ember.add %{{.*}}, %[[DXMUL]]
// CHECK: %[[N:.*]] = tensor.dim %[[U]], %c0
// CHECK: %[[DU:.*]] = ember.broadcast_to %[[ZERO]][%[[N]]] : tensor<f32> -> tensor<?x3xf32>
// CHECK: return %{{.*}}, %{{.*}}, %[[DX]], %[[DY]], %[[DU]]
func.func @two_results(%x: tensor<4xf32>, %y: tensor<4xf32>, %unused: tensor<?x3xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  %0 = ember.mul %x, %y : tensor<4xf32>, tensor<4xf32> -> tensor<4xf32>
  %1 = ember.tanh %x : tensor<4xf32>
  return %0, %1 : tensor<4xf32>, tensor<4xf32>
}

// Private functions are left alone by default.
// CHECK-NOT: func @helper_vjp
func.func private @helper(%x: tensor<4xf32>) -> tensor<4xf32> {
  return %x : tensor<4xf32>
}

// wrt=1,2: only y and the unused argument; tanh's rule is not needed.
// WRT-NOT: func.func @fanout_vjp
// WRT-LABEL: func @two_results_vjp
// WRT-SAME: -> (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<?x3xf32>)
// WRT: ember.tanh
// WRT-NOT: ember.sub
// WRT: %[[DY:.*]] = ember.mul
// WRT: %[[DU:.*]] = ember.broadcast_to
// WRT: return %{{.*}}, %{{.*}}, %[[DY]], %[[DU]]

// Running the pass again differentiates each VJP function: second order.
// SECOND-LABEL: func @fanout_vjp_vjp
// SECOND-SAME: (%{{.*}}: tensor<?xf32>, %{{.*}}: tensor<?xf32>, %{{.*}}: tensor<?xf32>, %{{.*}}: tensor<?xf32>) -> (tensor<?xf32>, tensor<?xf32>, tensor<?xf32>, tensor<?xf32>)
// SECOND-LABEL: func @two_results_vjp_vjp
// SECOND-NOT: func @fanout_vjp_vjp_vjp

// recompute=true: the backward computes exp(x) again before each rule that
// reads it instead of reusing the forward's value.
// RECOMPUTE-LABEL: func @fanout_vjp
// RECOMPUTE: %[[E:.*]] = ember.exp
// RECOMPUTE: ember.add
// RECOMPUTE: %[[E2:.*]] = ember.exp
// RECOMPUTE: ember.mul %{{.*}}, %[[E2]]
// RECOMPUTE: %[[E3:.*]] = ember.exp
// RECOMPUTE: ember.mul %{{.*}}, %[[E3]]
