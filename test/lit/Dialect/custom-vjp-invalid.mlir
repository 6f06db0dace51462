// RUN: ember-opt %s -split-input-file -verify-diagnostics
// custom_vjp's verifier: operand counts, region arguments, yielded gradients.

func.func @too_few_operands(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{needs 1 primals and 1 forward outputs among its operands, but has 1}}
  %y = ember.custom_vjp(%x) {num_primals = 1 : i64} : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>, %g: tensor<4xf32>):
    ember.yield %g : tensor<4xf32>
  }
  return %y : tensor<4xf32>
}

// -----

func.func @result_type(%x: tensor<4xf32>, %y0: tensor<3xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{result #0 has type 'tensor<4xf32>' but the forward output it carries has type 'tensor<3xf32>'}}
  %y = ember.custom_vjp(%x, %y0) {num_primals = 1 : i64} : (tensor<4xf32>, tensor<3xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>, %b: tensor<3xf32>, %g: tensor<4xf32>):
    ember.yield %a : tensor<4xf32>
  }
  return %y : tensor<4xf32>
}

// -----

func.func @missing_cotangent(%x: tensor<4xf32>, %y0: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{backward region needs 3 arguments (one per operand, then one cotangent per result), but has 2}}
  %y = ember.custom_vjp(%x, %y0) {num_primals = 1 : i64} : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>, %b: tensor<4xf32>):
    ember.yield %a : tensor<4xf32>
  }
  return %y : tensor<4xf32>
}

// -----

func.func @gradient_count(%x: tensor<4xf32>, %y0: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{backward yields 0 gradients for 1 primals}}
  %y = ember.custom_vjp(%x, %y0) {num_primals = 1 : i64} : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>, %b: tensor<4xf32>, %g: tensor<4xf32>):
    ember.yield
  }
  return %y : tensor<4xf32>
}

// -----

func.func @gradient_type(%x: tensor<4xf32>, %y0: tensor<4xf64>) -> tensor<4xf64> {
  // expected-error @+1 {{gradient #0 has type 'tensor<4xf64>' but primal #0 has type 'tensor<4xf32>'}}
  %y = ember.custom_vjp(%x, %y0) {num_primals = 1 : i64} : (tensor<4xf32>, tensor<4xf64>) -> tensor<4xf64> {
  ^bb0(%a: tensor<4xf32>, %b: tensor<4xf64>, %g: tensor<4xf64>):
    ember.yield %g : tensor<4xf64>
  }
  return %y : tensor<4xf64>
}
