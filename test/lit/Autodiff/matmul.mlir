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

// A batched lhs against a matrix (a linear layer on [B, S, K]): the rhs
// gradient is one product over all rows, lhs[B*S, K]^T @ g[B*S, N], not a
// batch of products summed.
// CHECK-LABEL: func @batch_by_matrix_vjp
// CHECK-SAME: (%[[A:.*]]: tensor<?x3x4xf32>, %[[B:.*]]: tensor<4x5xf32>, %[[G:.*]]: tensor<?x3x5xf32>)
// CHECK: %[[AROWS:.*]] = ember.reshape %[[A]][%{{.*}}] {groups = array<i64: 2, 1, 1, 1>} : tensor<?x3x4xf32> -> tensor<?x4xf32>
// CHECK: %[[GROWS:.*]] = ember.reshape %[[G]][%{{.*}}] {groups = array<i64: 2, 1, 1, 1>} : tensor<?x3x5xf32> -> tensor<?x5xf32>
// CHECK: %[[AT:.*]] = ember.transpose %[[AROWS]] perm = [1, 0] : tensor<?x4xf32> -> tensor<4x?xf32>
// CHECK: %[[DB:.*]] = ember.matmul %[[AT]], %[[GROWS]] : tensor<4x?xf32>, tensor<?x5xf32> -> tensor<4x5xf32>
// CHECK-NOT: ember.sum
// CHECK: return %{{.*}}, %{{.*}}, %[[DB]]
func.func @batch_by_matrix(%a: tensor<?x3x4xf32>, %b: tensor<4x5xf32>) -> tensor<?x3x5xf32> {
  %0 = ember.matmul %a, %b : tensor<?x3x4xf32>, tensor<4x5xf32> -> tensor<?x3x5xf32>
  return %0 : tensor<?x3x5xf32>
}

// Static batch dims fold into a static row count.
// CHECK-LABEL: func @static_batch_by_matrix_vjp
// CHECK: ember.reshape %{{.*}} {groups = array<i64: 3, 1, 1, 1>} : tensor<2x3x6x4xf32> -> tensor<36x4xf32>
// CHECK: ember.matmul %{{.*}}, %{{.*}} : tensor<4x36xf32>, tensor<36x5xf32> -> tensor<4x5xf32>
func.func @static_batch_by_matrix(%a: tensor<2x3x6x4xf32>, %b: tensor<4x5xf32>) -> tensor<2x3x6x5xf32> {
  %0 = ember.matmul %a, %b : tensor<2x3x6x4xf32>, tensor<4x5xf32> -> tensor<2x3x6x5xf32>
  return %0 : tensor<2x3x6x5xf32>
}
