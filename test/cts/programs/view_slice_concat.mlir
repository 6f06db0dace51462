// CTS: strided slices (negative start, step 2 and 3) feeding arithmetic,
// and concat along the inner dim.
// dtypes: f32 i1
// input x: [batch, 10]
// input y: [batch, 3]
// output s: [batch, 3]
// output c: [batch, 13]
// sizes: batch = 5
// reference: x[:, 1:8:3] == y, np.concatenate([x, y], 1)
!T = f32
func.func @forward(%x: tensor<?x10x!T>, %y: tensor<?x3x!T>) -> (tensor<?x3xi1>, tensor<?x13x!T>) {
  %0 = ember.slice %x start = [0, 1] stop = [9223372036854775807, 8] step = [1, 3] : tensor<?x10x!T> -> tensor<?x3x!T>
  %1 = ember.compare eq, %0, %y : tensor<?x3x!T>, tensor<?x3x!T> -> tensor<?x3xi1>
  %2 = ember.concat %x, %y dim = 1 : tensor<?x10x!T>, tensor<?x3x!T> -> tensor<?x13x!T>
  return %1, %2 : tensor<?x3xi1>, tensor<?x13x!T>
}
