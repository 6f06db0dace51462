// RUN: ember-opt %s -ember-autodiff | FileCheck %s

// VJP rules of the reductions: the cotangent is given back the reduced dims
// (as size 1) and broadcast over them. Run-time sizes come from tensor.dim.

// CHECK-LABEL: func @sum_vjp
// CHECK-SAME: (%[[X:.*]]: tensor<?x8xf32>, %[[G:.*]]: tensor<?xf32>)
// CHECK: %[[N:.*]] = tensor.dim %[[X]], %c0
// CHECK: %[[K:.*]] = ember.reshape %[[G]][%[[N]]] : tensor<?xf32> -> tensor<?x1xf32>
// CHECK: %[[D:.*]] = ember.broadcast_to %[[K]][%[[N]]] : tensor<?x1xf32> -> tensor<?x8xf32>
// CHECK: return %{{.*}}, %[[D]]
func.func @sum(%x: tensor<?x8xf32>) -> tensor<?xf32> {
  %0 = ember.sum %x dims = [1] : tensor<?x8xf32> -> tensor<?xf32>
  return %0 : tensor<?xf32>
}

// keepdim: no reshape needed.
// CHECK-LABEL: func @sum_keepdim_vjp
// CHECK-SAME: (%[[X:.*]]: tensor<?x8xf32>, %[[G:.*]]: tensor<1x8xf32>)
// CHECK-NOT: ember.reshape
// CHECK: %[[D:.*]] = ember.broadcast_to %[[G]][%{{.*}}] : tensor<1x8xf32> -> tensor<?x8xf32>
// CHECK: return %{{.*}}, %[[D]]
func.func @sum_keepdim(%x: tensor<?x8xf32>) -> tensor<1x8xf32> {
  %0 = ember.sum %x dims = [0] keepdim : tensor<?x8xf32> -> tensor<1x8xf32>
  return %0 : tensor<1x8xf32>
}

// A static count is a constant.
// CHECK-LABEL: func @mean_static_vjp
// CHECK: %[[COUNT:.*]] = ember.constant dense<8.000000e+00> : tensor<f32>
// CHECK: %[[B:.*]] = ember.broadcast_to
// CHECK: %[[D:.*]] = ember.div %[[B]], %[[COUNT]] : tensor<?x8xf32>, tensor<f32> -> tensor<?x8xf32>
// CHECK: return %{{.*}}, %[[D]]
func.func @mean_static(%x: tensor<?x8xf32>) -> tensor<?xf32> {
  %0 = ember.mean %x dims = [1] : tensor<?x8xf32> -> tensor<?xf32>
  return %0 : tensor<?xf32>
}

// A dynamic count is the product of the reduced dims, made a rank-0 tensor.
// CHECK-LABEL: func @mean_dynamic_vjp
// CHECK-SAME: (%[[X:.*]]: tensor<?x8x?xf32>, %[[G:.*]]: tensor<8xf32>)
// CHECK-DAG: %[[D0:.*]] = tensor.dim %[[X]], %c0
// CHECK-DAG: %[[D2:.*]] = tensor.dim %[[X]], %c2
// CHECK: %[[P:.*]] = arith.muli %[[D0]], %[[D2]] : index
// CHECK: %[[I:.*]] = arith.index_cast %[[P]] : index to i64
// CHECK: %[[F:.*]] = arith.sitofp %[[I]] : i64 to f32
// CHECK: %[[COUNT:.*]] = tensor.from_elements %[[F]] : tensor<f32>
// CHECK: %[[K:.*]] = ember.reshape %[[G]] : tensor<8xf32> -> tensor<1x8x1xf32>
// CHECK: %[[B:.*]] = ember.broadcast_to %[[K]][%[[D0]], %[[D2]]] : tensor<1x8x1xf32> -> tensor<?x8x?xf32>
// CHECK: ember.div %[[B]], %[[COUNT]]
func.func @mean_dynamic(%x: tensor<?x8x?xf32>) -> tensor<8xf32> {
  %0 = ember.mean %x dims = [0, 2] : tensor<?x8x?xf32> -> tensor<8xf32>
  return %0 : tensor<8xf32>
}

// The elements equal to the max share the cotangent evenly.
// CHECK-LABEL: func @max_vjp
// CHECK-SAME: (%[[X:.*]]: tensor<?x8xf32>, %[[G:.*]]: tensor<?xf32>)
// CHECK: %[[Y:.*]] = ember.max %[[X]]
// CHECK: %[[YK:.*]] = ember.reshape %[[Y]][%{{.*}}] : tensor<?xf32> -> tensor<?x1xf32>
// CHECK: %[[HIT:.*]] = ember.compare eq, %[[X]], %[[YK]] : tensor<?x8xf32>, tensor<?x1xf32> -> tensor<?x8xi1>
// CHECK: %[[HITF:.*]] = ember.cast %[[HIT]]
// CHECK: %[[TIES:.*]] = ember.sum %[[HITF]] dims = [1] keepdim
// CHECK: %[[GK:.*]] = ember.reshape %[[G]]
// CHECK: %[[M:.*]] = ember.mul %[[GK]], %[[HITF]]
// CHECK: %[[D:.*]] = ember.div %[[M]], %[[TIES]] : tensor<?x8xf32>, tensor<?x1xf32> -> tensor<?x8xf32>
// CHECK: return %[[Y]], %[[D]]
func.func @max(%x: tensor<?x8xf32>) -> tensor<?xf32> {
  %0 = ember.max %x dims = [1] : tensor<?x8xf32> -> tensor<?xf32>
  return %0 : tensor<?xf32>
}

// CHECK-LABEL: func @min_vjp
// CHECK: %[[Y:.*]] = ember.min
// CHECK: ember.compare eq, %{{.*}}, %[[Y]] : tensor<?x8xf32>, tensor<?x1xf32> -> tensor<?x8xi1>
func.func @min(%x: tensor<?x8xf32>) -> tensor<?x1xf32> {
  %0 = ember.min %x dims = [1] keepdim : tensor<?x8xf32> -> tensor<?x1xf32>
  return %0 : tensor<?x1xf32>
}
