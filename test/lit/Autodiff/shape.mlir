// RUN: ember-opt %s -ember-autodiff | FileCheck %s

// VJP rules of the shape ops. Size operands (index) get no gradient.

// CHECK-LABEL: func @reshape_vjp
// CHECK-SAME: (%[[X:.*]]: tensor<?x6xf32>, %{{.*}}: index, %[[G:.*]]: tensor<?x2x3xf32>) -> (tensor<?x2x3xf32>, tensor<?x6xf32>)
// CHECK: %[[N:.*]] = tensor.dim %[[X]], %c0
// CHECK: %[[D:.*]] = ember.reshape %[[G]][%[[N]]] : tensor<?x2x3xf32> -> tensor<?x6xf32>
// CHECK: return %{{.*}}, %[[D]]
func.func @reshape(%x: tensor<?x6xf32>, %n: index) -> tensor<?x2x3xf32> {
  %0 = ember.reshape %x[%n] : tensor<?x6xf32> -> tensor<?x2x3xf32>
  return %0 : tensor<?x2x3xf32>
}

// CHECK-LABEL: func @broadcast_vjp
// CHECK-SAME: %[[G:[a-z0-9]+]]: tensor<?x3x4xf32>) -> (tensor<?x3x4xf32>, tensor<3x1xf32>)
// CHECK: %[[S:.*]] = ember.sum %[[G]] dims = [0, 2] : tensor<?x3x4xf32> -> tensor<3xf32>
// CHECK: %[[D:.*]] = ember.reshape %[[S]] : tensor<3xf32> -> tensor<3x1xf32>
// CHECK: return %{{.*}}, %[[D]]
func.func @broadcast(%x: tensor<3x1xf32>, %n: index) -> tensor<?x3x4xf32> {
  %0 = ember.broadcast_to %x[%n] : tensor<3x1xf32> -> tensor<?x3x4xf32>
  return %0 : tensor<?x3x4xf32>
}

// The inverse permutation.
// CHECK-LABEL: func @transpose_vjp
// CHECK-SAME: %[[G:[a-z0-9]+]]: tensor<4x?x3xf32>)
// CHECK: %[[D:.*]] = ember.transpose %[[G]] perm = [1, 2, 0] : tensor<4x?x3xf32> -> tensor<?x3x4xf32>
// CHECK: return %{{.*}}, %[[D]]
func.func @transpose(%x: tensor<?x3x4xf32>) -> tensor<4x?x3xf32> {
  %0 = ember.transpose %x perm = [2, 0, 1] : tensor<?x3x4xf32> -> tensor<4x?x3xf32>
  return %0 : tensor<4x?x3xf32>
}

// The cotangent goes into the window of a zero tensor.
// CHECK-LABEL: func @slice_vjp
// CHECK-SAME: (%[[X:.*]]: tensor<?x5xf32>, %[[G:.*]]: tensor<?x2xf32>)
// CHECK-DAG: %[[ZERO:.*]] = ember.constant dense<0.000000e+00> : tensor<f32>
// CHECK: %[[N:.*]] = tensor.dim %[[X]], %c0
// CHECK: %[[Z:.*]] = ember.broadcast_to %[[ZERO]][%[[N]]] : tensor<f32> -> tensor<?x5xf32>
// CHECK: %[[D:.*]] = ember.insert_slice %[[G]] into %[[Z]] start = [1, 1] stop = [9223372036854775807, 5] step = [1, 2]
// CHECK: return %{{.*}}, %[[D]]
func.func @slice(%x: tensor<?x5xf32>) -> tensor<?x2xf32> {
  %0 = ember.slice %x start = [1, 1] stop = [9223372036854775807, 5] step = [1, 2] : tensor<?x5xf32> -> tensor<?x2xf32>
  return %0 : tensor<?x2xf32>
}

// Run-time bounds: the same window, its index operands get no gradient.
// CHECK-LABEL: func @window_vjp
// CHECK-SAME: (%[[X:.*]]: tensor<?x5xf32>, %[[I:.*]]: index, %[[J:.*]]: index, %[[G:.*]]: tensor<?x5xf32>) -> (tensor<?x5xf32>, tensor<?x5xf32>)
// CHECK: %[[D:.*]] = ember.insert_slice %[[G]] into %{{.*}} start = [%[[I]], 0] stop = [%[[J]], 9223372036854775807] step = [1, 1]
// CHECK: return %{{.*}}, %[[D]]
func.func @window(%x: tensor<?x5xf32>, %i: index, %j: index) -> tensor<?x5xf32> {
  %0 = ember.slice %x start = [%i, 0] stop = [%j, 9223372036854775807] step = [1, 1] : tensor<?x5xf32> -> tensor<?x5xf32>
  return %0 : tensor<?x5xf32>
}

// The source gets the window; dest gets the cotangent with the window zeroed.
// CHECK-LABEL: func @insert_vjp
// CHECK-SAME: (%{{.*}}: tensor<2x2xf32>, %{{.*}}: tensor<?x5xf32>, %[[G:.*]]: tensor<?x5xf32>)
// CHECK-DAG: %[[Z:.*]] = ember.constant dense<0.000000e+00> : tensor<2x2xf32>
// CHECK: %[[W:.*]] = ember.slice %[[G]] start = [-2, 0] stop = [9223372036854775807, 4] step = [1, 2] : tensor<?x5xf32> -> tensor<?x2xf32>
// CHECK: %[[DS:.*]] = ember.reshape %[[W]] : tensor<?x2xf32> -> tensor<2x2xf32>
// CHECK: %[[DD:.*]] = ember.insert_slice %[[Z]] into %[[G]] start = [-2, 0]
// CHECK: return %{{.*}}, %[[DS]], %[[DD]]
func.func @insert(%s: tensor<2x2xf32>, %d: tensor<?x5xf32>) -> tensor<?x5xf32> {
  %0 = ember.insert_slice %s into %d start = [-2, 0] stop = [9223372036854775807, 4] step = [1, 2] : tensor<2x2xf32> into tensor<?x5xf32>
  return %0 : tensor<?x5xf32>
}

// Each input's window is addressed from the front or, past the dynamic
// input, from the back with negative bounds.
// CHECK-LABEL: func @concat_vjp
// CHECK-SAME: %[[G:[a-z0-9]+]]: tensor<?x3xf32>) -> (tensor<?x3xf32>, tensor<2x3xf32>, tensor<?x3xf32>, tensor<4x3xf32>)
// CHECK: ember.slice %[[G]] start = [0, 0] stop = [2, 9223372036854775807] step = [1, 1]
// CHECK: %[[B:.*]] = ember.slice %[[G]] start = [2, 0] stop = [-4, 9223372036854775807] step = [1, 1]
// CHECK: ember.slice %[[G]] start = [-4, 0] stop = [9223372036854775807, 9223372036854775807] step = [1, 1]
// CHECK: return %{{.*}}, %{{.*}}, %[[B]], %{{.*}}
func.func @concat(%a: tensor<2x3xf32>, %b: tensor<?x3xf32>, %c: tensor<4x3xf32>) -> tensor<?x3xf32> {
  %0 = ember.concat %a, %b, %c dim = 0 : tensor<2x3xf32>, tensor<?x3xf32>, tensor<4x3xf32> -> tensor<?x3xf32>
  return %0 : tensor<?x3xf32>
}

// Inputs of several dynamic extents (the eager tracer's cat): each window
// of the cotangent starts and stops at run-time sums of the extents.
// CHECK-LABEL: func @concat_dynamic_vjp
// CHECK-SAME: (%[[A:[a-z0-9]+]]: tensor<?x3xf32>, %[[B:[a-z0-9]+]]: tensor<?x3xf32>, %[[C:[a-z0-9]+]]: tensor<?x3xf32>, %[[G:[a-z0-9]+]]: tensor<?x3xf32>)
// CHECK: %[[ZERO:.*]] = arith.constant 0 : index
// CHECK: %[[NA:.*]] = tensor.dim %[[A]], %[[ZERO]]
// CHECK: %[[GA:.*]] = ember.slice %[[G]] start = [%[[ZERO]], 0] stop = [%[[NA]], 9223372036854775807]
// CHECK: %[[NB:.*]] = tensor.dim %[[B]], %[[ZERO]]
// CHECK: %[[EB:.*]] = arith.addi %[[NA]], %[[NB]] : index
// CHECK: %[[GB:.*]] = ember.slice %[[G]] start = [%[[NA]], 0] stop = [%[[EB]], 9223372036854775807]
// CHECK: %[[NC:.*]] = tensor.dim %[[C]], %[[ZERO]]
// CHECK: %[[EC:.*]] = arith.addi %[[EB]], %[[NC]] : index
// CHECK: %[[GC:.*]] = ember.slice %[[G]] start = [%[[EB]], 0] stop = [%[[EC]], 9223372036854775807]
// CHECK: return %{{.*}}, %[[GA]], %[[GB]], %[[GC]]
func.func @concat_dynamic(%a: tensor<?x3xf32>, %b: tensor<?x3xf32>, %c: tensor<?x3xf32>) -> tensor<?x3xf32> {
  %0 = ember.concat %a, %b, %c dim = 0 : tensor<?x3xf32>, tensor<?x3xf32>, tensor<?x3xf32> -> tensor<?x3xf32>
  return %0 : tensor<?x3xf32>
}

// tensor.cast restates a shape; its VJP casts the cotangent back.
// CHECK-LABEL: func @restated_vjp
// CHECK-SAME: %[[G:[a-z0-9]+]]: tensor<?x4xf32>) -> (tensor<?x4xf32>, tensor<?x4xf32>)
// CHECK: %[[D:.*]] = ember.div %[[G]]
// CHECK: %[[C:.*]] = tensor.cast %[[D]] : tensor<?x4xf32> to tensor<3x4xf32>
// CHECK: %[[M:.*]] = ember.mul %[[C]]
// CHECK: %[[B:.*]] = tensor.cast %[[M]] : tensor<3x4xf32> to tensor<?x4xf32>
// CHECK: return %{{.*}}, %[[B]]
func.func @restated(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %0 = tensor.cast %x : tensor<?x4xf32> to tensor<3x4xf32>
  %1 = ember.exp %0 : tensor<3x4xf32>
  %2 = tensor.cast %1 : tensor<3x4xf32> to tensor<?x4xf32>
  %3 = ember.log %2 : tensor<?x4xf32>
  return %3 : tensor<?x4xf32>
}
