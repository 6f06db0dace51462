// RUN: ember-opt %s | ember-opt | FileCheck %s
// ember.attention and ember.attention_backward parse, verify, print and
// parse again.

// CHECK-LABEL: func @attention
// CHECK: %{{.*}}, %{{.*}} = ember.attention %arg0, %arg1, %arg2 mask %arg3 : tensor<1x?x?xf32> scale = 3.500000e-01 : tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x4xf32> -> tensor<?x?x4xf32>, tensor<?x?xf32>
func.func @attention(%q: tensor<?x?x8xf32>, %k: tensor<?x?x8xf32>, %v: tensor<?x?x4xf32>, %m: tensor<1x?x?xf32>) -> (tensor<?x?x4xf32>, tensor<?x?xf32>) {
  %o, %l = ember.attention %q, %k, %v mask %m : tensor<1x?x?xf32> scale = 3.5e-01 : tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x4xf32> -> tensor<?x?x4xf32>, tensor<?x?xf32>
  return %o, %l : tensor<?x?x4xf32>, tensor<?x?xf32>
}

// CHECK-LABEL: func @causal
// CHECK: ember.attention %arg0, %arg1, %arg2 scale = 1.250000e-01 causal : tensor<?x8xf64>, tensor<?x8xf64>, tensor<?x8xf64> -> tensor<?x8xf64>, tensor<?xf64>
func.func @causal(%q: tensor<?x8xf64>, %k: tensor<?x8xf64>, %v: tensor<?x8xf64>) -> tensor<?x8xf64> {
  %o, %l = ember.attention %q, %k, %v scale = 1.25e-01 causal : tensor<?x8xf64>, tensor<?x8xf64>, tensor<?x8xf64> -> tensor<?x8xf64>, tensor<?xf64>
  return %o : tensor<?x8xf64>
}

// CHECK-LABEL: func @backward
// CHECK: ember.attention_backward %arg0, %arg1, %arg2, %arg3, %arg4, %arg5 scale = 1.000000e+00 causal : tensor<2x?x?x4xf32>, tensor<2x?x?x8xf32>, tensor<2x?x?x8xf32>, tensor<2x?x?x4xf32>, tensor<2x?x?xf32>
func.func @backward(%g: tensor<2x?x?x4xf32>, %q: tensor<2x?x?x8xf32>, %k: tensor<2x?x?x8xf32>, %v: tensor<2x?x?x4xf32>, %o: tensor<2x?x?x4xf32>, %l: tensor<2x?x?xf32>) -> (tensor<2x?x?x8xf32>, tensor<2x?x?x8xf32>, tensor<2x?x?x4xf32>) {
  %dq, %dk, %dv = ember.attention_backward %g, %q, %k, %v, %o, %l scale = 1.0 causal : tensor<2x?x?x4xf32>, tensor<2x?x?x8xf32>, tensor<2x?x?x8xf32>, tensor<2x?x?x4xf32>, tensor<2x?x?xf32>
  return %dq, %dk, %dv : tensor<2x?x?x8xf32>, tensor<2x?x?x8xf32>, tensor<2x?x?x4xf32>
}
