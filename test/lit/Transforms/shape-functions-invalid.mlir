// RUN: ember-opt %s -split-input-file -ember-shape-functions -verify-diagnostics -o /dev/null

// The companion's name is taken: the pass refuses rather than overwrite it.
// expected-error @+1 {{'func.func' op already has a shape function 'forward.shapes'}}
func.func @forward(%x: tensor<?xf32>) -> tensor<?xf32> {
  return %x : tensor<?xf32>
}
func.func @forward.shapes(%x: tensor<?xf32>) -> tensor<1xi64> {
  %c = arith.constant dense<1> : tensor<1xi64>
  return %c : tensor<1xi64>
}

// -----

// Entry points return ranked tensors; a scalar result has no shape.
// expected-error @+1 {{returns a non-tensor value; entry points return ranked tensors}}
func.func @scalar(%x: f32) -> f32 {
  return %x : f32
}
