// CTS: div (integer div truncates toward zero) by a divisor away from zero.
// dtypes: f32 f16 i32
// input x: [batch, 8] in [-20, 20]
// input y: [batch, 8] in [1, 5]
// output q: [batch, 8]
// sizes: batch = 4
// reference: div(x, y)
!T = f32
func.func @forward(%x: tensor<?x8x!T>, %y: tensor<?x8x!T>) -> tensor<?x8x!T> {
  %0 = ember.div %x, %y : tensor<?x8x!T>, tensor<?x8x!T> -> tensor<?x8x!T>
  return %0 : tensor<?x8x!T>
}
