// RUN: ember-opt %s -split-input-file -verify-diagnostics
// The convolution verifier: 1 to 3 spatial dims, one rank, one entry per
// spatial dim in each attribute, channels that fit the groups, and static
// output sizes that the convolution produces.

func.func @rank(%x: tensor<2x3xf32>, %w: tensor<4x3xf32>) {
  // expected-error @+1 {{input must be [N, C, spatial...] with 1 to 3 spatial dims; got 'tensor<2x3xf32>'}}
  %y = ember.conv %x, %w {strides = array<i64>, padding_low = array<i64>, padding_high = array<i64>, dilations = array<i64>, groups = 1 : i64} : tensor<2x3xf32>, tensor<4x3xf32> -> tensor<2x4xf32>
  return
}

// -----

func.func @attribute_length(%x: tensor<2x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{strides must have 2 entries (one per spatial dim); got 1}}
  %y = ember.conv %x, %w {strides = array<i64: 1>, padding_low = array<i64: 0, 0>, padding_high = array<i64: 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64} : tensor<2x3x8x8xf32>, tensor<4x3x3x3xf32> -> tensor<2x4x6x6xf32>
  return
}

// -----

func.func @channels(%x: tensor<2x5x8x8xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{input 'tensor<2x5x8x8xf32>' has 5 channels; weight 'tensor<4x3x3x3xf32>' with 1 groups takes 3 x 1}}
  %y = ember.conv %x, %w {strides = array<i64: 1, 1>, padding_low = array<i64: 0, 0>, padding_high = array<i64: 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64} : tensor<2x5x8x8xf32>, tensor<4x3x3x3xf32> -> tensor<2x4x6x6xf32>
  return
}

// -----

func.func @groups(%x: tensor<2x6x8x8xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{weight 'tensor<4x3x3x3xf32>': its 4 output channels are not divisible by 3 groups}}
  %y = ember.conv %x, %w {strides = array<i64: 1, 1>, padding_low = array<i64: 0, 0>, padding_high = array<i64: 0, 0>, dilations = array<i64: 1, 1>, groups = 3 : i64} : tensor<2x6x8x8xf32>, tensor<4x3x3x3xf32> -> tensor<2x4x6x6xf32>
  return
}

// -----

func.func @output_size(%x: tensor<2x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{spatial dim 1: input 'tensor<2x3x8x8xf32>' with weight 'tensor<4x3x3x3xf32>' convolves to 4, but the output is 'tensor<2x4x6x5xf32>'}}
  %y = ember.conv %x, %w {strides = array<i64: 1, 2>, padding_low = array<i64: 0, 1>, padding_high = array<i64: 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64} : tensor<2x3x8x8xf32>, tensor<4x3x3x3xf32> -> tensor<2x4x6x5xf32>
  return
}

// -----

func.func @too_small(%x: tensor<2x3x2x8xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{spatial dim 0: input 'tensor<2x3x2x8xf32>' with weight 'tensor<4x3x3x3xf32>' convolves to nothing, but the output is 'tensor<2x4x?x6xf32>'}}
  %y = ember.conv %x, %w {strides = array<i64: 1, 1>, padding_low = array<i64: 0, 0>, padding_high = array<i64: 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64} : tensor<2x3x2x8xf32>, tensor<4x3x3x3xf32> -> tensor<2x4x?x6xf32>
  return
}

// -----

func.func @negative_padding(%x: tensor<2x3x8xf32>, %w: tensor<4x3x3xf32>) {
  // expected-error @+1 {{padding must be >= 0}}
  %y = ember.conv %x, %w {strides = array<i64: 1>, padding_low = array<i64: -1>, padding_high = array<i64: 0>, dilations = array<i64: 1>, groups = 1 : i64} : tensor<2x3x8xf32>, tensor<4x3x3xf32> -> tensor<2x4x5xf32>
  return
}

// -----

func.func @data_sizes(%g: tensor<2x4x6xf32>, %w: tensor<4x3x3xf32>, %n: index) {
  // expected-error @+1 {{takes one size per spatial dim of the result 'tensor<2x3x8xf32>'; got 2}}
  %dx = ember.conv_backward_data %g, %w sizes(%n, %n) {strides = array<i64: 1>, padding_low = array<i64: 0>, padding_high = array<i64: 0>, dilations = array<i64: 1>, groups = 1 : i64} : tensor<2x4x6xf32>, tensor<4x3x3xf32> -> tensor<2x3x8xf32>
  return
}

// -----

func.func @data_shape(%g: tensor<2x4x6xf32>, %w: tensor<4x3x3xf32>, %n: index) {
  // expected-error @+1 {{spatial dim 0: input 'tensor<2x3x9xf32>' with weight 'tensor<4x3x3xf32>' convolves to 7, but the output is 'tensor<2x4x6xf32>'}}
  %dx = ember.conv_backward_data %g, %w sizes(%n) {strides = array<i64: 1>, padding_low = array<i64: 0>, padding_high = array<i64: 0>, dilations = array<i64: 1>, groups = 1 : i64} : tensor<2x4x6xf32>, tensor<4x3x3xf32> -> tensor<2x3x9xf32>
  return
}

// -----

func.func @weight_shape(%x: tensor<2x6x8xf32>, %g: tensor<2x4x6xf32>, %k: index) {
  // expected-error @+1 {{input 'tensor<2x6x8xf32>' has 6 channels; weight 'tensor<4x2x3xf32>' with 2 groups takes 2 x 2}}
  %dw = ember.conv_backward_weight %x, %g sizes(%k) {strides = array<i64: 1>, padding_low = array<i64: 0>, padding_high = array<i64: 0>, dilations = array<i64: 1>, groups = 2 : i64} : tensor<2x6x8xf32>, tensor<2x4x6xf32> -> tensor<4x2x3xf32>
  return
}
