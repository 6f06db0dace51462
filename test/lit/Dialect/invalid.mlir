// RUN: ember-opt %s -split-input-file -verify-diagnostics
// Each verifier error names the shapes or attributes at fault.

func.func @broadcast_mismatch(%a: tensor<3x4xf32>, %b: tensor<5x4xf32>) {
  // expected-error @+2 {{operands have incompatible shapes for broadcasting: tensor<3x4xf32> and tensor<5x4xf32>}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = ember.add %a, %b : tensor<3x4xf32>, tensor<5x4xf32> -> tensor<3x4xf32>
  return
}

// -----

func.func @element_type_mismatch(%a: tensor<4xf32>, %b: tensor<4xf64>) {
  // expected-error @+2 {{operands have different element types: tensor<4xf32> and tensor<4xf64>}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = ember.mul %a, %b : tensor<4xf32>, tensor<4xf64> -> tensor<4xf32>
  return
}

// -----

func.func @wrong_result_type(%a: tensor<4xf32>, %b: tensor<4xf32>) {
  // expected-error @+2 {{inferred type(s) 'tensor<4xf32>' are incompatible with return type(s) of operation 'tensor<5xf32>'}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = ember.add %a, %b : tensor<4xf32>, tensor<4xf32> -> tensor<5xf32>
  return
}

// -----

func.func @float_only(%a: tensor<4xi32>) {
  // expected-error @+1 {{must be ranked tensor of 16-bit float or bfloat16 type or 32-bit float or 64-bit float values}}
  %0 = ember.exp %a : tensor<4xi32>
  return
}

// -----

func.func @reduce_dim_range(%a: tensor<2x3xf32>) {
  // expected-error @+2 {{dim 2 is out of range for tensor<2x3xf32> (rank 2)}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = ember.sum %a dims = [2] : tensor<2x3xf32> -> tensor<2xf32>
  return
}

// -----

func.func @reduce_repeated(%a: tensor<2x3xf32>) {
  // expected-error @+2 {{dim 1 is repeated}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = ember.max %a dims = [1, 1] : tensor<2x3xf32> -> tensor<2xf32>
  return
}

// -----

func.func @reduce_empty(%a: tensor<2x3xf32>) {
  // expected-error @+2 {{needs at least one dim to reduce}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = ember.sum %a dims = [] : tensor<2x3xf32> -> tensor<2x3xf32>
  return
}

// -----

func.func @argmax_range(%a: tensor<2x3xf32>) {
  // expected-error @+2 {{dim -1 is out of range for tensor<2x3xf32> (rank 2)}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = ember.argmax %a dim = -1 : tensor<2x3xf32> -> tensor<2xi64>
  return
}

// -----

func.func @matmul_k(%a: tensor<3x4xf32>, %b: tensor<5x6xf32>) {
  // expected-error @+2 {{contracting dims differ (4 vs 5): tensor<3x4xf32> and tensor<5x6xf32>}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = ember.matmul %a, %b : tensor<3x4xf32>, tensor<5x6xf32> -> tensor<3x6xf32>
  return
}

// -----

func.func @matmul_rank(%a: tensor<4xf32>, %b: tensor<4x6xf32>) {
  // expected-error @+2 {{operands must have rank >= 2, got tensor<4xf32> and tensor<4x6xf32>}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = ember.matmul %a, %b : tensor<4xf32>, tensor<4x6xf32> -> tensor<6xf32>
  return
}

// -----

func.func @matmul_batch(%a: tensor<2x3x4xf32>, %b: tensor<3x4x6xf32>) {
  // expected-error @+2 {{batch dims do not broadcast: tensor<2x3x4xf32> and tensor<3x4x6xf32>}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = ember.matmul %a, %b : tensor<2x3x4xf32>, tensor<3x4x6xf32> -> tensor<2x3x6xf32>
  return
}

// -----

func.func @reshape_count(%a: tensor<2x3xf32>) {
  // expected-error @+1 {{cannot reshape 'tensor<2x3xf32>' (6 elements) to 'tensor<7xf32>' (7 elements)}}
  %0 = ember.reshape %a : tensor<2x3xf32> -> tensor<7xf32>
  return
}

// -----

func.func @reshape_sizes(%a: tensor<?x3xf32>) {
  // expected-error @+1 {{needs one size operand per dynamic result dim: 'tensor<?xf32>' has 1, got 0}}
  %0 = ember.reshape %a : tensor<?x3xf32> -> tensor<?xf32>
  return
}

// -----

func.func @transpose_perm(%a: tensor<2x3xf32>) {
  // expected-error @+2 {{permutation [0, 0] is not a permutation of the 2 dims of tensor<2x3xf32>}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = ember.transpose %a perm = [0, 0] : tensor<2x3xf32> -> tensor<2x2xf32>
  return
}

// -----

func.func @broadcast_to_bad(%a: tensor<2x3xf32>) {
  // expected-error @+1 {{cannot broadcast 'tensor<2x3xf32>' to 'tensor<4x3xf32>'}}
  %0 = ember.broadcast_to %a : tensor<2x3xf32> -> tensor<4x3xf32>
  return
}

// -----

func.func @slice_step(%a: tensor<8xf32>) {
  // expected-error @+2 {{step must be positive, got 0 for dim 0}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = ember.slice %a start = [0] stop = [8] step = [0] : tensor<8xf32> -> tensor<8xf32>
  return
}

// -----

func.func @slice_arity(%a: tensor<8x2xf32>) {
  // expected-error @+2 {{needs start, stop and step for each of the 2 dims of tensor<8x2xf32>}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = ember.slice %a start = [0] stop = [8] step = [1] : tensor<8x2xf32> -> tensor<8x2xf32>
  return
}

// -----

func.func @concat_dims(%a: tensor<2x3xf32>, %b: tensor<2x4xf32>) {
  // expected-error @+2 {{inputs differ in dim 1: tensor<2x3xf32> and tensor<2x4xf32>}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = ember.concat %a, %b dim = 0 : tensor<2x3xf32>, tensor<2x4xf32> -> tensor<4x3xf32>
  return
}

// -----

func.func @softmax_dim(%a: tensor<2x3xf32>) {
  // expected-error @+1 {{dim 2 is out of range for 'tensor<2x3xf32>' (rank 2)}}
  %0 = ember.softmax %a dim = 2 : tensor<2x3xf32>
  return
}

// -----

func.func @layer_norm_weight_size(%a: tensor<2x3xf32>, %w: tensor<4xf32>) {
  // expected-error @+1 {{weight has 4 elements; the rows have 3}}
  %0 = ember.layer_norm %a weight %w : tensor<4xf32> eps = 1.0e-05 : tensor<2x3xf32>
  return
}

// -----

func.func @rms_norm_bias_type(%a: tensor<2x3xf32>, %b: tensor<3xf64>) {
  // expected-error @+1 {{bias must be a 1-D tensor of 'f32'; got 'tensor<3xf64>'}}
  %0 = ember.rms_norm %a bias %b : tensor<3xf64> eps = 1.0e-05 : tensor<2x3xf32>
  return
}

// -----

func.func @layer_norm_scalar(%a: tensor<f32>) {
  // expected-error @+1 {{normalizes the innermost dim; got a 0-d tensor}}
  %0 = ember.layer_norm %a eps = 1.0e-05 : tensor<f32>
  return
}

// -----

func.func @softmax_backward_dim(%g: tensor<2x3xf32>) {
  // expected-error @+1 {{dim 2 is out of range for 'tensor<2x3xf32>' (rank 2)}}
  %0 = ember.softmax_backward %g, %g dim = 2 : tensor<2x3xf32>
  return
}

// -----

func.func @cast_shape(%a: tensor<2x3xf32>) {
  // expected-error @+1 {{requires the same shape for all operands and results}}
  %0 = ember.cast %a : tensor<2x3xf32> to tensor<3x2xi32>
  return
}

// -----

func.func @and_float(%a: tensor<4xf32>) {
  // expected-error @+1 {{must be ranked tensor of 32-bit signless integer or 64-bit signless integer or 1-bit signless integer values}}
  %0 = ember.and %a, %a : tensor<4xf32>, tensor<4xf32> -> tensor<4xf32>
  return
}

// -----

func.func @or_mixed(%a: tensor<4xi1>, %b: tensor<4xi32>) {
  // expected-error @+2 {{operands have different element types: tensor<4xi1> and tensor<4xi32>}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = ember.or %a, %b : tensor<4xi1>, tensor<4xi32> -> tensor<4xi1>
  return
}

// -----

func.func @xor_broadcast(%a: tensor<3xi64>, %b: tensor<2xi64>) {
  // expected-error @+2 {{operands have incompatible shapes for broadcasting: tensor<3xi64> and tensor<2xi64>}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = ember.xor %a, %b : tensor<3xi64>, tensor<2xi64> -> tensor<3xi64>
  return
}

// -----

func.func @not_float(%a: tensor<4xf16>) {
  // expected-error @+1 {{must be ranked tensor of 32-bit signless integer or 64-bit signless integer or 1-bit signless integer values}}
  %0 = ember.not %a : tensor<4xf16>
  return
}

// -----

func.func @argmin_range(%a: tensor<2x3xi32>) {
  // expected-error @+2 {{dim 2 is out of range for tensor<2x3xi32> (rank 2)}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = ember.argmin %a dim = 2 : tensor<2x3xi32> -> tensor<2xi64>
  return
}

// -----

func.func @gather_dim(%a: tensor<2x3xf32>, %i: tensor<4xi64>) {
  // expected-error @+2 {{dim 2 is out of range for tensor<2x3xf32> (rank 2)}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = ember.gather %a, %i dim = 2 : tensor<2x3xf32>, tensor<4xi64> -> tensor<2x3x4xf32>
  return
}

// -----

func.func @gather_float_indices(%a: tensor<2x3xf32>, %i: tensor<4xf32>) {
  // expected-error @+1 {{operand #1 must be ranked tensor of 32-bit signless integer or 64-bit signless integer values}}
  %0 = ember.gather %a, %i dim = 0 : tensor<2x3xf32>, tensor<4xf32> -> tensor<4x3xf32>
  return
}

// -----

func.func @gather_result(%a: tensor<2x3xf32>, %i: tensor<4x5xi32>) {
  // expected-error @+2 {{inferred type(s) 'tensor<2x4x5xf32>' are incompatible with return type(s) of operation 'tensor<4x5x3xf32>'}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = ember.gather %a, %i dim = 1 : tensor<2x3xf32>, tensor<4x5xi32> -> tensor<4x5x3xf32>
  return
}

// -----

func.func @insert_slice_rank(%s: tensor<4xf32>, %d: tensor<8x2xf32>) {
  // expected-error @+1 {{source and dest ranks differ: 'tensor<4xf32>' into 'tensor<8x2xf32>'}}
  %0 = ember.insert_slice %s into %d start = [0, 0] stop = [4, 1] step = [1, 1] : tensor<4xf32> into tensor<8x2xf32>
  return
}

// -----

func.func @insert_slice_arity(%s: tensor<4x2xf32>, %d: tensor<8x2xf32>) {
  // expected-error @+1 {{needs start, stop and step for each of the 2 dims of tensor<8x2xf32>}}
  %0 = ember.insert_slice %s into %d start = [0] stop = [4] step = [1] : tensor<4x2xf32> into tensor<8x2xf32>
  return
}

// -----

func.func @insert_slice_step(%s: tensor<4xf32>, %d: tensor<8xf32>) {
  // expected-error @+1 {{step must be positive, got -1 for dim 0}}
  %0 = ember.insert_slice %s into %d start = [0] stop = [8] step = [-1] : tensor<4xf32> into tensor<8xf32>
  return
}

// -----

func.func @insert_slice_extent(%s: tensor<?x3xf32>, %d: tensor<?x8xf32>) {
  // expected-error @+1 {{source dim 1 has size 3 but the slice of 'tensor<?x8xf32>' selects 4 elements}}
  %0 = ember.insert_slice %s into %d start = [0, -7] stop = [4, 9223372036854775807] step = [1, 2] : tensor<?x3xf32> into tensor<?x8xf32>
  return
}

// -----

func.func @insert_slice_element_type(%s: tensor<4xf64>, %d: tensor<8xf32>) {
  // expected-error @+1 {{failed to verify that all of {source, dest} have same element type}}
  %0 = ember.insert_slice %s into %d start = [0] stop = [4] step = [1] : tensor<4xf64> into tensor<8xf32>
  return
}

// -----

func.func @scatter_add_updates_shape(%d: tensor<?x8xf32>, %i: tensor<2x3xi64>, %u: tensor<?x2x4xf32>) {
  // expected-error @+1 {{updates 'tensor<?x2x4xf32>' do not have the gather shape ?x2x3 of 'tensor<?x8xf32>' by 'tensor<2x3xi64>'}}
  %0 = ember.scatter_add %d, %i, %u dim = 1 : tensor<?x8xf32>, tensor<2x3xi64>, tensor<?x2x4xf32>
  return
}

// -----

func.func @scatter_add_updates_rank(%d: tensor<?x8xf32>, %i: tensor<2x3xi64>, %u: tensor<?x2xf32>) {
  // expected-error @+1 {{updates 'tensor<?x2xf32>' must have rank 3 (the gather shape of 'tensor<?x8xf32>' by 'tensor<2x3xi64>')}}
  %0 = ember.scatter_add %d, %i, %u dim = 1 : tensor<?x8xf32>, tensor<2x3xi64>, tensor<?x2xf32>
  return
}

// -----

func.func @scatter_add_dim(%d: tensor<8xf32>, %i: tensor<2xi64>, %u: tensor<2xf32>) {
  // expected-error @+1 {{'ember.scatter_add' op dim 1 is out of range for tensor<8xf32> (rank 1)}}
  %0 = ember.scatter_add %d, %i, %u dim = 1 : tensor<8xf32>, tensor<2xi64>, tensor<2xf32>
  return
}

// -----

func.func @slice_runtime_bound_count(%a: tensor<8x2xf32>, %i: index) {
  // expected-error @+1 {{expected 2 dynamic start values}}
  %0 = "ember.slice"(%a, %i, %i) <{start = array<i64: -9223372036854775808, -9223372036854775808>, stop = array<i64: 8, 2>, step = array<i64: 1, 1>, operandSegmentSizes = array<i32: 1, 1, 1>}> : (tensor<8x2xf32>, index, index) -> tensor<?x2xf32>
  return
}

// -----

func.func @reshape_groups_odd(%a: tensor<2x3xf32>) {
  // expected-error @+1 {{groups must be (input dims, result dims) pairs}}
  %0 = ember.reshape %a {groups = array<i64: 2>} : tensor<2x3xf32> -> tensor<6xf32>
  return
}

// -----

func.func @reshape_groups_empty_side(%a: tensor<2x3xf32>) {
  // expected-error @+1 {{each group needs an input dim and a result dim}}
  %0 = ember.reshape %a {groups = array<i64: 2, 1, 0, 1>} : tensor<2x3xf32> -> tensor<6x1xf32>
  return
}

// -----

func.func @reshape_groups_elements(%a: tensor<2x3xf32>) {
  // expected-error @+1 {{group 0 has 2 input and 3 result elements}}
  %0 = ember.reshape %a {groups = array<i64: 1, 1, 1, 1>} : tensor<2x3xf32> -> tensor<3x2xf32>
  return
}

// -----

func.func @reshape_groups_cover(%a: tensor<?x3xf32>, %n: index) {
  // expected-error @+1 {{groups cover 1 input and 1 result dims, the types have 2 and 1}}
  %0 = ember.reshape %a[%n] {groups = array<i64: 1, 1>} : tensor<?x3xf32> -> tensor<?xf32>
  return
}

// -----

func.func @reshape_groups_past_rank(%a: tensor<2x3xf32>) {
  // expected-error @+1 {{groups cover more dims than the types have}}
  %0 = ember.reshape %a {groups = array<i64: 2, 1, 1, 1>} : tensor<2x3xf32> -> tensor<6xf32>
  return
}

// -----

func.func @cross_entropy_rows_rank(%x: tensor<2x3x4xf32>, %t: tensor<2xi64>) {
  // expected-error @+1 {{takes (N, C) logits, (N,) targets and (N,) rows}}
  %0 = ember.cross_entropy_rows %x, %t ignore_index = -100 : tensor<2x3x4xf32>, tensor<2xi64> -> tensor<2xf32>
  return
}

// -----

func.func @cross_entropy_rows_count(%x: tensor<2x3xf32>, %t: tensor<5xi64>) {
  // expected-error @+1 {{has 2 rows of logits but 5 targets or per-row values}}
  %0 = ember.cross_entropy_rows %x, %t ignore_index = -100 : tensor<2x3xf32>, tensor<5xi64> -> tensor<2xf32>
  return
}

// -----

func.func @cross_entropy_rows_backward_type(%g: tensor<2xf64>, %x: tensor<2x3xf32>, %t: tensor<2xi64>) {
  // expected-error @+1 {{per-row values must have the logits' element type; got 'f64'}}
  %0 = ember.cross_entropy_rows_backward %g, %x, %t ignore_index = -100 : tensor<2xf64>, tensor<2x3xf32>, tensor<2xi64>
  return
}

// -----

func.func @recurrent_sequence_cell(%x: tensor<?x?x?xf32>, %h0: tensor<?x?xf32>, %w: tensor<?x?xf32>) {
  // expected-error @+1 {{cell must be 0 (tanh), 1 (relu), 2 (LSTM) or 3 (GRU); got 7}}
  %0 = ember.recurrent_sequence %x, %h0 weight_hh %w : tensor<?x?xf32> cell = 7 : tensor<?x?x?xf32>, tensor<?x?xf32> -> tensor<?x?x?xf32>
  return
}

// -----

func.func @recurrent_sequence_lstm_without_c0(%x: tensor<?x?x?xf32>, %h0: tensor<?x?xf32>, %w: tensor<?x?xf32>) {
  // expected-error @+1 {{takes c0 exactly for an LSTM cell}}
  %0 = ember.recurrent_sequence %x, %h0 weight_hh %w : tensor<?x?xf32> cell = 2 : tensor<?x?x?xf32>, tensor<?x?xf32> -> tensor<?x?x?xf32>
  return
}

// -----

func.func @recurrent_sequence_shapes(%x: tensor<5x2x12xf32>, %h0: tensor<2x3xf32>, %w: tensor<16x3xf32>) {
  // expected-error @+1 {{expects input [T, B, G*H], h0 [B, P] and weight_hh [G*H, P]}}
  %0 = ember.recurrent_sequence %x, %h0 weight_hh %w : tensor<16x3xf32> cell = 0 : tensor<5x2x12xf32>, tensor<2x3xf32> -> tensor<?x?x?xf32>
  return
}

// -----

func.func @recurrent_sequence_backward_projection(%g: tensor<?x?x?xf32>, %w: tensor<?x?xf32>) {
  // expected-error @+1 {{takes weight_hr only for an LSTM cell}}
  %0 = ember.recurrent_sequence_backward %g, %g weight_hh %w : tensor<?x?xf32> weight_hr %w : tensor<?x?xf32> cell = 3 : tensor<?x?x?xf32> -> tensor<?x?x?xf32>
  return
}
