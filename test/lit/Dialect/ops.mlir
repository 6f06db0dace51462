// RUN: ember-opt %s | ember-opt | FileCheck %s
// Every op parses, verifies, prints and parses again.

// CHECK-LABEL: func @elementwise
func.func @elementwise(%a: tensor<?x4xf32>, %b: tensor<4xf32>, %i: tensor<?x4xi32>) -> tensor<?x4xf32> {
  // CHECK: ember.constant dense<1.000000e+00> : tensor<4xf32>
  %c = ember.constant dense<1.0> : tensor<4xf32>
  // CHECK: ember.cast %{{.*}} : tensor<?x4xi32> to tensor<?x4xf32>
  %f = ember.cast %i : tensor<?x4xi32> to tensor<?x4xf32>
  // CHECK: ember.neg
  %0 = ember.neg %a : tensor<?x4xf32>
  // CHECK: ember.abs
  %1 = ember.abs %0 : tensor<?x4xf32>
  // CHECK: ember.exp
  %2 = ember.exp %1 : tensor<?x4xf32>
  // CHECK: ember.log
  %3 = ember.log %2 : tensor<?x4xf32>
  // CHECK: ember.sqrt
  %4 = ember.sqrt %3 : tensor<?x4xf32>
  // CHECK: ember.rsqrt
  %5 = ember.rsqrt %4 : tensor<?x4xf32>
  // CHECK: ember.tanh
  %6 = ember.tanh %5 : tensor<?x4xf32>
  // CHECK: ember.sigmoid
  %7 = ember.sigmoid %6 : tensor<?x4xf32>
  // CHECK: ember.relu
  %8 = ember.relu %7 : tensor<?x4xf32>
  // CHECK: ember.gelu
  %9 = ember.gelu %8 : tensor<?x4xf32>
  // CHECK: ember.add %{{.*}}, %{{.*}} : tensor<?x4xf32>, tensor<4xf32> -> tensor<?x4xf32>
  %10 = ember.add %9, %b : tensor<?x4xf32>, tensor<4xf32> -> tensor<?x4xf32>
  // CHECK: ember.sub
  %11 = ember.sub %10, %c : tensor<?x4xf32>, tensor<4xf32> -> tensor<?x4xf32>
  // CHECK: ember.mul
  %12 = ember.mul %11, %f : tensor<?x4xf32>, tensor<?x4xf32> -> tensor<?x4xf32>
  // CHECK: ember.div
  %13 = ember.div %12, %b : tensor<?x4xf32>, tensor<4xf32> -> tensor<?x4xf32>
  // CHECK: ember.pow
  %14 = ember.pow %13, %b : tensor<?x4xf32>, tensor<4xf32> -> tensor<?x4xf32>
  // CHECK: ember.maximum
  %15 = ember.maximum %14, %b : tensor<?x4xf32>, tensor<4xf32> -> tensor<?x4xf32>
  // CHECK: ember.minimum
  %16 = ember.minimum %15, %b : tensor<?x4xf32>, tensor<4xf32> -> tensor<?x4xf32>
  // CHECK: ember.compare lt, %{{.*}}, %{{.*}} : tensor<?x4xf32>, tensor<4xf32> -> tensor<?x4xi1>
  %m = ember.compare lt, %16, %b : tensor<?x4xf32>, tensor<4xf32> -> tensor<?x4xi1>
  // CHECK: ember.select %{{.*}}, %{{.*}}, %{{.*}} : tensor<?x4xi1>, tensor<?x4xf32>, tensor<4xf32> -> tensor<?x4xf32>
  %17 = ember.select %m, %16, %b : tensor<?x4xi1>, tensor<?x4xf32>, tensor<4xf32> -> tensor<?x4xf32>
  return %17 : tensor<?x4xf32>
}

// CHECK-LABEL: func @reductions
func.func @reductions(%x: tensor<?x8x3xf64>) -> (tensor<?xf64>, tensor<?x1x1xf64>, tensor<8x3xf64>, tensor<?x3xf64>, tensor<?x3xi64>, tensor<?x8x1xi64>) {
  // CHECK: ember.sum %{{.*}} dims = [1, 2] : tensor<?x8x3xf64> -> tensor<?xf64>
  %0 = ember.sum %x dims = [1, 2] : tensor<?x8x3xf64> -> tensor<?xf64>
  // CHECK: ember.mean %{{.*}} dims = [1, 2] keepdim : tensor<?x8x3xf64> -> tensor<?x1x1xf64>
  %1 = ember.mean %x dims = [1, 2] keepdim : tensor<?x8x3xf64> -> tensor<?x1x1xf64>
  // CHECK: ember.max
  %2 = ember.max %x dims = [0] : tensor<?x8x3xf64> -> tensor<8x3xf64>
  // CHECK: ember.min
  %3 = ember.min %x dims = [1] : tensor<?x8x3xf64> -> tensor<?x3xf64>
  // CHECK: ember.argmax %{{.*}} dim = 1 : tensor<?x8x3xf64> -> tensor<?x3xi64>
  %4 = ember.argmax %x dim = 1 : tensor<?x8x3xf64> -> tensor<?x3xi64>
  // CHECK: ember.argmin %{{.*}} dim = 2 keepdim : tensor<?x8x3xf64> -> tensor<?x8x1xi64>
  %5 = ember.argmin %x dim = 2 keepdim : tensor<?x8x3xf64> -> tensor<?x8x1xi64>
  return %0, %1, %2, %3, %4, %5 : tensor<?xf64>, tensor<?x1x1xf64>, tensor<8x3xf64>, tensor<?x3xf64>, tensor<?x3xi64>, tensor<?x8x1xi64>
}

// CHECK-LABEL: func @linalg_and_shapes
func.func @linalg_and_shapes(%a: tensor<2x1x?x4xbf16>, %b: tensor<5x4x6xbf16>, %n: index) -> tensor<?x6xbf16> {
  // CHECK: ember.matmul %{{.*}}, %{{.*}} : tensor<2x1x?x4xbf16>, tensor<5x4x6xbf16> -> tensor<2x5x?x6xbf16>
  %0 = ember.matmul %a, %b : tensor<2x1x?x4xbf16>, tensor<5x4x6xbf16> -> tensor<2x5x?x6xbf16>
  // CHECK: ember.transpose %{{.*}} perm = [1, 0, 2, 3] : tensor<2x5x?x6xbf16> -> tensor<5x2x?x6xbf16>
  %1 = ember.transpose %0 perm = [1, 0, 2, 3] : tensor<2x5x?x6xbf16> -> tensor<5x2x?x6xbf16>
  // CHECK: ember.reshape %{{.*}}[%{{.*}}] : tensor<5x2x?x6xbf16> -> tensor<?x6xbf16>
  %2 = ember.reshape %1 [%n] : tensor<5x2x?x6xbf16> -> tensor<?x6xbf16>
  // CHECK: ember.slice %{{.*}} start = [0, -1] stop = [9223372036854775807, 6] step = [2, 1] : tensor<?x6xbf16> -> tensor<?x1xbf16>
  %3 = ember.slice %2 start = [0, -1] stop = [9223372036854775807, 6] step = [2, 1] : tensor<?x6xbf16> -> tensor<?x1xbf16>
  // CHECK: ember.broadcast_to %{{.*}}[%{{.*}}] : tensor<?x1xbf16> -> tensor<?x6xbf16>
  %4 = ember.broadcast_to %3 [%n] : tensor<?x1xbf16> -> tensor<?x6xbf16>
  // CHECK: ember.concat %{{.*}}, %{{.*}} dim = 0 : tensor<?x6xbf16>, tensor<?x6xbf16> -> tensor<?x6xbf16>
  %5 = ember.concat %4, %2 dim = 0 : tensor<?x6xbf16>, tensor<?x6xbf16> -> tensor<?x6xbf16>
  // CHECK: ember.softmax %{{.*}} dim = 1 : tensor<?x6xbf16>
  %6 = ember.softmax %5 dim = 1 : tensor<?x6xbf16>
  // CHECK: ember.log_softmax %{{.*}} dim = 0 : tensor<?x6xbf16>
  %7 = ember.log_softmax %6 dim = 0 : tensor<?x6xbf16>
  return %7 : tensor<?x6xbf16>
}

// CHECK-LABEL: func @normalisations
func.func @normalisations(%x: tensor<?x6xf32>, %w: tensor<6xf32>, %b: tensor<?xf32>) -> tensor<?x6xf32> {
  // CHECK: ember.layer_norm %{{.*}} weight %{{.*}} : tensor<6xf32> bias %{{.*}} : tensor<?xf32> eps = 1.000000e-05 : tensor<?x6xf32>
  %0 = ember.layer_norm %x weight %w : tensor<6xf32> bias %b : tensor<?xf32> eps = 1.0e-05 : tensor<?x6xf32>
  // CHECK: ember.layer_norm %{{.*}} bias %{{.*}} : tensor<?xf32> eps = 1.000000e-05 : tensor<?x6xf32>
  %1 = ember.layer_norm %0 bias %b : tensor<?xf32> eps = 1.0e-05 : tensor<?x6xf32>
  // CHECK: ember.rms_norm %{{.*}} eps = 9.9999999999999995E-7 : tensor<?x6xf32>
  %2 = ember.rms_norm %1 eps = 1.0e-06 : tensor<?x6xf32>
  // CHECK: ember.softmax_backward %{{.*}}, %{{.*}} dim = 1 : tensor<?x6xf32>
  %3 = ember.softmax_backward %2, %1 dim = 1 : tensor<?x6xf32>
  // CHECK: ember.log_softmax_backward %{{.*}}, %{{.*}} dim = 0 : tensor<?x6xf32>
  %4 = ember.log_softmax_backward %3, %1 dim = 0 : tensor<?x6xf32>
  // CHECK: ember.layer_norm_backward %{{.*}}, %{{.*}} weight %{{.*}} : tensor<6xf32> eps = 1.000000e-05 : tensor<?x6xf32>
  %5 = ember.layer_norm_backward %4, %x weight %w : tensor<6xf32> eps = 1.0e-05 : tensor<?x6xf32>
  // CHECK: ember.rms_norm_backward %{{.*}}, %{{.*}} eps = 9.9999999999999995E-7 : tensor<?x6xf32>
  %6 = ember.rms_norm_backward %5, %x eps = 1.0e-06 : tensor<?x6xf32>
  return %6 : tensor<?x6xf32>
}

// CHECK-LABEL: func @scalars_and_bools
func.func @scalars_and_bools(%s: tensor<f16>, %m: tensor<3xi1>, %k: tensor<3xi64>) -> tensor<3xi64> {
  // CHECK: ember.add %{{.*}}, %{{.*}} : tensor<f16>, tensor<f16> -> tensor<f16>
  %0 = ember.add %s, %s : tensor<f16>, tensor<f16> -> tensor<f16>
  // CHECK: ember.compare eq, %{{.*}}, %{{.*}} : tensor<3xi1>, tensor<3xi1> -> tensor<3xi1>
  %1 = ember.compare eq, %m, %m : tensor<3xi1>, tensor<3xi1> -> tensor<3xi1>
  %2 = ember.select %1, %k, %k : tensor<3xi1>, tensor<3xi64>, tensor<3xi64> -> tensor<3xi64>
  return %2 : tensor<3xi64>
}

// CHECK-LABEL: func @logical
func.func @logical(%a: tensor<?x4xi1>, %b: tensor<4xi1>, %i: tensor<?x4xi64>, %j: tensor<1x4xi64>) -> (tensor<?x4xi1>, tensor<?x4xi64>) {
  // CHECK: ember.and %{{.*}}, %{{.*}} : tensor<?x4xi1>, tensor<4xi1> -> tensor<?x4xi1>
  %0 = ember.and %a, %b : tensor<?x4xi1>, tensor<4xi1> -> tensor<?x4xi1>
  // CHECK: ember.or %{{.*}}, %{{.*}} : tensor<?x4xi1>, tensor<4xi1> -> tensor<?x4xi1>
  %1 = ember.or %0, %b : tensor<?x4xi1>, tensor<4xi1> -> tensor<?x4xi1>
  // CHECK: ember.xor %{{.*}}, %{{.*}} : tensor<?x4xi1>, tensor<?x4xi1> -> tensor<?x4xi1>
  %2 = ember.xor %1, %a : tensor<?x4xi1>, tensor<?x4xi1> -> tensor<?x4xi1>
  // CHECK: ember.not %{{.*}} : tensor<?x4xi1>
  %3 = ember.not %2 : tensor<?x4xi1>
  // CHECK: ember.xor %{{.*}}, %{{.*}} : tensor<?x4xi64>, tensor<1x4xi64> -> tensor<?x4xi64>
  %4 = ember.xor %i, %j : tensor<?x4xi64>, tensor<1x4xi64> -> tensor<?x4xi64>
  // CHECK: ember.not %{{.*}} : tensor<?x4xi64>
  %5 = ember.not %4 : tensor<?x4xi64>
  return %3, %5 : tensor<?x4xi1>, tensor<?x4xi64>
}

// CHECK-LABEL: func @indexing
func.func @indexing(%x: tensor<?x8xf32>, %idx: tensor<2x3xi64>, %k: tensor<i32>, %s: tensor<2x4xf32>) -> (tensor<?x2x3xf32>, tensor<8xf32>, tensor<?x8xf32>) {
  // CHECK: ember.gather %{{.*}}, %{{.*}} dim = 1 : tensor<?x8xf32>, tensor<2x3xi64> -> tensor<?x2x3xf32>
  %0 = ember.gather %x, %idx dim = 1 : tensor<?x8xf32>, tensor<2x3xi64> -> tensor<?x2x3xf32>
  // CHECK: ember.gather %{{.*}}, %{{.*}} dim = 0 : tensor<?x8xf32>, tensor<i32> -> tensor<8xf32>
  %1 = ember.gather %x, %k dim = 0 : tensor<?x8xf32>, tensor<i32> -> tensor<8xf32>
  // CHECK: ember.insert_slice %{{.*}} into %{{.*}} start = [-2, 0] stop = [9223372036854775807, 8] step = [1, 2] : tensor<2x4xf32> into tensor<?x8xf32>
  %2 = ember.insert_slice %s into %x start = [-2, 0] stop = [9223372036854775807, 8] step = [1, 2] : tensor<2x4xf32> into tensor<?x8xf32>
  return %0, %1, %2 : tensor<?x2x3xf32>, tensor<8xf32>, tensor<?x8xf32>
}

// CHECK-LABEL: func @scatter_add_and_erf
func.func @scatter_add_and_erf(%x: tensor<?x8xf32>, %idx: tensor<2x3xi64>, %u: tensor<?x2x3xf32>) -> tensor<?x8xf32> {
  // CHECK: ember.scatter_add %{{.*}}, %{{.*}}, %{{.*}} dim = 1 : tensor<?x8xf32>, tensor<2x3xi64>, tensor<?x2x3xf32>
  %0 = ember.scatter_add %x, %idx, %u dim = 1 : tensor<?x8xf32>, tensor<2x3xi64>, tensor<?x2x3xf32>
  // CHECK: ember.erf %{{.*}} : tensor<?x8xf32>
  %1 = ember.erf %0 : tensor<?x8xf32>
  return %1 : tensor<?x8xf32>
}

// Run-time starts and stops are index operands in the bound lists.
// CHECK-LABEL: func @runtime_windows
func.func @runtime_windows(%x: tensor<?x8xf32>, %s: tensor<?x8xf32>, %i: index, %j: index) -> (tensor<?x8xf32>, tensor<?x8xf32>) {
  // CHECK: ember.slice %{{.*}} start = [%{{.*}}, 0] stop = [%{{.*}}, 9223372036854775807] step = [1, 1] : tensor<?x8xf32> -> tensor<?x8xf32>
  %0 = ember.slice %x start = [%i, 0] stop = [%j, 9223372036854775807] step = [1, 1] : tensor<?x8xf32> -> tensor<?x8xf32>
  // CHECK: ember.insert_slice %{{.*}} into %{{.*}} start = [%{{.*}}, 0] stop = [%{{.*}}, 9223372036854775807] step = [2, 1] : tensor<?x8xf32> into tensor<?x8xf32>
  %1 = ember.insert_slice %s into %x start = [%i, 0] stop = [%j, 9223372036854775807] step = [2, 1] : tensor<?x8xf32> into tensor<?x8xf32>
  return %0, %1 : tensor<?x8xf32>, tensor<?x8xf32>
}

// CHECK-LABEL: func @cross_entropy_rows
func.func @cross_entropy_rows(%x: tensor<?x10xf32>, %t: tensor<?xi64>, %g: tensor<?xf32>) -> (tensor<?xf32>, tensor<?x10xf32>) {
  // CHECK: ember.cross_entropy_rows %{{.*}}, %{{.*}} ignore_index = -100 : tensor<?x10xf32>, tensor<?xi64> -> tensor<?xf32>
  %0 = ember.cross_entropy_rows %x, %t ignore_index = -100 : tensor<?x10xf32>, tensor<?xi64> -> tensor<?xf32>
  // CHECK: ember.cross_entropy_rows_backward %{{.*}}, %{{.*}}, %{{.*}} ignore_index = 2 : tensor<?xf32>, tensor<?x10xf32>, tensor<?xi64>
  %1 = ember.cross_entropy_rows_backward %g, %x, %t ignore_index = 2 : tensor<?xf32>, tensor<?x10xf32>, tensor<?xi64>
  return %0, %1 : tensor<?xf32>, tensor<?x10xf32>
}

// CHECK-LABEL: func @recurrent_sequence
func.func @recurrent_sequence(%x: tensor<?x?x?xf32>, %h0: tensor<?x?xf32>, %c0: tensor<?x?xf32>, %w: tensor<?x?xf32>, %b: tensor<?xf32>, %whr: tensor<?x?xf32>, %m: tensor<?x?xf32>) -> (tensor<?x?x?xf32>, tensor<?x?x?xf32>, tensor<?x?x?xf32>) {
  // CHECK: ember.recurrent_sequence %{{.*}}, %{{.*}} c0 %{{.*}} : tensor<?x?xf32> weight_hh %{{.*}} : tensor<?x?xf32> weight_hr %{{.*}} : tensor<?x?xf32> mask %{{.*}} : tensor<?x?xf32> cell = 2 : tensor<?x?x?xf32>, tensor<?x?xf32> -> tensor<?x?x?xf32>
  %0 = ember.recurrent_sequence %x, %h0 c0 %c0 : tensor<?x?xf32> weight_hh %w : tensor<?x?xf32> weight_hr %whr : tensor<?x?xf32> mask %m : tensor<?x?xf32> cell = 2 : tensor<?x?x?xf32>, tensor<?x?xf32> -> tensor<?x?x?xf32>
  // CHECK: ember.recurrent_sequence %{{.*}}, %{{.*}} weight_hh %{{.*}} : tensor<?x?xf32> bias_hh %{{.*}} : tensor<?xf32> cell = 3 : tensor<?x?x?xf32>, tensor<?x?xf32> -> tensor<?x?x?xf32>
  %1 = ember.recurrent_sequence %x, %h0 weight_hh %w : tensor<?x?xf32> bias_hh %b : tensor<?xf32> cell = 3 : tensor<?x?x?xf32>, tensor<?x?xf32> -> tensor<?x?x?xf32>
  // CHECK: ember.recurrent_sequence_backward %{{.*}}, %{{.*}} weight_hh %{{.*}} : tensor<?x?xf32> weight_hr %{{.*}} : tensor<?x?xf32> mask %{{.*}} : tensor<?x?xf32> cell = 2 : tensor<?x?x?xf32> -> tensor<?x?x?xf32>
  %2 = ember.recurrent_sequence_backward %0, %0 weight_hh %w : tensor<?x?xf32> weight_hr %whr : tensor<?x?xf32> mask %m : tensor<?x?xf32> cell = 2 : tensor<?x?x?xf32> -> tensor<?x?x?xf32>
  return %0, %1, %2 : tensor<?x?x?xf32>, tensor<?x?x?xf32>, tensor<?x?x?xf32>
}
