// CTS: transposes (2-D and a 3-D permutation) composed with arithmetic.
// dtypes: f32 bf16
// input x: [batch, 5]
// input y: [5, batch]
// input z: [batch, 3, 4]
// output a: [5, batch]
// output b: [4, batch, 3]
// sizes: batch = 6
// reference: x.T * y, np.transpose(z, (2, 0, 1)) * 2
!T = f32
func.func @forward(%x: tensor<?x5x!T>, %y: tensor<5x?x!T>, %z: tensor<?x3x4x!T>) -> (tensor<5x?x!T>, tensor<4x?x3x!T>) {
  %0 = ember.transpose %x perm = [1, 0] : tensor<?x5x!T> -> tensor<5x?x!T>
  %1 = ember.mul %0, %y : tensor<5x?x!T>, tensor<5x?x!T> -> tensor<5x?x!T>
  %2 = ember.transpose %z perm = [2, 0, 1] : tensor<?x3x4x!T> -> tensor<4x?x3x!T>
  %3 = ember.add %2, %2 : tensor<4x?x3x!T>, tensor<4x?x3x!T> -> tensor<4x?x3x!T>
  return %1, %3 : tensor<5x?x!T>, tensor<4x?x3x!T>
}
