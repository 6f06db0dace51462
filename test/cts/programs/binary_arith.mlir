// CTS: add, sub, mul, maximum and minimum of same-shaped operands.
// dtypes: f32 f64 f16 bf16 i32 i64
// input x: [batch, 8]
// input y: [batch, 8]
// output add: [batch, 8]
// output sub: [batch, 8]
// output mul: [batch, 8]
// output max: [batch, 8]
// output min: [batch, 8]
// sizes: batch = 6
// reference: x + y, x - y, x * y, np.maximum(x, y), np.minimum(x, y)
!T = f32
func.func @forward(%x: tensor<?x8x!T>, %y: tensor<?x8x!T>) -> (tensor<?x8x!T>, tensor<?x8x!T>, tensor<?x8x!T>, tensor<?x8x!T>, tensor<?x8x!T>) {
  %0 = ember.add %x, %y : tensor<?x8x!T>, tensor<?x8x!T> -> tensor<?x8x!T>
  %1 = ember.sub %x, %y : tensor<?x8x!T>, tensor<?x8x!T> -> tensor<?x8x!T>
  %2 = ember.mul %x, %y : tensor<?x8x!T>, tensor<?x8x!T> -> tensor<?x8x!T>
  %3 = ember.maximum %x, %y : tensor<?x8x!T>, tensor<?x8x!T> -> tensor<?x8x!T>
  %4 = ember.minimum %x, %y : tensor<?x8x!T>, tensor<?x8x!T> -> tensor<?x8x!T>
  return %0, %1, %2, %3, %4 : tensor<?x8x!T>, tensor<?x8x!T>, tensor<?x8x!T>, tensor<?x8x!T>, tensor<?x8x!T>
}
