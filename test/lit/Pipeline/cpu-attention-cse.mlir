// RUN: ember-opt %s -ember-lower-to-llvm | FileCheck %s
// A gradient program repeats the forward ops its VJPs read: here the
// attention and the product after it appear twice, as the autodiff leaves
// them. They merge before attention becomes a runtime call (which writes a
// buffer and so never merges): one forward attention call, one GEMM for
// the repeated product, and the backward call.

// CHECK-LABEL: llvm.func @ember_entry_repeated(
// CHECK: llvm.call @ember_cpu_attention_f32
// CHECK-NOT: llvm.call @ember_cpu_attention_f32
// CHECK: llvm.call @ember_cpu_sgemm
// CHECK-NOT: llvm.call @ember_cpu_sgemm
// CHECK-NOT: llvm.call @ember_cpu_attention_f32
// CHECK: llvm.call @ember_cpu_attention_backward_f32
// CHECK-NOT: llvm.call @ember_cpu_attention_f32
// CHECK-NOT: llvm.call @ember_cpu_sgemm
func.func @repeated(%q: tensor<2x?x8xf32>, %k: tensor<2x?x8xf32>, %v: tensor<2x?x8xf32>, %w: tensor<8x8xf32>, %g: tensor<2x?x8xf32>) -> (tensor<2x?x8xf32>, tensor<2x?x8xf32>, tensor<2x?x8xf32>, tensor<2x?x8xf32>) {
  %o, %l = ember.attention %q, %k, %v scale = 1.25e-01 causal : tensor<2x?x8xf32>, tensor<2x?x8xf32>, tensor<2x?x8xf32> -> tensor<2x?x8xf32>, tensor<2x?xf32>
  %y = ember.matmul %o, %w : tensor<2x?x8xf32>, tensor<8x8xf32> -> tensor<2x?x8xf32>
  %o2, %l2 = ember.attention %q, %k, %v scale = 1.25e-01 causal : tensor<2x?x8xf32>, tensor<2x?x8xf32>, tensor<2x?x8xf32> -> tensor<2x?x8xf32>, tensor<2x?xf32>
  %y2 = ember.matmul %o2, %w : tensor<2x?x8xf32>, tensor<8x8xf32> -> tensor<2x?x8xf32>
  %gy = ember.mul %g, %y2 : tensor<2x?x8xf32>, tensor<2x?x8xf32> -> tensor<2x?x8xf32>
  %dq, %dk, %dv = ember.attention_backward %gy, %q, %k, %v, %o2, %l2 scale = 1.25e-01 causal : tensor<2x?x8xf32>, tensor<2x?x8xf32>, tensor<2x?x8xf32>, tensor<2x?x8xf32>, tensor<2x?xf32>
  return %y, %dq, %dk, %dv : tensor<2x?x8xf32>, tensor<2x?x8xf32>, tensor<2x?x8xf32>, tensor<2x?x8xf32>
}
