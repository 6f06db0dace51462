// RUN: ember-opt %s -ember-decompose | FileCheck %s

// Off the CPU kernels, attention is matmul + softmax primitives; causal
// adds a 0/-inf mask written from the positions (L and S may be dynamic);
// the logsumexp is max + log(sum).
// CHECK-LABEL: func.func @causal
// CHECK: %[[NEGINF:.*]] = arith.constant 0xFF800000 : f32
// CHECK: %[[KT:.*]] = ember.transpose %arg1 perm = [1, 0]
// CHECK: %[[QK:.*]] = ember.matmul %arg0, %[[KT]]
// CHECK: %[[S:.*]] = ember.mul %[[QK]]
// CHECK: %[[CAUSAL:.*]] = linalg.generic
// CHECK: arith.cmpi ugt
// CHECK: arith.select %{{.*}}, %[[NEGINF]]
// CHECK: %[[MASKED:.*]] = ember.add %[[S]], %[[CAUSAL]]
// CHECK: %[[MAX:.*]] = ember.max %[[MASKED]] dims = [1] keepdim
// CHECK: %[[E:.*]] = ember.exp
// CHECK: %[[SUM:.*]] = ember.sum %[[E]] dims = [1] keepdim
// CHECK: %[[P:.*]] = ember.div %[[E]], %[[SUM]]
// CHECK: %[[O:.*]] = ember.matmul %[[P]], %arg2
// CHECK: %[[LOG:.*]] = ember.log %[[SUM]]
// CHECK: %[[LSE:.*]] = ember.add %[[MAX]], %[[LOG]]
// CHECK: %[[L:.*]] = ember.reshape %[[LSE]]
// CHECK: return %[[O]], %[[L]]
func.func @causal(%q: tensor<?x8xf32>, %k: tensor<?x8xf32>, %v: tensor<?x4xf32>) -> (tensor<?x4xf32>, tensor<?xf32>) {
  %o, %l = ember.attention %q, %k, %v scale = 1.25e-01 causal : tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x4xf32> -> tensor<?x4xf32>, tensor<?xf32>
  return %o, %l : tensor<?x4xf32>, tensor<?xf32>
}

// A mask for every batch item broadcasts over the batch dims.
// CHECK-LABEL: func.func @heads
// CHECK: ember.add %{{.*}}, %arg3 : tensor<2x?x?x?xf64>, tensor<1x1x?x?xf64> -> tensor<2x?x?x?xf64>
func.func @heads(%q: tensor<2x?x?x8xf64>, %k: tensor<2x?x?x8xf64>, %v: tensor<2x?x?x8xf64>, %m: tensor<1x1x?x?xf64>) -> tensor<2x?x?x8xf64> {
  %o, %l = ember.attention %q, %k, %v mask %m : tensor<1x1x?x?xf64> scale = 1.25e-01 : tensor<2x?x?x8xf64>, tensor<2x?x?x8xf64>, tensor<2x?x?x8xf64> -> tensor<2x?x?x8xf64>, tensor<2x?x?xf64>
  return %o : tensor<2x?x?x8xf64>
}

// f16 computes in f32.
// CHECK-LABEL: func.func @half
// CHECK-COUNT-3: ember.cast %{{.*}} : tensor<?x?x8xf16> to tensor<?x?x8xf32>
// CHECK: ember.cast %{{.*}} : tensor<?x?x8xf32> to tensor<?x?x8xf16>
func.func @half(%q: tensor<?x?x8xf16>, %k: tensor<?x?x8xf16>, %v: tensor<?x?x8xf16>) -> tensor<?x?x8xf16> {
  %o, %l = ember.attention %q, %k, %v scale = 1.25e-01 : tensor<?x?x8xf16>, tensor<?x?x8xf16>, tensor<?x?x8xf16> -> tensor<?x?x8xf16>, tensor<?x?xf16>
  return %o : tensor<?x?x8xf16>
}

// The backward: P = exp(scores - logsumexp), dv = P^T g, dS = P (g v^T -
// rowsum(g out)), dq = dS k * scale, dk = dS^T q * scale.
// CHECK-LABEL: func.func @backward
// CHECK: %[[P:.*]] = ember.exp
// CHECK: %[[PT:.*]] = ember.transpose %[[P]]
// CHECK: %[[DV:.*]] = ember.matmul %[[PT]], %arg0
// CHECK: %[[DP:.*]] = ember.matmul %arg0,
// CHECK: %[[D:.*]] = ember.sum %{{.*}} dims = [2] keepdim
// CHECK: %[[DIFF:.*]] = ember.sub %[[DP]], %[[D]]
// CHECK: %[[DS:.*]] = ember.mul %[[P]], %[[DIFF]]
// CHECK: %[[DQ:.*]] = ember.matmul %[[DS]], %arg2
// CHECK: %[[DST:.*]] = ember.transpose %[[DS]]
// CHECK: %[[DK:.*]] = ember.matmul %[[DST]], %arg1
// CHECK: return %{{.*}}, %{{.*}}, %[[DV]]
func.func @backward(%g: tensor<?x?x4xf32>, %q: tensor<?x?x8xf32>, %k: tensor<?x?x8xf32>, %v: tensor<?x?x4xf32>, %o: tensor<?x?x4xf32>, %l: tensor<?x?xf32>) -> (tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x4xf32>) {
  %dq, %dk, %dv = ember.attention_backward %g, %q, %k, %v, %o, %l scale = 1.25e-01 causal : tensor<?x?x4xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x4xf32>, tensor<?x?xf32>
  return %dq, %dk, %dv : tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x4xf32>
}
