// CTS: a 2-D matmul with a dynamic row count: empty, one row, and sizes off
// the GPU tile edges.
// dtypes: f32 f16 bf16 i64
// input a: [m, 24]
// input b: [24, 20]
// output c: [m, 20]
// sizes: m = 0, 1, 37
// reference: a @ b
// tolerance: 8
!T = f32
func.func @forward(%a: tensor<?x24x!T>, %b: tensor<24x20x!T>) -> tensor<?x20x!T> {
  %0 = ember.matmul %a, %b : tensor<?x24x!T>, tensor<24x20x!T> -> tensor<?x20x!T>
  return %0 : tensor<?x20x!T>
}
