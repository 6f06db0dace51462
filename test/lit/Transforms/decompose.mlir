// RUN: ember-opt %s -ember-decompose | FileCheck %s

// CHECK-LABEL: func @softmax
// CHECK-SAME: (%[[X:.*]]: tensor<?x8xf32>)
func.func @softmax(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  // CHECK: %[[M:.*]] = ember.max %[[X]] dims = [1] keepdim : tensor<?x8xf32> -> tensor<?x1xf32>
  // CHECK: %[[S:.*]] = ember.sub %[[X]], %[[M]] : tensor<?x8xf32>, tensor<?x1xf32> -> tensor<?x8xf32>
  // CHECK: %[[E:.*]] = ember.exp %[[S]]
  // CHECK: %[[Z:.*]] = ember.sum %[[E]] dims = [1] keepdim : tensor<?x8xf32> -> tensor<?x1xf32>
  // CHECK: %[[Y:.*]] = ember.div %[[E]], %[[Z]]
  // CHECK: return %[[Y]]
  %0 = ember.softmax %x dim = 1 : tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// CHECK-LABEL: func @log_softmax
func.func @log_softmax(%x: tensor<4x?xf64>) -> tensor<4x?xf64> {
  // CHECK: %[[M:.*]] = ember.max %{{.*}} dims = [0] keepdim : tensor<4x?xf64> -> tensor<1x?xf64>
  // CHECK: %[[S:.*]] = ember.sub %{{.*}}, %[[M]]
  // CHECK: %[[E:.*]] = ember.exp %[[S]]
  // CHECK: %[[Z:.*]] = ember.sum %[[E]] dims = [0] keepdim
  // CHECK: %[[L:.*]] = ember.log %[[Z]] : tensor<1x?xf64>
  // CHECK: ember.sub %[[S]], %[[L]] : tensor<4x?xf64>, tensor<1x?xf64> -> tensor<4x?xf64>
  // CHECK-NOT: ember.log_softmax
  %0 = ember.log_softmax %x dim = 0 : tensor<4x?xf64>
  return %0 : tensor<4x?xf64>
}

// transpose(a @ b) = b^T @ a^T; a transposed transpose folds later.
// CHECK-LABEL: func @transposed_product
// CHECK-SAME: (%[[A:.*]]: tensor<?x?xf32>, %[[B:.*]]: tensor<?x?xf32>)
// CHECK: %[[BT:.*]] = ember.transpose %[[B]] perm = [1, 0]
// CHECK: %[[AT:.*]] = ember.transpose %[[A]] perm = [1, 0]
// CHECK: %[[P:.*]] = ember.matmul %[[BT]], %[[AT]]
// CHECK: return %[[P]]
func.func @transposed_product(%a: tensor<?x?xf32>, %b: tensor<?x?xf32>) -> tensor<?x?xf32> {
  %p = ember.matmul %a, %b : tensor<?x?xf32>, tensor<?x?xf32> -> tensor<?x?xf32>
  %t = ember.transpose %p perm = [1, 0] : tensor<?x?xf32> -> tensor<?x?xf32>
  return %t : tensor<?x?xf32>
}

// A product whose operand broadcasts its batch (rank 2 against rank 3) keeps
// its transpose: swapping would need a different permutation per operand.
// CHECK-LABEL: func @transposed_broadcast_product
// CHECK: %[[P:.*]] = ember.matmul
// CHECK-NEXT: %[[T:.*]] = ember.transpose %[[P]] perm = [0, 2, 1]
// CHECK-NEXT: return %[[T]]
func.func @transposed_broadcast_product(%a: tensor<?x?x?xf64>, %b: tensor<?x?xf64>) -> tensor<?x?x?xf64> {
  %p = ember.matmul %a, %b : tensor<?x?x?xf64>, tensor<?x?xf64> -> tensor<?x?x?xf64>
  %t = ember.transpose %p perm = [0, 2, 1] : tensor<?x?x?xf64> -> tensor<?x?x?xf64>
  return %t : tensor<?x?x?xf64>
}
