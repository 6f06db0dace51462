// RUN: ember-opt %s -split-input-file -verify-diagnostics
// ember.attention's verifier: one batch shape, q/k share E, k/v share S,
// results shaped from them, a mask of the scores' shape, not with causal.

func.func @key_width(%q: tensor<2x5x8xf32>, %k: tensor<2x7x4xf32>, %v: tensor<2x7x4xf32>) {
  // expected-error @+1 {{key must be [2, 7, 8]; got 'tensor<2x7x4xf32>'}}
  %o, %l = ember.attention %q, %k, %v scale = 1.0 : tensor<2x5x8xf32>, tensor<2x7x4xf32>, tensor<2x7x4xf32> -> tensor<2x5x4xf32>, tensor<2x5xf32>
  return
}

// -----

func.func @value_length(%q: tensor<2x5x8xf32>, %k: tensor<2x7x8xf32>, %v: tensor<2x6x4xf32>) {
  // expected-error @+1 {{value must be [2, 7, 4]; got 'tensor<2x6x4xf32>'}}
  %o, %l = ember.attention %q, %k, %v scale = 1.0 : tensor<2x5x8xf32>, tensor<2x7x8xf32>, tensor<2x6x4xf32> -> tensor<2x5x4xf32>, tensor<2x5xf32>
  return
}

// -----

func.func @result_shape(%q: tensor<2x5x8xf32>, %k: tensor<2x7x8xf32>, %v: tensor<2x7x4xf32>) {
  // expected-error @+1 {{output must be [2, 5, 4]; got 'tensor<2x5x8xf32>'}}
  %o, %l = ember.attention %q, %k, %v scale = 1.0 : tensor<2x5x8xf32>, tensor<2x7x8xf32>, tensor<2x7x4xf32> -> tensor<2x5x8xf32>, tensor<2x5xf32>
  return
}

// -----

func.func @lse_shape(%q: tensor<2x5x8xf32>, %k: tensor<2x7x8xf32>, %v: tensor<2x7x4xf32>) {
  // expected-error @+1 {{logsumexp must be [2, 5]; got 'tensor<2x7xf32>'}}
  %o, %l = ember.attention %q, %k, %v scale = 1.0 : tensor<2x5x8xf32>, tensor<2x7x8xf32>, tensor<2x7x4xf32> -> tensor<2x5x4xf32>, tensor<2x7xf32>
  return
}

// -----

func.func @mask_shape(%q: tensor<2x5x8xf32>, %k: tensor<2x7x8xf32>, %v: tensor<2x7x4xf32>, %m: tensor<2x5x5xf32>) {
  // expected-error @+1 {{mask must be [2, 5, 7]; got 'tensor<2x5x5xf32>'}}
  %o, %l = ember.attention %q, %k, %v mask %m : tensor<2x5x5xf32> scale = 1.0 : tensor<2x5x8xf32>, tensor<2x7x8xf32>, tensor<2x7x4xf32> -> tensor<2x5x4xf32>, tensor<2x5xf32>
  return
}

// -----

func.func @mask_and_causal(%q: tensor<2x5x8xf32>, %k: tensor<2x7x8xf32>, %v: tensor<2x7x4xf32>, %m: tensor<1x5x7xf32>) {
  // expected-error @+1 {{takes a mask or causal, not both}}
  %o, %l = ember.attention %q, %k, %v mask %m : tensor<1x5x7xf32> scale = 1.0 causal : tensor<2x5x8xf32>, tensor<2x7x8xf32>, tensor<2x7x4xf32> -> tensor<2x5x4xf32>, tensor<2x5xf32>
  return
}

// -----

func.func @ranks(%q: tensor<5x8xf32>, %k: tensor<2x7x8xf32>, %v: tensor<2x7x4xf32>) {
  // expected-error @+1 {{query, key and value must have one rank}}
  %o, %l = ember.attention %q, %k, %v scale = 1.0 : tensor<5x8xf32>, tensor<2x7x8xf32>, tensor<2x7x4xf32> -> tensor<5x4xf32>, tensor<5xf32>
  return
}

// -----

func.func @backward_dtype(%g: tensor<5x4xf32>, %q: tensor<5x8xf32>, %k: tensor<7x8xf32>, %v: tensor<7x4xf32>, %o: tensor<5x4xf32>, %l: tensor<5xf64>) {
  // expected-error @+1 {{logsumexp must have element type 'f32'; got 'tensor<5xf64>'}}
  %dq, %dk, %dv = ember.attention_backward %g, %q, %k, %v, %o, %l scale = 1.0 : tensor<5x4xf32>, tensor<5x8xf32>, tensor<7x8xf32>, tensor<7x4xf32>, tensor<5xf64>
  return
}
