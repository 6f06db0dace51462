// RUN: not ember-opt %s -ember-autodiff="func=f wrt=3" 2>&1 | FileCheck %s --check-prefix=RANGE
// RUN: not ember-opt %s -ember-autodiff="func=f wrt=1" 2>&1 | FileCheck %s --check-prefix=INT
// RUN: not ember-opt %s -ember-autodiff="func=missing" 2>&1 | FileCheck %s --check-prefix=MISSING
// RUN: not ember-opt %s -ember-autodiff="func=g" 2>&1 | FileCheck %s --check-prefix=TAKEN

// RANGE: error: 'func.func' op has no argument #3 to differentiate (it has 2)
// INT: error: 'func.func' op argument #1 of type 'tensor<4xi32>' cannot be differentiated (only floating-point tensors)
// MISSING: error: ember-autodiff: no function named @missing
// TAKEN: error: 'func.func' op cannot get a VJP function: @g_vjp already exists
func.func @f(%x: tensor<4xf32>, %i: tensor<4xi32>) -> tensor<4xf32> {
  return %x : tensor<4xf32>
}

func.func @g(%x: tensor<4xf32>) -> tensor<4xf32> {
  return %x : tensor<4xf32>
}

func.func @g_vjp(%x: tensor<4xf32>) -> tensor<4xf32> {
  return %x : tensor<4xf32>
}
