// RUN: ember-opt %s -convert-ember-to-linalg -ember-fuse-elementwise | FileCheck %s

// The 5-op chain becomes one loop nest.
// CHECK-LABEL: func @chain
func.func @chain(%a: tensor<?xf32>, %b: tensor<?xf32>, %c: tensor<?xf32>, %d: tensor<?xf32>) -> tensor<?xf32> {
  // CHECK-COUNT-1: linalg.generic
  // CHECK-NOT: linalg.generic
  %0 = ember.mul %a, %b : tensor<?xf32>, tensor<?xf32> -> tensor<?xf32>
  %1 = ember.add %0, %c : tensor<?xf32>, tensor<?xf32> -> tensor<?xf32>
  %2 = ember.sigmoid %1 : tensor<?xf32>
  %3 = ember.mul %2, %d : tensor<?xf32>, tensor<?xf32> -> tensor<?xf32>
  %4 = ember.sub %3, %a : tensor<?xf32>, tensor<?xf32> -> tensor<?xf32>
  return %4 : tensor<?xf32>
}

// A value with two users is not fused (it would be computed twice).
// CHECK-LABEL: func @shared
func.func @shared(%a: tensor<?xf32>) -> (tensor<?xf32>, tensor<?xf32>) {
  // CHECK: math.exp
  // CHECK: linalg.generic
  // CHECK: linalg.generic
  // CHECK-NOT: math.exp
  %0 = ember.exp %a : tensor<?xf32>
  %1 = ember.neg %0 : tensor<?xf32>
  %2 = ember.abs %0 : tensor<?xf32>
  return %1, %2 : tensor<?xf32>, tensor<?xf32>
}
