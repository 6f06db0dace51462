// CTS: neg, abs and relu on every number type.
// dtypes: f32 f16 bf16 i32 i64
// input x: [batch, 8]
// output neg: [batch, 8]
// output abs: [batch, 8]
// output relu: [batch, 8]
// sizes: batch = 5
// reference: -x, np.abs(x), np.maximum(x, 0)
!T = f32
func.func @forward(%x: tensor<?x8x!T>) -> (tensor<?x8x!T>, tensor<?x8x!T>, tensor<?x8x!T>) {
  %0 = ember.neg %x : tensor<?x8x!T>
  %1 = ember.abs %x : tensor<?x8x!T>
  %2 = ember.relu %x : tensor<?x8x!T>
  return %0, %1, %2 : tensor<?x8x!T>, tensor<?x8x!T>, tensor<?x8x!T>
}
