// RUN: ember-opt %s -ember-autodiff -split-input-file -verify-diagnostics

func.func @no_rule(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'math.exp' op is on the path from the differentiated arguments to the results of @no_rule but has no VJP rule (it does not implement DifferentiableOpInterface)}}
  %0 = math.exp %x : tensor<4xf32>
  %1 = ember.neg %0 : tensor<4xf32>
  return %1 : tensor<4xf32>
}

// -----

// An op without a rule off the path is fine: only x is differentiated and
// math.exp reads the integer-derived tensor only.
func.func @off_path(%x: tensor<4xf32>, %i: tensor<4xi32>) -> (tensor<4xf32>, tensor<4xf32>) {
  %0 = ember.cast %i : tensor<4xi32> to tensor<4xf32>
  %1 = math.exp %0 : tensor<4xf32>
  %2 = ember.mul %1, %x : tensor<4xf32>, tensor<4xf32> -> tensor<4xf32>
  return %1, %2 : tensor<4xf32>, tensor<4xf32>
}

