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

// softmax_backward: y * (g - sum(g * y)) along dim.
// CHECK-LABEL: func @softmax_backward
// CHECK-SAME: (%[[G:.*]]: tensor<?x8xf32>, %[[Y:.*]]: tensor<?x8xf32>)
// CHECK: %[[GY:.*]] = ember.mul %[[G]], %[[Y]]
// CHECK: %[[S:.*]] = ember.sum %[[GY]] dims = [0] keepdim : tensor<?x8xf32> -> tensor<1x8xf32>
// CHECK: %[[C:.*]] = ember.sub %[[G]], %[[S]]
// CHECK: %[[D:.*]] = ember.mul %[[Y]], %[[C]]
// CHECK: return %[[D]]
func.func @softmax_backward(%g: tensor<?x8xf32>, %y: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %0 = ember.softmax_backward %g, %y dim = 0 : tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// log_softmax_backward: g - exp(y) * sum(g); f16 computes in f32.
// CHECK-LABEL: func @log_softmax_backward
// CHECK-SAME: (%[[G:.*]]: tensor<4x?xf16>, %[[Y:.*]]: tensor<4x?xf16>)
// CHECK-DAG: %[[G32:.*]] = ember.cast %[[G]] : tensor<4x?xf16> to tensor<4x?xf32>
// CHECK-DAG: %[[Y32:.*]] = ember.cast %[[Y]] : tensor<4x?xf16> to tensor<4x?xf32>
// CHECK: %[[S:.*]] = ember.sum %[[G32]] dims = [1] keepdim
// CHECK: %[[E:.*]] = ember.exp %[[Y32]]
// CHECK: %[[M:.*]] = ember.mul %[[E]], %[[S]]
// CHECK: %[[D:.*]] = ember.sub %[[G32]], %[[M]]
// CHECK: %[[H:.*]] = ember.cast %[[D]] : tensor<4x?xf32> to tensor<4x?xf16>
// CHECK: return %[[H]]
func.func @log_softmax_backward(%g: tensor<4x?xf16>, %y: tensor<4x?xf16>) -> tensor<4x?xf16> {
  %0 = ember.log_softmax_backward %g, %y dim = 1 : tensor<4x?xf16>
  return %0 : tensor<4x?xf16>
}

// layer_norm: (x - mean) * rsqrt(mean((x - mean)^2) + eps) * w + b over
// the innermost dim.
// CHECK-LABEL: func @layer_norm
// CHECK-SAME: (%[[X:.*]]: tensor<?x8xf32>, %[[W:.*]]: tensor<8xf32>, %[[B:.*]]: tensor<8xf32>)
// CHECK-DAG: %[[EPS:.*]] = ember.constant dense<9.99999974E-6> : tensor<f32>
// CHECK-DAG: %[[MEAN:.*]] = ember.mean %[[X]] dims = [1] keepdim
// CHECK: %[[C:.*]] = ember.sub %[[X]], %[[MEAN]]
// CHECK: %[[SQ:.*]] = ember.mul %[[C]], %[[C]]
// CHECK: %[[VAR:.*]] = ember.mean %[[SQ]] dims = [1] keepdim
// CHECK: %[[VE:.*]] = ember.add %[[VAR]], %[[EPS]]
// CHECK: %[[RSTD:.*]] = ember.rsqrt %[[VE]]
// CHECK: %[[H:.*]] = ember.mul %[[C]], %[[RSTD]]
// CHECK: %[[S:.*]] = ember.mul %[[H]], %[[W]]
// CHECK: %[[Y:.*]] = ember.add %[[S]], %[[B]]
// CHECK: return %[[Y]]
func.func @layer_norm(%x: tensor<?x8xf32>, %w: tensor<8xf32>, %b: tensor<8xf32>) -> tensor<?x8xf32> {
  %0 = ember.layer_norm %x weight %w : tensor<8xf32> bias %b : tensor<8xf32> eps = 1.0e-05 : tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// rms_norm: x * rsqrt(mean(x^2) + eps), bf16 through f32.
// CHECK-LABEL: func @rms_norm
// CHECK: %[[X:.*]] = ember.cast %{{.*}} : tensor<?xbf16> to tensor<?xf32>
// CHECK: %[[SQ:.*]] = ember.mul %[[X]], %[[X]]
// CHECK: %[[MS:.*]] = ember.mean %[[SQ]] dims = [0] keepdim
// CHECK: %[[RSTD:.*]] = ember.rsqrt
// CHECK: %[[Y:.*]] = ember.mul %[[X]], %[[RSTD]]
// CHECK: ember.cast %[[Y]] : tensor<?xf32> to tensor<?xbf16>
func.func @rms_norm(%x: tensor<?xbf16>) -> tensor<?xbf16> {
  %0 = ember.rms_norm %x eps = 1.0e-06 : tensor<?xbf16>
  return %0 : tensor<?xbf16>
}

// layer_norm_backward: rstd * (gw - mean(gw) - xhat * mean(gw * xhat)).
// CHECK-LABEL: func @layer_norm_backward
// CHECK-SAME: (%[[G:.*]]: tensor<?x8xf32>, %[[X:.*]]: tensor<?x8xf32>, %[[W:.*]]: tensor<8xf32>)
// CHECK: %[[RSTD:.*]] = ember.rsqrt
// CHECK: %[[XHAT:.*]] = ember.mul %{{.*}}, %[[RSTD]]
// CHECK: %[[GW:.*]] = ember.mul %[[G]], %[[W]]
// CHECK: %[[P:.*]] = ember.mul %[[GW]], %[[XHAT]]
// CHECK: %[[MP:.*]] = ember.mean %[[P]] dims = [1] keepdim
// CHECK: %[[T:.*]] = ember.mul %[[XHAT]], %[[MP]]
// CHECK: %[[I:.*]] = ember.sub %[[GW]], %[[T]]
// CHECK: %[[MG:.*]] = ember.mean %[[GW]] dims = [1] keepdim
// CHECK: %[[I2:.*]] = ember.sub %[[I]], %[[MG]]
// CHECK: %[[DX:.*]] = ember.mul %[[RSTD]], %[[I2]]
// CHECK: return %[[DX]]
func.func @layer_norm_backward(%g: tensor<?x8xf32>, %x: tensor<?x8xf32>, %w: tensor<8xf32>) -> tensor<?x8xf32> {
  %0 = ember.layer_norm_backward %g, %x weight %w : tensor<8xf32> eps = 1.0e-05 : tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// cross_entropy_rows: log(sum(exp(x - max))) - (x - max)[t], 0 where t is
// ignore_index or outside [0, C); the target's one-hot compares t with a
// constant class row.
// CHECK-LABEL: func @cross_entropy_rows
// CHECK-SAME: (%[[X:.*]]: tensor<?x5xf32>, %[[T:.*]]: tensor<?xi64>)
// CHECK-DAG: %[[ZERO:.*]] = ember.constant dense<0.000000e+00> : tensor<f32>
// CHECK-DAG: %[[IGNORE:.*]] = ember.constant dense<-100> : tensor<i64>
// CHECK-DAG: %[[LOW:.*]] = ember.constant dense<0> : tensor<i64>
// CHECK-DAG: %[[HIGH:.*]] = ember.constant dense<5> : tensor<i64>
// CHECK-DAG: %[[CLASSES:.*]] = ember.constant dense<{{\[\[}}0, 1, 2, 3, 4]]> : tensor<1x5xi64>
// CHECK: %[[N:.*]] = tensor.dim %[[T]]
// CHECK: %[[TC:.*]] = ember.reshape %[[T]][%[[N]]] : tensor<?xi64> -> tensor<?x1xi64>
// CHECK: %[[HOT:.*]] = ember.compare eq, %[[TC]], %[[CLASSES]] : tensor<?x1xi64>, tensor<1x5xi64> -> tensor<?x5xi1>
// CHECK-DAG: %[[LT:.*]] = ember.compare lt, %[[TC]], %[[HIGH]]
// CHECK-DAG: %[[GE:.*]] = ember.compare ge, %[[TC]], %[[LOW]]
// CHECK: %[[IN:.*]] = ember.and %[[GE]], %[[LT]]
// CHECK: %[[NE:.*]] = ember.compare ne, %[[TC]], %[[IGNORE]]
// CHECK: %[[VALID:.*]] = ember.and %[[IN]], %[[NE]]
// CHECK: %[[MAX:.*]] = ember.max %[[X]] dims = [1] keepdim
// CHECK: %[[SH:.*]] = ember.sub %[[X]], %[[MAX]]
// CHECK: %[[E:.*]] = ember.exp %[[SH]]
// CHECK: %[[S:.*]] = ember.sum %[[E]] dims = [1] keepdim
// CHECK: %[[SEL:.*]] = ember.select %[[HOT]], %[[SH]], %[[ZERO]]
// CHECK: %[[PICK:.*]] = ember.sum %[[SEL]] dims = [1] keepdim
// CHECK: %[[LOG:.*]] = ember.log %[[S]]
// CHECK: %[[L:.*]] = ember.sub %[[LOG]], %[[PICK]]
// CHECK: %[[LM:.*]] = ember.select %[[VALID]], %[[L]], %[[ZERO]]
// CHECK: %[[R:.*]] = ember.sum %[[LM]] dims = [1] : tensor<?x1xf32> -> tensor<?xf32>
// CHECK: return %[[R]]
// CHECK-NOT: ember.cross_entropy_rows
func.func @cross_entropy_rows(%x: tensor<?x5xf32>, %t: tensor<?xi64>) -> tensor<?xf32> {
  %0 = ember.cross_entropy_rows %x, %t ignore_index = -100 : tensor<?x5xf32>, tensor<?xi64> -> tensor<?xf32>
  return %0 : tensor<?xf32>
}

// The backward: g * softmax(x) - onehot(t) * g with g zeroed on the rows
// the forward gives 0; f16 computes in f32.
// CHECK-LABEL: func @cross_entropy_rows_backward
// CHECK-SAME: (%[[G:.*]]: tensor<4xf16>, %[[X:.*]]: tensor<4x3xf16>, %[[T:.*]]: tensor<4xi64>)
// CHECK-DAG: %[[ZERO:.*]] = ember.constant dense<0.000000e+00> : tensor<f32>
// CHECK-DAG: %[[IGNORE:.*]] = ember.constant dense<1> : tensor<i64>
// CHECK-DAG: %[[CLASSES:.*]] = ember.constant dense<{{\[\[}}0, 1, 2]]> : tensor<1x3xi64>
// CHECK: %[[XF:.*]] = ember.cast %[[X]] : tensor<4x3xf16> to tensor<4x3xf32>
// CHECK: %[[TC:.*]] = ember.reshape %[[T]] : tensor<4xi64> -> tensor<4x1xi64>
// CHECK: %[[HOT:.*]] = ember.compare eq, %[[TC]], %[[CLASSES]]
// CHECK: %[[NE:.*]] = ember.compare ne, %[[TC]], %[[IGNORE]]
// CHECK: %[[VALID:.*]] = ember.and %{{.*}}, %[[NE]]
// CHECK: %[[MAX:.*]] = ember.max %[[XF]] dims = [1] keepdim
// CHECK: %[[E:.*]] = ember.exp
// CHECK: %[[S:.*]] = ember.sum %[[E]] dims = [1] keepdim
// CHECK: %[[GF:.*]] = ember.cast %[[G]] : tensor<4xf16> to tensor<4xf32>
// CHECK: %[[GC:.*]] = ember.reshape %[[GF]] : tensor<4xf32> -> tensor<4x1xf32>
// CHECK: %[[GM:.*]] = ember.select %[[VALID]], %[[GC]], %[[ZERO]]
// CHECK: %[[P:.*]] = ember.div %[[E]], %[[S]]
// CHECK: %[[HG:.*]] = ember.select %[[HOT]], %[[GM]], %[[ZERO]] : tensor<4x3xi1>, tensor<4x1xf32>, tensor<f32> -> tensor<4x3xf32>
// CHECK: %[[GP:.*]] = ember.mul %[[GM]], %[[P]]
// CHECK: %[[DX:.*]] = ember.sub %[[GP]], %[[HG]]
// CHECK: %[[R:.*]] = ember.cast %[[DX]] : tensor<4x3xf32> to tensor<4x3xf16>
// CHECK: return %[[R]]
func.func @cross_entropy_rows_backward(%g: tensor<4xf16>, %x: tensor<4x3xf16>, %t: tensor<4xi64>) -> tensor<4x3xf16> {
  %0 = ember.cross_entropy_rows_backward %g, %x, %t ignore_index = 1 : tensor<4xf16>, tensor<4x3xf16>, tensor<4xi64>
  return %0 : tensor<4x3xf16>
}

// A dynamic class count: the class ids come from a linalg.generic writing
// each column's index, and the upper bound is their max (C - 1, with le).
// CHECK-LABEL: func @cross_entropy_rows_dynamic_classes
// CHECK-SAME: (%[[X:.*]]: tensor<?x?xf32>, %[[T:.*]]: tensor<?xi64>)
// CHECK: %[[TC:.*]] = ember.reshape %[[T]]
// CHECK: %[[C:.*]] = tensor.dim %[[X]], %{{.*}} : tensor<?x?xf32>
// CHECK: %[[E:.*]] = tensor.empty(%[[C]]) : tensor<1x?xi64>
// CHECK: %[[IDS:.*]] = linalg.generic {{.*}} outs(%[[E]] : tensor<1x?xi64>)
// CHECK: %[[I:.*]] = linalg.index 1 : index
// CHECK: %[[I64:.*]] = arith.index_cast %[[I]] : index to i64
// CHECK: linalg.yield %[[I64]] : i64
// CHECK: ember.compare eq, %[[TC]], %[[IDS]] : tensor<?x1xi64>, tensor<1x?xi64> -> tensor<?x?xi1>
// CHECK: %[[LAST:.*]] = ember.max %[[IDS]] dims = [0, 1] : tensor<1x?xi64> -> tensor<i64>
// CHECK: ember.compare le, %[[TC]], %[[LAST]]
// CHECK-NOT: ember.cross_entropy_rows
func.func @cross_entropy_rows_dynamic_classes(%x: tensor<?x?xf32>, %t: tensor<?xi64>) -> tensor<?xf32> {
  %0 = ember.cross_entropy_rows %x, %t ignore_index = -100 : tensor<?x?xf32>, tensor<?xi64> -> tensor<?xf32>
  return %0 : tensor<?xf32>
}
