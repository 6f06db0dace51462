// CTS: tanh, sigmoid, gelu (the erf form) and erf.
// dtypes: f32 f64 bf16
// input x: [batch, 16] in [-4, 4]
// output tanh: [batch, 16]
// output sigmoid: [batch, 16]
// output gelu: [batch, 16]
// output erf: [batch, 16]
// sizes: batch = 3
// reference: np.tanh(x), sigmoid(x), gelu(x), erf(x)
!T = f32
func.func @forward(%x: tensor<?x16x!T>) -> (tensor<?x16x!T>, tensor<?x16x!T>, tensor<?x16x!T>, tensor<?x16x!T>) {
  %0 = ember.tanh %x : tensor<?x16x!T>
  %1 = ember.sigmoid %x : tensor<?x16x!T>
  %2 = ember.gelu %x : tensor<?x16x!T>
  %3 = ember.erf %x : tensor<?x16x!T>
  return %0, %1, %2, %3 : tensor<?x16x!T>, tensor<?x16x!T>, tensor<?x16x!T>, tensor<?x16x!T>
}
