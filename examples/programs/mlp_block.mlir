// A small MLP block in the ember dialect: linear -> gelu -> linear ->
// log_softmax, with a dynamic batch dim. `scripts/demo` compiles it for the
// CPU and runs it on random data.
func.func @mlp_block(%x: tensor<?x64xf32>, %w1: tensor<64x128xf32>, %b1: tensor<128xf32>,
                     %w2: tensor<128x10xf32>, %b2: tensor<10xf32>) -> tensor<?x10xf32> {
  %0 = ember.matmul %x, %w1 : tensor<?x64xf32>, tensor<64x128xf32> -> tensor<?x128xf32>
  %1 = ember.add %0, %b1 : tensor<?x128xf32>, tensor<128xf32> -> tensor<?x128xf32>
  %2 = ember.gelu %1 : tensor<?x128xf32>
  %3 = ember.matmul %2, %w2 : tensor<?x128xf32>, tensor<128x10xf32> -> tensor<?x10xf32>
  %4 = ember.add %3, %b2 : tensor<?x10xf32>, tensor<10xf32> -> tensor<?x10xf32>
  %5 = ember.log_softmax %4 dim = 1 : tensor<?x10xf32>
  return %5 : tensor<?x10xf32>
}

// The benchmark's element-wise chain; every dim dynamic.
func.func @chain(%a: tensor<?xf32>, %b: tensor<?xf32>, %c: tensor<?xf32>, %d: tensor<?xf32>) -> tensor<?xf32> {
  %0 = ember.mul %a, %b : tensor<?xf32>, tensor<?xf32> -> tensor<?xf32>
  %1 = ember.add %0, %c : tensor<?xf32>, tensor<?xf32> -> tensor<?xf32>
  %2 = ember.sigmoid %1 : tensor<?xf32>
  %3 = ember.mul %2, %d : tensor<?xf32>, tensor<?xf32> -> tensor<?xf32>
  %4 = ember.sub %3, %a : tensor<?xf32>, tensor<?xf32> -> tensor<?xf32>
  return %4 : tensor<?xf32>
}
