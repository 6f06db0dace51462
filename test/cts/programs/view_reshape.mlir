// CTS: reshapes [batch, 6] to [batch, 2, 3] and [batch, 3, 2] (a run-time
// size) composed with a reduction and arithmetic.
// dtypes: f32 i64
// input x: [batch, 6]
// output s: [batch, 2]
// output f: [batch, 3, 2]
// sizes: batch = 4
// reference: x.reshape(-1, 2, 3).sum(2), (x * 2).reshape(-1, 3, 2)
!T = f32
func.func @forward(%x: tensor<?x6x!T>) -> (tensor<?x2x!T>, tensor<?x3x2x!T>) {
  %c0 = arith.constant 0 : index
  %n = tensor.dim %x, %c0 : tensor<?x6x!T>
  %0 = ember.reshape %x[%n] : tensor<?x6x!T> -> tensor<?x2x3x!T>
  %1 = ember.sum %0 dims = [2] : tensor<?x2x3x!T> -> tensor<?x2x!T>
  %2 = ember.add %x, %x : tensor<?x6x!T>, tensor<?x6x!T> -> tensor<?x6x!T>
  %3 = ember.reshape %2[%n] : tensor<?x6x!T> -> tensor<?x3x2x!T>
  return %1, %3 : tensor<?x2x!T>, tensor<?x3x2x!T>
}
