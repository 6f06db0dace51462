// CTS: broadcast_to (expand) of a [3, 1] column to [2, 3, 4], then
// arithmetic on the expanded view.
// dtypes: f32 i1
// input x: [3, 1]
// input y: [2, 3, 4]
// output e: [2, 3, 4]
// output m: [2, 3, 4]
// reference: np.broadcast_to(x, (2, 3, 4)), np.broadcast_to(x, (2, 3, 4)) == y
!T = f32
func.func @forward(%x: tensor<3x1x!T>, %y: tensor<2x3x4x!T>) -> (tensor<2x3x4x!T>, tensor<2x3x4xi1>) {
  %0 = ember.broadcast_to %x : tensor<3x1x!T> -> tensor<2x3x4x!T>
  %1 = ember.compare eq, %0, %y : tensor<2x3x4x!T>, tensor<2x3x4x!T> -> tensor<2x3x4xi1>
  return %0, %1 : tensor<2x3x4x!T>, tensor<2x3x4xi1>
}
