// A small model for the GPU targets: matmul, broadcast add, gelu (tanh and
// erf polynomials), softmax (max, exp, sum, div), a row sum, and f64
// element-wise arithmetic.
func.func @forward(%x: tensor<?x64xf32>, %w: tensor<64x32xf32>, %b: tensor<32xf32>,
                   %d: tensor<?xf64>) -> (tensor<?x32xf32>, tensor<?xf32>, tensor<?xf64>) {
  %0 = ember.matmul %x, %w : tensor<?x64xf32>, tensor<64x32xf32> -> tensor<?x32xf32>
  %1 = ember.add %0, %b : tensor<?x32xf32>, tensor<32xf32> -> tensor<?x32xf32>
  %2 = ember.gelu %1 : tensor<?x32xf32>
  %3 = ember.softmax %2 dim = 1 : tensor<?x32xf32>
  %4 = ember.sum %3 dims = [1] : tensor<?x32xf32> -> tensor<?xf32>
  %5 = ember.mul %d, %d : tensor<?xf64>, tensor<?xf64> -> tensor<?xf64>
  return %3, %4, %5 : tensor<?x32xf32>, tensor<?xf32>, tensor<?xf64>
}
