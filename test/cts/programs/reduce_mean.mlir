// CTS: mean over one dim and over two dims with keepdim (3-D input).
// dtypes: f32 bf16
// input x: [batch, 4, 6]
// output a: [batch, 6]
// output b: [1, 4, 1]
// sizes: batch = 5
// reference: x.mean(1), x.mean((0, 2), keepdims=True)
// tolerance: 2
!T = f32
func.func @forward(%x: tensor<?x4x6x!T>) -> (tensor<?x6x!T>, tensor<1x4x1x!T>) {
  %0 = ember.mean %x dims = [1] : tensor<?x4x6x!T> -> tensor<?x6x!T>
  %1 = ember.mean %x dims = [0, 2] keepdim : tensor<?x4x6x!T> -> tensor<1x4x1x!T>
  return %0, %1 : tensor<?x6x!T>, tensor<1x4x1x!T>
}
