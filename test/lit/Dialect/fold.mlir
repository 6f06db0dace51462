// RUN: ember-opt %s -canonicalize | FileCheck %s
// Folders remove ops that do nothing and fold constant reshapes.

// CHECK-LABEL: func @identities
// CHECK-SAME: (%[[X:.*]]: tensor<2x3xf32>)
func.func @identities(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  // CHECK-NOT: ember.
  // CHECK: return %[[X]]
  %0 = ember.cast %x : tensor<2x3xf32> to tensor<2x3xf32>
  %1 = ember.transpose %0 perm = [0, 1] : tensor<2x3xf32> -> tensor<2x3xf32>
  %2 = ember.reshape %1 : tensor<2x3xf32> -> tensor<2x3xf32>
  %3 = ember.broadcast_to %2 : tensor<2x3xf32> -> tensor<2x3xf32>
  %4 = ember.slice %3 start = [0, -5] stop = [2, 100] step = [1, 1] : tensor<2x3xf32> -> tensor<2x3xf32>
  %5 = ember.concat %4 dim = 0 : tensor<2x3xf32> -> tensor<2x3xf32>
  return %5 : tensor<2x3xf32>
}

// CHECK-LABEL: func @reshape_chain
func.func @reshape_chain(%x: tensor<2x3xf32>) -> tensor<3x2xf32> {
  // CHECK: %[[R:.*]] = ember.reshape %{{.*}} : tensor<2x3xf32> -> tensor<3x2xf32>
  // CHECK-NEXT: return %[[R]]
  %0 = ember.reshape %x : tensor<2x3xf32> -> tensor<6xf32>
  %1 = ember.reshape %0 : tensor<6xf32> -> tensor<3x2xf32>
  return %1 : tensor<3x2xf32>
}

// CHECK-LABEL: func @constants
func.func @constants() -> (tensor<2x2xf32>, tensor<3x2xf32>) {
  // CHECK-DAG: ember.constant dense<{{\[\[}}1.000000e+00, 2.000000e+00], [3.000000e+00, 4.000000e+00]]> : tensor<2x2xf32>
  // CHECK-DAG: ember.constant dense<7.000000e+00> : tensor<3x2xf32>
  %c = ember.constant dense<[1.0, 2.0, 3.0, 4.0]> : tensor<4xf32>
  %0 = ember.reshape %c : tensor<4xf32> -> tensor<2x2xf32>
  %s = ember.constant dense<7.0> : tensor<2xf32>
  %1 = ember.broadcast_to %s : tensor<2xf32> -> tensor<3x2xf32>
  return %0, %1 : tensor<2x2xf32>, tensor<3x2xf32>
}

// A reshape of a reshape reads the first one's input: its groups described
// the dims in between, so they go, unless the first kept every dim.
// CHECK-LABEL: func @reshape_chain_groups
func.func @reshape_chain_groups(%x: tensor<2x3xf32>) -> (tensor<3x2xf32>, tensor<6xf32>) {
  // CHECK: ember.reshape %{{.*}} : tensor<2x3xf32> -> tensor<3x2xf32>
  // CHECK: ember.reshape %{{.*}} {groups = array<i64: 2, 1>} : tensor<2x3xf32> -> tensor<6xf32>
  %0 = ember.reshape %x {groups = array<i64: 2, 1>} : tensor<2x3xf32> -> tensor<6xf32>
  %1 = ember.reshape %0 {groups = array<i64: 1, 2>} : tensor<6xf32> -> tensor<3x2xf32>
  %2 = ember.reshape %x {groups = array<i64: 1, 1, 1, 1>} : tensor<2x3xf32> -> tensor<2x3xf32>
  %3 = ember.reshape %2 {groups = array<i64: 2, 1>} : tensor<2x3xf32> -> tensor<6xf32>
  return %1, %3 : tensor<3x2xf32>, tensor<6xf32>
}
