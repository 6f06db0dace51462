// ember-pack: --input a:float32:m,k --input b:float32:k,n --output y:float32:m,n
// A plain f32 matmul: the tiled workgroup-memory kernel.
func.func @forward(%a: tensor<?x?xf32>, %b: tensor<?x?xf32>) -> tensor<?x?xf32> {
  %0 = ember.matmul %a, %b : tensor<?x?xf32>, tensor<?x?xf32> -> tensor<?x?xf32>
  return %0 : tensor<?x?xf32>
}
