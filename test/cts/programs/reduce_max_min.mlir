// CTS: max and min over a dim, argmax and argmin (the first extreme).
// dtypes: f32 f16 i32
// input x: [batch, 10]
// output max: [batch]
// output min: [1, 10]
// output argmax: [batch]
// output argmin: [10]
// sizes: batch = 1, 6
// reference: x.max(1), x.min(0, keepdims=True), x.argmax(1), x.argmin(0)
!T = f32
func.func @forward(%x: tensor<?x10x!T>) -> (tensor<?x!T>, tensor<1x10x!T>, tensor<?xi64>, tensor<10xi64>) {
  %0 = ember.max %x dims = [1] : tensor<?x10x!T> -> tensor<?x!T>
  %1 = ember.min %x dims = [0] keepdim : tensor<?x10x!T> -> tensor<1x10x!T>
  %2 = ember.argmax %x dim = 1 : tensor<?x10x!T> -> tensor<?xi64>
  %3 = ember.argmin %x dim = 0 : tensor<?x10x!T> -> tensor<10xi64>
  return %0, %1, %2, %3 : tensor<?x!T>, tensor<1x10x!T>, tensor<?xi64>, tensor<10xi64>
}
