// ember-pack: --input a:float32:batch,m,k --input b:float32:batch,n,k --output y:float32:batch,m,n
// Batched matmul against a transposed operand (attention's q @ k^T).
func.func @forward(%a: tensor<?x?x?xf32>, %b: tensor<?x?x?xf32>) -> tensor<?x?x?xf32> {
  %0 = ember.transpose %b perm = [0, 2, 1] : tensor<?x?x?xf32> -> tensor<?x?x?xf32>
  %1 = ember.matmul %a, %0 : tensor<?x?x?xf32>, tensor<?x?x?xf32> -> tensor<?x?x?xf32>
  return %1 : tensor<?x?x?xf32>
}
