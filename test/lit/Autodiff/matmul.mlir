// RUN: ember-opt %s -ember-autodiff | FileCheck %s

// d/da = g @ b^T, d/db = a^T @ g; a broadcast batch dim sums back.

// CHECK-LABEL: func @mm_vjp
// CHECK-SAME: (%[[A:.*]]: tensor<?x4xf32>, %[[B:.*]]: tensor<4x5xf32>, %[[G:.*]]: tensor<?x5xf32>)
// CHECK: %[[BT:.*]] = ember.transpose %[[B]] perm = [1, 0] : tensor<4x5xf32> -> tensor<5x4xf32>
// CHECK: %[[DA:.*]] = ember.matmul %[[G]], %[[BT]] : tensor<?x5xf32>, tensor<5x4xf32> -> tensor<?x4xf32>
// CHECK: %[[AT:.*]] = ember.transpose %[[A]] perm = [1, 0] : tensor<?x4xf32> -> tensor<4x?xf32>
// CHECK: %[[DB:.*]] = ember.matmul %[[AT]], %[[G]] : tensor<4x?xf32>, tensor<?x5xf32> -> tensor<4x5xf32>
// CHECK: return %{{.*}}, %[[DA]], %[[DB]]
func.func @mm(%a: tensor<?x4xf32>, %b: tensor<4x5xf32>) -> tensor<?x5xf32> {
  %0 = ember.matmul %a, %b : tensor<?x4xf32>, tensor<4x5xf32> -> tensor<?x5xf32>
  return %0 : tensor<?x5xf32>
}

// CHECK-LABEL: func @bmm_vjp
// CHECK-SAME: (%[[A:.*]]: tensor<2x?x4xf32>, %[[B:.*]]: tensor<1x4x5xf32>, %[[G:.*]]: tensor<2x?x5xf32>)
// CHECK: %[[BT:.*]] = ember.transpose %[[B]] perm = [0, 2, 1]
// CHECK: %[[DA:.*]] = ember.matmul %[[G]], %[[BT]] : tensor<2x?x5xf32>, tensor<1x5x4xf32> -> tensor<2x?x4xf32>
// CHECK: %[[AT:.*]] = ember.transpose %[[A]] perm = [0, 2, 1]
// CHECK: %[[P:.*]] = ember.matmul %[[AT]], %[[G]] : tensor<2x4x?xf32>, tensor<2x?x5xf32> -> tensor<2x4x5xf32>
// CHECK: %[[S:.*]] = ember.sum %[[P]] dims = [0] : tensor<2x4x5xf32> -> tensor<4x5xf32>
// CHECK: %[[DB:.*]] = ember.reshape %[[S]] : tensor<4x5xf32> -> tensor<1x4x5xf32>
// CHECK: return %{{.*}}, %[[DA]], %[[DB]]
func.func @bmm(%a: tensor<2x?x4xf32>, %b: tensor<1x4x5xf32>) -> tensor<2x?x5xf32> {
  %0 = ember.matmul %a, %b : tensor<2x?x4xf32>, tensor<1x4x5xf32> -> tensor<2x?x5xf32>
  return %0 : tensor<2x?x5xf32>
}

// A batched lhs against a matrix: the rhs gradient sums over the batch.
// CHECK-LABEL: func @batch_by_matrix_vjp
// CHECK: %[[P:.*]] = ember.matmul %{{.*}}, %{{.*}} : tensor<?x4x3xf32>, tensor<?x3x5xf32> -> tensor<?x4x5xf32>
// CHECK: ember.sum %[[P]] dims = [0] : tensor<?x4x5xf32> -> tensor<4x5xf32>
func.func @batch_by_matrix(%a: tensor<?x3x4xf32>, %b: tensor<4x5xf32>) -> tensor<?x3x5xf32> {
  %0 = ember.matmul %a, %b : tensor<?x3x4xf32>, tensor<4x5xf32> -> tensor<?x3x5xf32>
  return %0 : tensor<?x3x5xf32>
}
