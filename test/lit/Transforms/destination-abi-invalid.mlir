// RUN: ember-opt %s -ember-destination-abi -verify-diagnostics

// expected-error @+1 {{returns a non-tensor value ('index'); the buffer ABI returns tensors only}}
func.func @scalar_result(%a: tensor<?xf32>) -> index {
  %c0 = arith.constant 0 : index
  return %c0 : index
}
