// CTS: pow of a positive base to a signed exponent.
// dtypes: f32 f64
// input x: [batch, 8] in [0.5, 2]
// input y: [batch, 8] in [-2, 2]
// output p: [batch, 8]
// sizes: batch = 4
// reference: np.power(x, y)
!T = f32
func.func @forward(%x: tensor<?x8x!T>, %y: tensor<?x8x!T>) -> tensor<?x8x!T> {
  %0 = ember.pow %x, %y : tensor<?x8x!T>, tensor<?x8x!T> -> tensor<?x8x!T>
  return %0 : tensor<?x8x!T>
}
