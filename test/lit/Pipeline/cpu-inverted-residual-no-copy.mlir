// RUN: ember-opt %s -ember-lower-to-llvm | FileCheck %s
// One inverted-residual block of mobilenet_v3_small as `ember.from_torch`
// exports it (batch symbolic): depthwise conv as one grouped ember.conv,
// batch norm, hardswish, squeeze-excitation (spatial mean through a
// reshape, two 1x1 convs on one pixel, hardsigmoid gate), the projecting
// 1x1 conv. Every conv output and every reshape between kernels must be
// read in place: when the depthwise conv was exported as per-channel
// slices and a concat, mobilenet_v3_small lowered to 293 `memrefCopy`
// calls (~11% of its CPU time); exported as below it lowers to none.
// Counted, not timed: four conv calls (plain, or with a fused epilogue), no
// `memrefCopy` and no memcpy: the returned conv writes the caller's output
// buffer itself (ember-fuse-conv-epilogue's writeDirect; it was a fresh
// buffer copied into the output before).

// CHECK-NOT: memrefCopy
// CHECK-NOT: llvm.intr.memcpy
// CHECK-COUNT-4: llvm.call @ember_cpu_conv_{{(fused_)?}}f32(
// CHECK-NOT: llvm.call @ember_cpu_conv_{{(fused_)?}}f32(
// CHECK-NOT: llvm.intr.memcpy
// CHECK-NOT: memrefCopy
func.func @inverted_residual(%x: tensor<?x16x56x56xf32>, %dw: tensor<16x1x3x3xf32>,
                             %scale: tensor<16xf32>, %shift: tensor<16xf32>,
                             %w1: tensor<8x16x1x1xf32>, %b1: tensor<8xf32>,
                             %w2: tensor<16x8x1x1xf32>, %b2: tensor<16xf32>,
                             %wp: tensor<24x16x1x1xf32>) -> tensor<?x24x56x56xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant dense<0.0> : tensor<f32>
  %three = arith.constant dense<3.0> : tensor<f32>
  %six = arith.constant dense<6.0> : tensor<f32>
  %n = tensor.dim %x, %c0 : tensor<?x16x56x56xf32>
  %d = ember.conv %x, %dw {dilations = array<i64: 1, 1>, groups = 16 : i64, padding_high = array<i64: 1, 1>, padding_low = array<i64: 1, 1>, strides = array<i64: 1, 1>} : tensor<?x16x56x56xf32>, tensor<16x1x3x3xf32> -> tensor<?x16x56x56xf32>
  %s = ember.reshape %scale : tensor<16xf32> -> tensor<1x16x1x1xf32>
  %t = ember.reshape %shift : tensor<16xf32> -> tensor<1x16x1x1xf32>
  %bn0 = ember.mul %d, %s : tensor<?x16x56x56xf32>, tensor<1x16x1x1xf32> -> tensor<?x16x56x56xf32>
  %bn = ember.add %bn0, %t : tensor<?x16x56x56xf32>, tensor<1x16x1x1xf32> -> tensor<?x16x56x56xf32>
  %h0 = ember.add %bn, %three : tensor<?x16x56x56xf32>, tensor<f32> -> tensor<?x16x56x56xf32>
  %h1 = ember.maximum %h0, %zero : tensor<?x16x56x56xf32>, tensor<f32> -> tensor<?x16x56x56xf32>
  %h2 = ember.minimum %h1, %six : tensor<?x16x56x56xf32>, tensor<f32> -> tensor<?x16x56x56xf32>
  %h3 = ember.mul %bn, %h2 : tensor<?x16x56x56xf32>, tensor<?x16x56x56xf32> -> tensor<?x16x56x56xf32>
  %hs = ember.div %h3, %six : tensor<?x16x56x56xf32>, tensor<f32> -> tensor<?x16x56x56xf32>
  %flat = ember.reshape %hs[%n] : tensor<?x16x56x56xf32> -> tensor<?x16x3136xf32>
  %m = ember.mean %flat dims = [2] keepdim : tensor<?x16x3136xf32> -> tensor<?x16x1xf32>
  %p = ember.reshape %m[%n] : tensor<?x16x1xf32> -> tensor<?x16x1x1xf32>
  %q0 = ember.conv %p, %w1 {dilations = array<i64: 1, 1>, groups = 1 : i64, padding_high = array<i64: 0, 0>, padding_low = array<i64: 0, 0>, strides = array<i64: 1, 1>} : tensor<?x16x1x1xf32>, tensor<8x16x1x1xf32> -> tensor<?x8x1x1xf32>
  %bb1 = ember.reshape %b1 : tensor<8xf32> -> tensor<8x1x1xf32>
  %q1 = ember.add %q0, %bb1 : tensor<?x8x1x1xf32>, tensor<8x1x1xf32> -> tensor<?x8x1x1xf32>
  %q2 = ember.relu %q1 : tensor<?x8x1x1xf32>
  %g0 = ember.conv %q2, %w2 {dilations = array<i64: 1, 1>, groups = 1 : i64, padding_high = array<i64: 0, 0>, padding_low = array<i64: 0, 0>, strides = array<i64: 1, 1>} : tensor<?x8x1x1xf32>, tensor<16x8x1x1xf32> -> tensor<?x16x1x1xf32>
  %bb2 = ember.reshape %b2 : tensor<16xf32> -> tensor<16x1x1xf32>
  %g1 = ember.add %g0, %bb2 : tensor<?x16x1x1xf32>, tensor<16x1x1xf32> -> tensor<?x16x1x1xf32>
  %g2 = ember.div %g1, %six : tensor<?x16x1x1xf32>, tensor<f32> -> tensor<?x16x1x1xf32>
  %g3 = ember.add %g2, %three : tensor<?x16x1x1xf32>, tensor<f32> -> tensor<?x16x1x1xf32>
  %g4 = ember.maximum %g3, %zero : tensor<?x16x1x1xf32>, tensor<f32> -> tensor<?x16x1x1xf32>
  %g5 = ember.minimum %g4, %six : tensor<?x16x1x1xf32>, tensor<f32> -> tensor<?x16x1x1xf32>
  %se = ember.mul %g5, %hs : tensor<?x16x1x1xf32>, tensor<?x16x56x56xf32> -> tensor<?x16x56x56xf32>
  %y = ember.conv %se, %wp {dilations = array<i64: 1, 1>, groups = 1 : i64, padding_high = array<i64: 0, 0>, padding_low = array<i64: 0, 0>, strides = array<i64: 1, 1>} : tensor<?x16x56x56xf32>, tensor<24x16x1x1xf32> -> tensor<?x24x56x56xf32>
  return %y : tensor<?x24x56x56xf32>
}
