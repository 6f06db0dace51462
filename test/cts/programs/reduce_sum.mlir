// CTS: sum along the inner dim, along the outer (dynamic) dim with keepdim,
// and over every dim; empty inputs sum to zeros.
// dtypes: f32 f16 i64
// input x: [batch, 12]
// output rows: [batch]
// output cols: [1, 12]
// output all: []
// sizes: batch = 0, 1, 9
// reference: x.sum(1), x.sum(0, keepdims=True), x.sum()
// tolerance: 4
!T = f32
func.func @forward(%x: tensor<?x12x!T>) -> (tensor<?x!T>, tensor<1x12x!T>, tensor<!T>) {
  %0 = ember.sum %x dims = [1] : tensor<?x12x!T> -> tensor<?x!T>
  %1 = ember.sum %x dims = [0] keepdim : tensor<?x12x!T> -> tensor<1x12x!T>
  %2 = ember.sum %x dims = [0, 1] : tensor<?x12x!T> -> tensor<!T>
  return %0, %1, %2 : tensor<?x!T>, tensor<1x12x!T>, tensor<!T>
}
