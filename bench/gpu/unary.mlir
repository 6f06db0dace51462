// ember-pack: --input x:float32:n --input y:float64:n --input i:int64:n --output u:float32:n --output v:float64:n --output w:int64:n
// Transcendentals (polynomials on the GPU), f64 and integer arithmetic.
func.func @forward(%x: tensor<?xf32>, %y: tensor<?xf64>, %i: tensor<?xi64>) -> (tensor<?xf32>, tensor<?xf64>, tensor<?xi64>) {
  %0 = ember.tanh %x : tensor<?xf32>
  %1 = ember.exp %x : tensor<?xf32>
  %2 = ember.abs %x : tensor<?xf32>
  %3 = ember.sqrt %2 : tensor<?xf32>
  %4 = ember.add %0, %1 : tensor<?xf32>, tensor<?xf32> -> tensor<?xf32>
  %5 = ember.sub %4, %3 : tensor<?xf32>, tensor<?xf32> -> tensor<?xf32>
  %6 = ember.mul %y, %y : tensor<?xf64>, tensor<?xf64> -> tensor<?xf64>
  %7 = ember.add %6, %y : tensor<?xf64>, tensor<?xf64> -> tensor<?xf64>
  %8 = ember.mul %i, %i : tensor<?xi64>, tensor<?xi64> -> tensor<?xi64>
  %9 = ember.sub %8, %i : tensor<?xi64>, tensor<?xi64> -> tensor<?xi64>
  return %5, %7, %9 : tensor<?xf32>, tensor<?xf64>, tensor<?xi64>
}
