// CTS: and, or, xor and not (bitwise; logical on bool).
// dtypes: i1 i32 i64
// input x: [batch, 8]
// input y: [batch, 8]
// output and: [batch, 8]
// output or: [batch, 8]
// output xor: [batch, 8]
// output not: [batch, 8]
// sizes: batch = 5
// reference: x & y, x | y, x ^ y, ~x
!T = i32
func.func @forward(%x: tensor<?x8x!T>, %y: tensor<?x8x!T>) -> (tensor<?x8x!T>, tensor<?x8x!T>, tensor<?x8x!T>, tensor<?x8x!T>) {
  %0 = ember.and %x, %y : tensor<?x8x!T>, tensor<?x8x!T> -> tensor<?x8x!T>
  %1 = ember.or %x, %y : tensor<?x8x!T>, tensor<?x8x!T> -> tensor<?x8x!T>
  %2 = ember.xor %x, %y : tensor<?x8x!T>, tensor<?x8x!T> -> tensor<?x8x!T>
  %3 = ember.not %x : tensor<?x8x!T>
  return %0, %1, %2, %3 : tensor<?x8x!T>, tensor<?x8x!T>, tensor<?x8x!T>, tensor<?x8x!T>
}
