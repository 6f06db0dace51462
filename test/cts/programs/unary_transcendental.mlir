// CTS: exp, log, sqrt and rsqrt on positive floats.
// dtypes: f32 f64 f16 bf16
// input x: [batch, 8] in [0.1, 4]
// output exp: [batch, 8]
// output log: [batch, 8]
// output sqrt: [batch, 8]
// output rsqrt: [batch, 8]
// sizes: batch = 3
// reference: np.exp(x), np.log(x), np.sqrt(x), 1 / np.sqrt(x)
!T = f32
func.func @forward(%x: tensor<?x8x!T>) -> (tensor<?x8x!T>, tensor<?x8x!T>, tensor<?x8x!T>, tensor<?x8x!T>) {
  %0 = ember.exp %x : tensor<?x8x!T>
  %1 = ember.log %x : tensor<?x8x!T>
  %2 = ember.sqrt %x : tensor<?x8x!T>
  %3 = ember.rsqrt %x : tensor<?x8x!T>
  return %0, %1, %2, %3 : tensor<?x8x!T>, tensor<?x8x!T>, tensor<?x8x!T>, tensor<?x8x!T>
}
