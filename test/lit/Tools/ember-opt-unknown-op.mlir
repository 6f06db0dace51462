// RUN: not ember-opt %s 2>&1 | FileCheck %s

// CHECK: ember-opt-unknown-op.mlir:[[@LINE+2]]:8: error: custom op 'ember.conv9d' is unknown
func.func @f(%a: tensor<3xf32>) -> tensor<3xf32> {
  %0 = ember.conv9d %a : tensor<3xf32>
  return %0 : tensor<3xf32>
}
