// RUN: ember-opt %s -split-input-file -verify-diagnostics

func.func @no_namespace(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{callee 'swish' is not "namespace::op"}}
  %y = ember.custom_call "swish"(%x) : (tensor<4xf32>) -> tensor<4xf32>
  return %y : tensor<4xf32>
}

// -----

func.func @int_attribute(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{op_attributes: 'beta' is not an f64 value}}
  %y = ember.custom_call "demo::swish"(%x) {op_attributes = {beta = 1 : i64}} : (tensor<4xf32>) -> tensor<4xf32>
  return %y : tensor<4xf32>
}

// -----

func.func @no_results(%x: tensor<4xf32>) {
  // expected-error @+1 {{has no results}}
  ember.custom_call "demo::sink"(%x) : (tensor<4xf32>) -> ()
  return
}
