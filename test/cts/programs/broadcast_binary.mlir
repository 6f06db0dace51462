// CTS: broadcasting: a row [8], a column [batch, 1] and a 0-d scalar
// against [batch, 8].
// dtypes: f32 bf16 i64
// input x: [batch, 8]
// input row: [8]
// input col: [batch, 1]
// input s: []
// output a: [batch, 8]
// output b: [batch, 8]
// sizes: batch = 1, 7
// reference: x + row - col, x * s
!T = f32
func.func @forward(%x: tensor<?x8x!T>, %row: tensor<8x!T>, %col: tensor<?x1x!T>, %s: tensor<!T>) -> (tensor<?x8x!T>, tensor<?x8x!T>) {
  %0 = ember.add %x, %row : tensor<?x8x!T>, tensor<8x!T> -> tensor<?x8x!T>
  %1 = ember.sub %0, %col : tensor<?x8x!T>, tensor<?x1x!T> -> tensor<?x8x!T>
  %2 = ember.mul %x, %s : tensor<?x8x!T>, tensor<!T> -> tensor<?x8x!T>
  return %1, %2 : tensor<?x8x!T>, tensor<?x8x!T>
}
