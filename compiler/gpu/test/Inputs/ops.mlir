// One function per op family the GPU back end covers.
func.func @chain(%a: tensor<?xf32>, %b: tensor<?xf32>, %c: tensor<?xf32>) -> tensor<?xf32> {
  %0 = ember.mul %a, %b : tensor<?xf32>, tensor<?xf32> -> tensor<?xf32>
  %1 = ember.add %0, %c : tensor<?xf32>, tensor<?xf32> -> tensor<?xf32>
  %2 = ember.sigmoid %1 : tensor<?xf32>
  return %2 : tensor<?xf32>
}
func.func @bias_gelu(%x: tensor<?x128xf32>, %b: tensor<128xf32>) -> tensor<?x128xf32> {
  %1 = ember.add %x, %b : tensor<?x128xf32>, tensor<128xf32> -> tensor<?x128xf32>
  %2 = ember.gelu %1 : tensor<?x128xf32>
  return %2 : tensor<?x128xf32>
}
func.func @row_max(%x: tensor<?x?xf32>) -> tensor<?xf32> {
  %0 = ember.max %x dims = [1] : tensor<?x?xf32> -> tensor<?xf32>
  return %0 : tensor<?xf32>
}
func.func @col_sum(%x: tensor<?x?xf32>) -> tensor<?xf32> {
  %0 = ember.sum %x dims = [0] : tensor<?x?xf32> -> tensor<?xf32>
  return %0 : tensor<?xf32>
}
func.func @matmul(%a: tensor<?x?xf32>, %b: tensor<?x?xf32>) -> tensor<?x?xf32> {
  %0 = ember.matmul %a, %b : tensor<?x?xf32>, tensor<?x?xf32> -> tensor<?x?xf32>
  return %0 : tensor<?x?xf32>
}
func.func @bmm(%a: tensor<?x?x64xf32>, %b: tensor<?x64x?xf32>) -> tensor<?x?x?xf32> {
  %0 = ember.matmul %a, %b : tensor<?x?x64xf32>, tensor<?x64x?xf32> -> tensor<?x?x?xf32>
  return %0 : tensor<?x?x?xf32>
}
func.func @softmax(%x: tensor<?x?xf32>) -> tensor<?x?xf32> {
  %0 = ember.softmax %x dim = 1 : tensor<?x?xf32>
  return %0 : tensor<?x?xf32>
}
func.func @half(%a: tensor<?xf16>, %b: tensor<?xf16>) -> tensor<?xf16> {
  %0 = ember.add %a, %b : tensor<?xf16>, tensor<?xf16> -> tensor<?xf16>
  return %0 : tensor<?xf16>
}
