// Every dtype the eager API uses, with the ops that need care on GPUs:
// f64 transcendentals (ember-gpu-f64-math), f16 and bf16 (16-bit storage;
// bf16 as i16 bits on SPIR-V), a select on bf16, integer powers, 0-d math.
func.func @forward(%d: tensor<?xf64>, %h: tensor<?xf16>, %b: tensor<?xbf16>,
                   %c: tensor<?xi1>, %s: tensor<f32>)
    -> (tensor<?xf64>, tensor<?xf16>, tensor<?xbf16>, tensor<f32>) {
  %0 = ember.exp %d : tensor<?xf64>
  %1 = ember.log %0 : tensor<?xf64>
  %2 = ember.tanh %1 : tensor<?xf64>
  %3 = ember.pow %2, %d : tensor<?xf64>, tensor<?xf64> -> tensor<?xf64>
  %4 = ember.erf %3 : tensor<?xf64>
  %5 = ember.mul %h, %h : tensor<?xf16>, tensor<?xf16> -> tensor<?xf16>
  %6 = ember.exp %5 : tensor<?xf16>
  %7 = ember.add %b, %b : tensor<?xbf16>, tensor<?xbf16> -> tensor<?xbf16>
  %8 = ember.select %c, %7, %b : tensor<?xi1>, tensor<?xbf16>, tensor<?xbf16> -> tensor<?xbf16>
  %9 = ember.sqrt %s : tensor<f32>
  return %4, %6, %8, %9 : tensor<?xf64>, tensor<?xf16>, tensor<?xbf16>, tensor<f32>
}
