// CTS: comparisons to bool, and select (where) between the operands.
// dtypes: f32 f64 f16 bf16 i32 i64 i1
// input x: [batch, 8]
// input y: [batch, 8]
// output lt: [batch, 8]
// output eq: [batch, 8]
// output ge: [batch, 8]
// output where: [batch, 8]
// sizes: batch = 5
// reference: x < y, x == y, x >= y, np.where(x < y, x, y)
!T = f32
func.func @forward(%x: tensor<?x8x!T>, %y: tensor<?x8x!T>) -> (tensor<?x8xi1>, tensor<?x8xi1>, tensor<?x8xi1>, tensor<?x8x!T>) {
  %0 = ember.compare lt, %x, %y : tensor<?x8x!T>, tensor<?x8x!T> -> tensor<?x8xi1>
  %1 = ember.compare eq, %x, %y : tensor<?x8x!T>, tensor<?x8x!T> -> tensor<?x8xi1>
  %2 = ember.compare ge, %x, %y : tensor<?x8x!T>, tensor<?x8x!T> -> tensor<?x8xi1>
  %3 = ember.select %0, %x, %y : tensor<?x8xi1>, tensor<?x8x!T>, tensor<?x8x!T> -> tensor<?x8x!T>
  return %0, %1, %2, %3 : tensor<?x8xi1>, tensor<?x8xi1>, tensor<?x8xi1>, tensor<?x8x!T>
}
