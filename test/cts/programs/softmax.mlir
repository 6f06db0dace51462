// CTS: softmax and log_softmax along the rows, and softmax along the
// dynamic outer dim.
// dtypes: f32 f16 bf16
// input x: [batch, 10] in [-5, 5]
// output sm: [batch, 10]
// output lsm: [batch, 10]
// output sm0: [batch, 10]
// sizes: batch = 1, 5
// reference: softmax(x, 1), log_softmax(x, 1), softmax(x, 0)
// tolerance: 2
!T = f32
func.func @forward(%x: tensor<?x10x!T>) -> (tensor<?x10x!T>, tensor<?x10x!T>, tensor<?x10x!T>) {
  %0 = ember.softmax %x dim = 1 : tensor<?x10x!T>
  %1 = ember.log_softmax %x dim = 1 : tensor<?x10x!T>
  %2 = ember.softmax %x dim = 0 : tensor<?x10x!T>
  return %0, %1, %2 : tensor<?x10x!T>, tensor<?x10x!T>, tensor<?x10x!T>
}
