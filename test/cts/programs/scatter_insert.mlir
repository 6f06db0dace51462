// CTS: scatter_add (repeated indices accumulate) and insert_slice (a
// strided window assigned).
// dtypes: f32 i64
// input x: [batch, 8]
// input idx: [5] in [0, 7]
// input u: [batch, 5]
// input s: [2, 4]
// output sa: [batch, 8]
// output ins: [batch, 8]
// sizes: batch = 3
// reference: scatter_add(x, idx, u), insert(x, s)
!T = f32
func.func @forward(%x: tensor<?x8x!T>, %idx: tensor<5xi64>, %u: tensor<?x5x!T>, %s: tensor<2x4x!T>) -> (tensor<?x8x!T>, tensor<?x8x!T>) {
  %0 = ember.scatter_add %x, %idx, %u dim = 1 : tensor<?x8x!T>, tensor<5xi64>, tensor<?x5x!T>
  %1 = ember.insert_slice %s into %x start = [-2, 0] stop = [9223372036854775807, 8] step = [1, 2] : tensor<2x4x!T> into tensor<?x8x!T>
  return %0, %1 : tensor<?x8x!T>, tensor<?x8x!T>
}
