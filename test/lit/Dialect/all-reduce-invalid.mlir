// RUN: ember-opt %s -split-input-file -verify-diagnostics
// The all_reduce verifier: a known reduce op, avg only on floats, a group
// number >= 0.

func.func @reduce_op(%x: tensor<4xf32>) {
  // expected-error @+1 {{reduce_op must be 0 (sum), 1 (avg), 2 (min), 3 (max) or 4 (product), got 7}}
  %y = ember.all_reduce %x {reduce_op = 7 : i64, group = 0 : i64} : tensor<4xf32>
  return
}

// -----

func.func @avg_int(%x: tensor<4xi32>) {
  // expected-error @+1 {{reduce_op avg needs a floating element type}}
  %y = ember.all_reduce %x {reduce_op = 1 : i64, group = 0 : i64} : tensor<4xi32>
  return
}

// -----

func.func @group(%x: tensor<4xf64>) {
  // expected-error @+1 {{group must be a process group number >= 0}}
  %y = ember.all_reduce %x {reduce_op = 0 : i64, group = -1 : i64} : tensor<4xf64>
  return
}
