// RUN: ember-opt %s -pass-pipeline='builtin.module(ember-conv-to-runtime,func.func(convert-ember-to-linalg),ember-shape-functions)' | FileCheck %s

// The companion of @f returns the sizes of every dim of every result, with
// the computation folded away: only the input's dynamic dim is read.
// CHECK-LABEL: func.func @f(
// CHECK-LABEL: func.func @f.shapes(
// CHECK-SAME: %[[A:.*]]: tensor<?x4xf32>, %{{.*}}: tensor<4xf32>) -> tensor<3xi64>
// CHECK-NOT: linalg
// CHECK-DAG: %[[FOUR:.*]] = arith.constant 4 : i64
// CHECK-DAG: %[[N:.*]] = tensor.dim %[[A]], %{{.*}} : tensor<?x4xf32>
// CHECK: %[[N64:.*]] = arith.index_cast %[[N]] : index to i64
// CHECK: %[[SHAPES:.*]] = tensor.from_elements %[[N64]], %[[FOUR]], %[[FOUR]] : tensor<3xi64>
// CHECK-NOT: linalg
// CHECK: return %[[SHAPES]] : tensor<3xi64>
func.func @f(%a: tensor<?x4xf32>, %w: tensor<4xf32>) -> (tensor<?x4xf32>, tensor<4xf32>) {
  %0 = ember.mul %a, %w : tensor<?x4xf32>, tensor<4xf32> -> tensor<?x4xf32>
  %1 = ember.exp %0 : tensor<?x4xf32>
  return %1, %w : tensor<?x4xf32>, tensor<4xf32>
}

// A 0-d result still gets a one-element shape tensor.
// CHECK-LABEL: func.func @scalar.shapes(
// CHECK-SAME: -> tensor<1xi64>
// CHECK: %[[ZERO:.*]] = arith.constant dense<0> : tensor<1xi64>
// CHECK: return %[[ZERO]]
func.func @scalar(%a: tensor<f32>) -> tensor<f32> {
  %0 = ember.exp %a : tensor<f32>
  return %0 : tensor<f32>
}

// Private functions are not entry points and get no companion.
// CHECK-NOT: @helper.shapes
func.func private @helper(%a: tensor<f32>) -> tensor<f32> {
  return %a : tensor<f32>
}

// A convolution run by the runtime (ember-conv-to-runtime: a call that
// fills a fresh buffer) leaves no call, allocation or copy in the shape
// function: its sizes come from the input's and the weight's dims.
// CHECK-LABEL: func.func @conv.shapes(
// CHECK-NOT: call
// CHECK-NOT: memref.alloc
// CHECK: tensor.from_elements
// CHECK-NOT: call
// CHECK: return
func.func @conv(%x: tensor<?x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<?x4x6x6xf32> {
  %y = ember.conv %x, %w {strides = array<i64: 1, 1>, padding_low = array<i64: 0, 0>, padding_high = array<i64: 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64} : tensor<?x3x8x8xf32>, tensor<4x3x3x3xf32> -> tensor<?x4x6x6xf32>
  %z = ember.exp %y : tensor<?x4x6x6xf32>
  return %z : tensor<?x4x6x6xf32>
}
