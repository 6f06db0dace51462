// ember-pack: --input x:float32:r,c --output s:float32:c --output m:float32:r --output g:float32:c,c --output t:float32:
// Reductions of every kind the back end has: a column sum (one thread per
// output), a row max (workgroup tree), a full sum, and a transposed matmul.
func.func @forward(%x: tensor<?x?xf32>) -> (tensor<?xf32>, tensor<?xf32>, tensor<?x?xf32>, tensor<f32>) {
  %0 = ember.sum %x dims = [0] : tensor<?x?xf32> -> tensor<?xf32>
  %1 = ember.max %x dims = [1] : tensor<?x?xf32> -> tensor<?xf32>
  %2 = ember.transpose %x perm = [1, 0] : tensor<?x?xf32> -> tensor<?x?xf32>
  %3 = ember.matmul %2, %x : tensor<?x?xf32>, tensor<?x?xf32> -> tensor<?x?xf32>
  %4 = ember.sum %x dims = [0, 1] : tensor<?x?xf32> -> tensor<f32>
  return %0, %1, %3, %4 : tensor<?xf32>, tensor<?xf32>, tensor<?x?xf32>, tensor<f32>
}
