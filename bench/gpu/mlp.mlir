// ember-pack: --input x:float32:batch,64 --input w:float32:64,32 --input b:float32:32 --output y:float32:batch,32
// A layer with the eager API's usual ops: matmul, broadcast add, gelu (erf
// polynomial), softmax (row max, exp, row sum, divide).
func.func @forward(%x: tensor<?x64xf32>, %w: tensor<64x32xf32>, %b: tensor<32xf32>) -> tensor<?x32xf32> {
  %0 = ember.matmul %x, %w : tensor<?x64xf32>, tensor<64x32xf32> -> tensor<?x32xf32>
  %1 = ember.add %0, %b : tensor<?x32xf32>, tensor<32xf32> -> tensor<?x32xf32>
  %2 = ember.gelu %1 : tensor<?x32xf32>
  %3 = ember.softmax %2 dim = 1 : tensor<?x32xf32>
  return %3 : tensor<?x32xf32>
}
