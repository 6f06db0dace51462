// CTS: batched matmul: both operands batched, and a 2-D right operand
// broadcast over the batch.
// dtypes: f32 i32
// input a: [batch, 5, 6]
// input b: [batch, 6, 7]
// input w: [6, 3]
// output ab: [batch, 5, 7]
// output aw: [batch, 5, 3]
// sizes: batch = 3
// reference: a @ b, a @ w
// tolerance: 4
!T = f32
func.func @forward(%a: tensor<?x5x6x!T>, %b: tensor<?x6x7x!T>, %w: tensor<6x3x!T>) -> (tensor<?x5x7x!T>, tensor<?x5x3x!T>) {
  %0 = ember.matmul %a, %b : tensor<?x5x6x!T>, tensor<?x6x7x!T> -> tensor<?x5x7x!T>
  %1 = ember.matmul %a, %w : tensor<?x5x6x!T>, tensor<6x3x!T> -> tensor<?x5x3x!T>
  return %0, %1 : tensor<?x5x7x!T>, tensor<?x5x3x!T>
}
