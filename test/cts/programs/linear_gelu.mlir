// CTS: a linear layer: x @ w^T + b (the weight transposed as nn.Linear
// stores it), then gelu.
// dtypes: f32 f16
// input x: [batch, 16] in [-1, 1]
// input w: [8, 16] in [-1, 1]
// input b: [8]
// output y: [batch, 8]
// sizes: batch = 2, 33
// reference: gelu(x @ w.T + b)
// tolerance: 4
!T = f32
func.func @forward(%x: tensor<?x16x!T>, %w: tensor<8x16x!T>, %b: tensor<8x!T>) -> tensor<?x8x!T> {
  %0 = ember.transpose %w perm = [1, 0] : tensor<8x16x!T> -> tensor<16x8x!T>
  %1 = ember.matmul %x, %0 : tensor<?x16x!T>, tensor<16x8x!T> -> tensor<?x8x!T>
  %2 = ember.add %1, %b : tensor<?x8x!T>, tensor<8x!T> -> tensor<?x8x!T>
  %3 = ember.gelu %2 : tensor<?x8x!T>
  return %3 : tensor<?x8x!T>
}
