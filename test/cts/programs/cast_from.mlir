// CTS: casts from every type to f32, i32 (floats truncate toward zero) and
// bool (x != 0), like Tensor.to(dtype).
// dtypes: f32 f64 f16 bf16 i32 i64 i1
// input x: [batch, 8] in [-5, 5]
// output f: [batch, 8]
// output i: [batch, 8]
// output b: [batch, 8]
// sizes: batch = 3
// reference: x.astype(np.float32), np.trunc(x).astype(np.int32), x != 0
!T = f32
func.func @forward(%x: tensor<?x8x!T>) -> (tensor<?x8xf32>, tensor<?x8xi32>, tensor<?x8xi1>) {
  %0 = ember.cast %x : tensor<?x8x!T> to tensor<?x8xf32>
  %1 = ember.cast %x : tensor<?x8x!T> to tensor<?x8xi32>
  %2 = ember.cast %x : tensor<?x8x!T> to tensor<?x8xi1>
  return %0, %1, %2 : tensor<?x8xf32>, tensor<?x8xi32>, tensor<?x8xi1>
}
