// RUN: ember-opt %s -ember-autodiff | FileCheck %s

// attention: q, k, v get one attention_backward, which reads the forward's
// output and logsumexp (the weights are recomputed from it, never saved).
// CHECK-LABEL: func.func @attention_vjp
// CHECK-SAME: (%[[Q:.*]]: tensor<?x?x8xf32>, %[[K:.*]]: tensor<?x?x8xf32>, %[[V:.*]]: tensor<?x?x4xf32>, %[[G:.*]]: tensor<?x?x4xf32>)
// CHECK: %[[O:.*]], %[[L:.*]] = ember.attention %[[Q]], %[[K]], %[[V]] scale = 3.500000e-01 causal
// CHECK: %[[DQ:.*]], %[[DK:.*]], %[[DV:.*]] = ember.attention_backward %[[G]], %[[Q]], %[[K]], %[[V]], %[[O]], %[[L]] scale = 3.500000e-01 causal
// CHECK: return %[[O]], %[[DQ]], %[[DK]], %[[DV]]
func.func @attention(%q: tensor<?x?x8xf32>, %k: tensor<?x?x8xf32>, %v: tensor<?x?x4xf32>) -> tensor<?x?x4xf32> {
  %o, %l = ember.attention %q, %k, %v scale = 3.5e-01 causal : tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x4xf32> -> tensor<?x?x4xf32>, tensor<?x?xf32>
  return %o : tensor<?x?x4xf32>
}

// A float mask's gradient is the scores' gradient dS = P (g v^T -
// rowsum(g out)), P = exp(scores - logsumexp).
// CHECK-LABEL: func.func @masked_vjp
// CHECK: %[[O:.*]], %[[L:.*]] = ember.attention
// CHECK: ember.attention_backward %{{.*}} mask %arg3
// CHECK: %[[S:.*]] = ember.add %{{.*}}, %arg3
// CHECK: %[[LC:.*]] = ember.reshape %[[L]]
// CHECK: %[[P:.*]] = ember.exp
// CHECK: %[[D:.*]] = ember.sum %{{.*}} dims = [1] keepdim
// CHECK: %[[DP:.*]] = ember.matmul %arg4
// CHECK: %[[DIFF:.*]] = ember.sub %[[DP]], %[[D]]
// CHECK: %[[DS:.*]] = ember.mul %[[P]], %[[DIFF]]
// CHECK: return %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[DS]]
func.func @masked(%q: tensor<?x8xf32>, %k: tensor<?x8xf32>, %v: tensor<?x8xf32>, %m: tensor<?x?xf32>) -> tensor<?x8xf32> {
  %o, %l = ember.attention %q, %k, %v mask %m : tensor<?x?xf32> scale = 1.25e-01 : tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32> -> tensor<?x8xf32>, tensor<?xf32>
  return %o : tensor<?x8xf32>
}
