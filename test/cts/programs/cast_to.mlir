// CTS: casts from f64 and i64 to every type (to f16 and bf16 through f32,
// as torch rounds).
// dtypes: f64 f16 bf16 i32 i1
// input x: [batch, 8] in [-5, 5]
// input k: [batch, 8] in [-5, 5]
// output a: [batch, 8]
// output b: [batch, 8]
// sizes: batch = 3
// reference: cast(x), cast(k)
!T = f32
func.func @forward(%x: tensor<?x8xf64>, %k: tensor<?x8xi64>) -> (tensor<?x8x!T>, tensor<?x8x!T>) {
  %0 = ember.cast %x : tensor<?x8xf64> to tensor<?x8x!T>
  %1 = ember.cast %k : tensor<?x8xi64> to tensor<?x8x!T>
  return %0, %1 : tensor<?x8x!T>, tensor<?x8x!T>
}
