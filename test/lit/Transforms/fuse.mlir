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

// A slice of a value only the slice reads: the producer is computed on the
// slice of its input, fused with the slice's consumer (one loop nest, the
// input read in place).
// CHECK-LABEL: func @slice_of_producer
// CHECK-SAME: (%[[A:[^:]*]]: tensor<?x?xf32>
func.func @slice_of_producer(%a: tensor<?x?xf32>, %i: index, %j: index) -> tensor<?x?xf32> {
  // CHECK: %[[PART:.*]] = tensor.extract_slice %[[A]]
  // CHECK: linalg.generic {{.*}} ins(%[[PART]] : tensor<?x?xf32>)
  // CHECK: math.exp
  // CHECK: arith.mulf
  // CHECK-NOT: linalg.generic
  %0 = ember.exp %a : tensor<?x?xf32>
  %1 = ember.slice %0 start = [%i, 0] stop = [%j, 9223372036854775807] step = [1, 1] : tensor<?x?xf32> -> tensor<?x?xf32>
  %2 = ember.mul %1, %1 : tensor<?x?xf32>, tensor<?x?xf32> -> tensor<?x?xf32>
  return %2 : tensor<?x?xf32>
}

// Two slices of one transpose each read their part of the input in place
// (both fused into the add);
// two slices of one exp share the exp (computing it per slice could
// duplicate work).
// CHECK-LABEL: func @slices_of_shared
// CHECK-SAME: (%[[A:[^:]*]]: tensor<?x?xf32>
func.func @slices_of_shared(%a: tensor<?x?xf32>, %i: index, %j: index) -> (tensor<?x?xf32>, tensor<?x?xf32>, tensor<?x?xf32>) {
  // CHECK: %[[P:.*]] = tensor.extract_slice %[[A]]
  // CHECK: %[[Q:.*]] = tensor.extract_slice %[[A]]
  // CHECK: linalg.generic {{.*}} ins(%[[P]], %[[Q]] : tensor<?x?xf32>, tensor<?x?xf32>)
  // CHECK: arith.addf
  // CHECK: %[[E:.*]] = linalg.generic {{.*}} ins(%[[A]] : tensor<?x?xf32>)
  // CHECK: math.exp
  // CHECK: tensor.extract_slice %[[E]]
  // CHECK: tensor.extract_slice %[[E]]
  %t = ember.transpose %a perm = [1, 0] : tensor<?x?xf32> -> tensor<?x?xf32>
  %0 = ember.slice %t start = [0, %i] stop = [9223372036854775807, %j] step = [1, 1] : tensor<?x?xf32> -> tensor<?x?xf32>
  %1 = ember.slice %t start = [0, %j] stop = [9223372036854775807, 9223372036854775807] step = [1, 1] : tensor<?x?xf32> -> tensor<?x?xf32>
  %2 = ember.add %0, %1 : tensor<?x?xf32>, tensor<?x?xf32> -> tensor<?x?xf32>
  %e = ember.exp %a : tensor<?x?xf32>
  %3 = ember.slice %e start = [%i, 0] stop = [%j, 9223372036854775807] step = [1, 1] : tensor<?x?xf32> -> tensor<?x?xf32>
  %4 = ember.slice %e start = [0, 0] stop = [%i, 9223372036854775807] step = [1, 1] : tensor<?x?xf32> -> tensor<?x?xf32>
  return %2, %3, %4 : tensor<?x?xf32>, tensor<?x?xf32>, tensor<?x?xf32>
}

// Merging dims of a slice whose inner dims are whole (x[1:].flatten(0, 1)):
// the input is merged first (dense, a view) and the slice taken of it, its
// offset and size scaled by the inner dim.
// CHECK-LABEL: func @collapse_of_slice
// CHECK-SAME: (%[[A:[^:]*]]: tensor<?x?x?xf32>, %[[I:[^:]*]]: index
func.func @collapse_of_slice(%a: tensor<?x?x?xf32>, %i: index, %j: index, %n: index, %m: index) -> tensor<?x?xf32> {
  // CHECK: %[[C:.*]] = tensor.collapse_shape %[[A]] {{\[\[}}0, 1], [2]]
  // CHECK: %[[S:.*]] = tensor.extract_slice %[[C]]
  // CHECK-NOT: tensor.collapse_shape
  // CHECK: linalg.generic {{.*}} ins(%[[S]]
  %0 = ember.slice %a start = [%i, 0, 0] stop = [%j, 9223372036854775807, 9223372036854775807] step = [1, 1, 1] : tensor<?x?x?xf32> -> tensor<?x?x?xf32>
  %1 = ember.reshape %0[%n, %m] {groups = array<i64: 2, 1, 1, 1>} : tensor<?x?x?xf32> -> tensor<?x?xf32>
  %2 = ember.exp %1 : tensor<?x?xf32>
  return %2 : tensor<?x?xf32>
}
