// CTS: gather (NumPy take) along the inner dim with int64 indices,
// negative ones counting from the end.
// dtypes: f32 i64
// input x: [batch, 8]
// input idx: [2, 3] in [-8, 7]
// output g: [batch, 2, 3]
// sizes: batch = 4
// reference: np.take(x, idx, axis=1)
!T = f32
func.func @forward(%x: tensor<?x8x!T>, %idx: tensor<2x3xi64>) -> tensor<?x2x3x!T> {
  %0 = ember.gather %x, %idx dim = 1 : tensor<?x8x!T>, tensor<2x3xi64> -> tensor<?x2x3x!T>
  return %0 : tensor<?x2x3x!T>
}
