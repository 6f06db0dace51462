// RUN: ember-opt %s -convert-ember-to-linalg -verify-diagnostics -o /dev/null

// Composite ops have no pattern of their own: ember-decompose expands them
// first, and the lowering says so instead of leaving ember ops behind.
func.func @softmax(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  // expected-error @+1 {{has no lowering to linalg (run ember-decompose first for composite ops)}}
  %y = ember.softmax %x dim = 1 : tensor<2x8xf32>
  return %y : tensor<2x8xf32>
}
