// An LSTM layer's time loop and its backward (ember.recurrent_sequence and
// ember.recurrent_sequence_backward) for the GPU targets.
func.func @forward(%x: tensor<?x?x?xf32>, %h0: tensor<?x?xf32>, %c0: tensor<?x?xf32>, %w: tensor<?x?xf32>) -> tensor<?x?x?xf32> {
  %0 = ember.recurrent_sequence %x, %h0 c0 %c0 : tensor<?x?xf32> weight_hh %w : tensor<?x?xf32> cell = 2 : tensor<?x?x?xf32>, tensor<?x?xf32> -> tensor<?x?x?xf32>
  return %0 : tensor<?x?x?xf32>
}

func.func @backward(%g: tensor<?x?x?xf32>, %ws: tensor<?x?x?xf32>, %w: tensor<?x?xf32>) -> tensor<?x?x?xf32> {
  %0 = ember.recurrent_sequence_backward %g, %ws weight_hh %w : tensor<?x?xf32> cell = 2 : tensor<?x?x?xf32> -> tensor<?x?x?xf32>
  return %0 : tensor<?x?x?xf32>
}
