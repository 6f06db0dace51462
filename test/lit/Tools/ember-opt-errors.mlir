// RUN: not ember-opt %s 2>&1 | FileCheck %s
// Invalid input: a located diagnostic and a non-zero exit.

// CHECK: ember-opt-errors.mlir:[[@LINE+2]]:8: error: 'ember.matmul' op contracting dims differ (4 vs 5)
func.func @bad(%a: tensor<3x4xf32>, %b: tensor<5x6xf32>) -> tensor<3x6xf32> {
  %0 = ember.matmul %a, %b : tensor<3x4xf32>, tensor<5x6xf32> -> tensor<3x6xf32>
  return %0 : tensor<3x6xf32>
}
