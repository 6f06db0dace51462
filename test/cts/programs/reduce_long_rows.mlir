// CTS: sums and maxima of rows longer than a GPU workgroup (1000 elements).
// dtypes: f32 f64
// input x: [rows, 1000]
// output sum: [rows]
// output max: [rows, 1]
// sizes: rows = 3
// reference: x.sum(1), x.max(1, keepdims=True)
// tolerance: 10
!T = f32
func.func @forward(%x: tensor<?x1000x!T>) -> (tensor<?x!T>, tensor<?x1x!T>) {
  %0 = ember.sum %x dims = [1] : tensor<?x1000x!T> -> tensor<?x!T>
  %1 = ember.max %x dims = [1] keepdim : tensor<?x1000x!T> -> tensor<?x1x!T>
  return %0, %1 : tensor<?x!T>, tensor<?x1x!T>
}
