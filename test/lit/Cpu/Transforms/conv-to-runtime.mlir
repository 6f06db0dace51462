// RUN: ember-opt %s -ember-conv-to-runtime | FileCheck %s

// f32 convolutions call the runtime's kernels on 5-D views: unit spatial
// dims in front (an expand_shape joining C's group), operands read-only,
// the result a fresh 5-D buffer collapsed back; stride, low padding and
// dilation per dim (1, 0, 1 for the unit dims) and groups as i64 scalars.
// f64 is left alone.

// CHECK-DAG: func.func private @ember_cpu_conv_f32(memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64)
// CHECK-DAG: func.func private @ember_cpu_conv_backward_data_f32(
// CHECK-DAG: func.func private @ember_cpu_conv_backward_weight_f32(

// CHECK-LABEL: func.func @conv2d
// CHECK: %[[X5:.*]] = tensor.expand_shape %arg0 {{\[\[}}0], [1, 2], [3], [4]] output_shape [%{{.*}}, %{{.*}}, 1, %{{.*}}, %{{.*}}] : tensor<?x?x?x?xf32> into tensor<?x?x1x?x?xf32>
// CHECK: %[[XB:.*]] = bufferization.to_buffer %[[X5]] read_only
// CHECK: %[[XC:.*]] = memref.cast %[[XB]]
// CHECK: call @ember_cpu_conv_f32(%[[XC]], %{{.*}}, %{{.*}}, %[[ONE:.*]], %{{.*}}, %{{.*}}, %[[ZERO:.*]], %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}})
// CHECK: %[[R:.*]] = tensor.collapse_shape %{{.*}} {{\[\[}}0], [1, 2], [3], [4]] : tensor<?x?x1x?x?xf32> into tensor<?x?x?x?xf32>
// CHECK: return %[[R]]
func.func @conv2d(%x: tensor<?x?x?x?xf32>, %w: tensor<?x?x3x3xf32>) -> tensor<?x?x?x?xf32> {
  %y = ember.conv %x, %w {strides = array<i64: 2, 1>, padding_low = array<i64: 0, 1>, padding_high = array<i64: 1, 0>, dilations = array<i64: 1, 2>, groups = 2 : i64} : tensor<?x?x?x?xf32>, tensor<?x?x3x3xf32> -> tensor<?x?x?x?xf32>
  return %y : tensor<?x?x?x?xf32>
}

// The gradients: the result's sizes from the cotangent, the weight and the
// sizes operands (conv_backward_data's channels = weight dim 1 x groups).
// CHECK-LABEL: func.func @gradients
// CHECK: %[[C:.*]] = tensor.dim %arg1, %c1
// CHECK: %[[CG:.*]] = arith.muli %[[C]], %c2
// CHECK: memref.alloc(%{{.*}}, %[[CG]], %arg3) : memref<?x?x1x1x?xf32>
// CHECK: call @ember_cpu_conv_backward_data_f32(
// CHECK: call @ember_cpu_conv_backward_weight_f32(
// CHECK: tensor.collapse_shape %{{.*}} {{\[\[}}0], [1, 2, 3], [4]] : tensor<?x?x1x1x?xf32> into tensor<?x?x?xf32>
func.func @gradients(%g: tensor<?x?x?xf32>, %w: tensor<?x?x?xf32>, %x: tensor<?x?x?xf32>, %n: index, %k: index) -> (tensor<?x?x?xf32>, tensor<?x?x?xf32>) {
  %dx = ember.conv_backward_data %g, %w sizes(%n) {strides = array<i64: 2>, padding_low = array<i64: 1>, padding_high = array<i64: 1>, dilations = array<i64: 1>, groups = 2 : i64} : tensor<?x?x?xf32>, tensor<?x?x?xf32> -> tensor<?x?x?xf32>
  %dw = ember.conv_backward_weight %x, %g sizes(%k) {strides = array<i64: 2>, padding_low = array<i64: 1>, padding_high = array<i64: 1>, dilations = array<i64: 1>, groups = 2 : i64} : tensor<?x?x?xf32>, tensor<?x?x?xf32> -> tensor<?x?x?xf32>
  return %dx, %dw : tensor<?x?x?xf32>, tensor<?x?x?xf32>
}

// CHECK-LABEL: func.func @f64
// CHECK: ember.conv
// CHECK-NOT: call
func.func @f64(%x: tensor<2x3x8xf64>, %w: tensor<4x3x3xf64>) -> tensor<2x4x6xf64> {
  %y = ember.conv %x, %w {strides = array<i64: 1>, padding_low = array<i64: 0>, padding_high = array<i64: 0>, dilations = array<i64: 1>, groups = 1 : i64} : tensor<2x3x8xf64>, tensor<4x3x3xf64> -> tensor<2x4x6xf64>
  return %y : tensor<2x4x6xf64>
}

// A max pool as python/ember/nn/_pooling.py composes it (the running
// maximum where((v > best) | (v != v), v, best) over one strided slice per
// kernel offset, row-major, constant bounds): the chain's last select
// becomes ember_cpu_max_pool_f32 on the sliced input, with the first
// window's row and column, the strides, the kernel and the dilations.
// CHECK-LABEL: func.func @max_pool
// CHECK: %[[P5:.*]] = tensor.expand_shape %arg0 {{\[\[}}0], [1, 2], [3], [4]]
// CHECK: %[[PB:.*]] = bufferization.to_buffer %[[P5]] read_only
// CHECK: %[[PC:.*]] = memref.cast %[[PB]]
// CHECK: call @ember_cpu_max_pool_f32(%[[PC]], %{{.*}}, %c0_i64{{[_0-9]*}}, %c0_i64{{[_0-9]*}}, %c2_i64{{[_0-9]*}}, %c2_i64{{[_0-9]*}}, %c2_i64{{[_0-9]*}}, %c2_i64{{[_0-9]*}}, %c1_i64{{[_0-9]*}}, %c1_i64{{[_0-9]*}}) :
// CHECK: %[[Y:.*]] = tensor.collapse_shape %{{.*}} {{\[\[}}0], [1, 2], [3], [4]] : tensor<1x?x1x4x4xf32> into tensor<1x?x4x4xf32>
// CHECK: %[[YC:.*]] = tensor.cast %[[Y]] : tensor<1x?x4x4xf32> to tensor<1x?x?x?xf32>
// CHECK: return %[[YC]]
func.func @max_pool(%p: tensor<1x?x?x?xf32>) -> tensor<1x?x?x?xf32> {
  %c7 = arith.constant 7 : index
  %c0 = arith.constant 0 : index
  %c8 = arith.constant 8 : index
  %c1 = arith.constant 1 : index
  %0 = ember.slice %p start = [0, 0, %c1, 0] stop = [9223372036854775807, 9223372036854775807, %c8, 9223372036854775807] step = [1, 1, 2, 1] : tensor<1x?x?x?xf32> -> tensor<1x?x?x?xf32>
  %1 = ember.slice %0 start = [0, 0, 0, %c1] stop = [9223372036854775807, 9223372036854775807, 9223372036854775807, %c8] step = [1, 1, 1, 2] : tensor<1x?x?x?xf32> -> tensor<1x?x?x?xf32>
  %2 = ember.slice %0 start = [0, 0, 0, %c0] stop = [9223372036854775807, 9223372036854775807, 9223372036854775807, %c7] step = [1, 1, 1, 2] : tensor<1x?x?x?xf32> -> tensor<1x?x?x?xf32>
  %3 = ember.slice %p start = [0, 0, %c0, 0] stop = [9223372036854775807, 9223372036854775807, %c7, 9223372036854775807] step = [1, 1, 2, 1] : tensor<1x?x?x?xf32> -> tensor<1x?x?x?xf32>
  %4 = ember.slice %3 start = [0, 0, 0, %c1] stop = [9223372036854775807, 9223372036854775807, 9223372036854775807, %c8] step = [1, 1, 1, 2] : tensor<1x?x?x?xf32> -> tensor<1x?x?x?xf32>
  %5 = ember.slice %3 start = [0, 0, 0, %c0] stop = [9223372036854775807, 9223372036854775807, 9223372036854775807, %c7] step = [1, 1, 1, 2] : tensor<1x?x?x?xf32> -> tensor<1x?x?x?xf32>
  %6 = ember.compare gt, %4, %5 : tensor<1x?x?x?xf32>, tensor<1x?x?x?xf32> -> tensor<1x?x?x?xi1>
  %7 = ember.compare ne, %4, %4 : tensor<1x?x?x?xf32>, tensor<1x?x?x?xf32> -> tensor<1x?x?x?xi1>
  %8 = ember.or %6, %7 : tensor<1x?x?x?xi1>, tensor<1x?x?x?xi1> -> tensor<1x?x?x?xi1>
  %9 = ember.select %8, %4, %5 : tensor<1x?x?x?xi1>, tensor<1x?x?x?xf32>, tensor<1x?x?x?xf32> -> tensor<1x?x?x?xf32>
  %10 = ember.compare gt, %2, %9 : tensor<1x?x?x?xf32>, tensor<1x?x?x?xf32> -> tensor<1x?x?x?xi1>
  %11 = ember.compare ne, %2, %2 : tensor<1x?x?x?xf32>, tensor<1x?x?x?xf32> -> tensor<1x?x?x?xi1>
  %12 = ember.or %11, %10 : tensor<1x?x?x?xi1>, tensor<1x?x?x?xi1> -> tensor<1x?x?x?xi1>
  %13 = ember.select %12, %2, %9 : tensor<1x?x?x?xi1>, tensor<1x?x?x?xf32>, tensor<1x?x?x?xf32> -> tensor<1x?x?x?xf32>
  %14 = ember.compare gt, %1, %13 : tensor<1x?x?x?xf32>, tensor<1x?x?x?xf32> -> tensor<1x?x?x?xi1>
  %15 = ember.compare ne, %1, %1 : tensor<1x?x?x?xf32>, tensor<1x?x?x?xf32> -> tensor<1x?x?x?xi1>
  %16 = ember.or %14, %15 : tensor<1x?x?x?xi1>, tensor<1x?x?x?xi1> -> tensor<1x?x?x?xi1>
  %17 = ember.select %16, %1, %13 : tensor<1x?x?x?xi1>, tensor<1x?x?x?xf32>, tensor<1x?x?x?xf32> -> tensor<1x?x?x?xf32>
  return %17 : tensor<1x?x?x?xf32>
}

// Not a pool: offsets that are no row-major grid (the second window starts
// a column to the left), a run-time start (an eager trace's parameters), a
// select that is not the running maximum's step.
// CHECK-LABEL: func.func @not_pools
// CHECK-NOT: ember_cpu_max_pool_f32
// CHECK: return
func.func @not_pools(%p: tensor<1x?x?x?xf32>, %s: index, %m: tensor<1x?x?x?xi1>) -> (tensor<1x?x?x?xf32>, tensor<1x?x?x?xf32>, tensor<1x?x?x?xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c7 = arith.constant 7 : index
  %c8 = arith.constant 8 : index
  %a = ember.slice %p start = [0, 0, %c0, %c1] stop = [9223372036854775807, 9223372036854775807, %c7, %c8] step = [1, 1, 2, 2] : tensor<1x?x?x?xf32> -> tensor<1x?x?x?xf32>
  %b = ember.slice %p start = [0, 0, %c0, %c0] stop = [9223372036854775807, 9223372036854775807, %c7, %c7] step = [1, 1, 2, 2] : tensor<1x?x?x?xf32> -> tensor<1x?x?x?xf32>
  %g = ember.compare gt, %b, %a : tensor<1x?x?x?xf32>, tensor<1x?x?x?xf32> -> tensor<1x?x?x?xi1>
  %n = ember.compare ne, %b, %b : tensor<1x?x?x?xf32>, tensor<1x?x?x?xf32> -> tensor<1x?x?x?xi1>
  %o = ember.or %g, %n : tensor<1x?x?x?xi1>, tensor<1x?x?x?xi1> -> tensor<1x?x?x?xi1>
  %r1 = ember.select %o, %b, %a : tensor<1x?x?x?xi1>, tensor<1x?x?x?xf32>, tensor<1x?x?x?xf32> -> tensor<1x?x?x?xf32>
  %d = ember.slice %p start = [0, 0, %s, %c1] stop = [9223372036854775807, 9223372036854775807, %c7, %c8] step = [1, 1, 2, 2] : tensor<1x?x?x?xf32> -> tensor<1x?x?x?xf32>
  %g2 = ember.compare gt, %d, %b : tensor<1x?x?x?xf32>, tensor<1x?x?x?xf32> -> tensor<1x?x?x?xi1>
  %n2 = ember.compare ne, %d, %d : tensor<1x?x?x?xf32>, tensor<1x?x?x?xf32> -> tensor<1x?x?x?xi1>
  %o2 = ember.or %g2, %n2 : tensor<1x?x?x?xi1>, tensor<1x?x?x?xi1> -> tensor<1x?x?x?xi1>
  %r2 = ember.select %o2, %d, %b : tensor<1x?x?x?xi1>, tensor<1x?x?x?xf32>, tensor<1x?x?x?xf32> -> tensor<1x?x?x?xf32>
  %r3 = ember.select %m, %a, %b : tensor<1x?x?x?xi1>, tensor<1x?x?x?xf32>, tensor<1x?x?x?xf32> -> tensor<1x?x?x?xf32>
  return %r1, %r2, %r3 : tensor<1x?x?x?xf32>, tensor<1x?x?x?xf32>, tensor<1x?x?x?xf32>
}
