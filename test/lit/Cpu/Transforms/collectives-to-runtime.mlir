// RUN: ember-opt %s -ember-collectives-to-runtime | FileCheck %s

// ember.all_reduce calls the runtime with the input as a read-only 1-D
// view and a fresh 1-D result buffer, then the reduce op and the group as
// i64 scalars; the result is expanded back to the op's shape. Two
// collectives stay two calls, in program order, even on the same value.

// CHECK-DAG: func.func private @ember_collective_all_reduce_f32(memref<?xf32, strided<[?], offset: ?>>, memref<?xf32, strided<[?], offset: ?>>, i64, i64)
// CHECK-DAG: func.func private @ember_collective_all_reduce_i64(

// CHECK-LABEL: func.func @two_in_order
// CHECK: %[[FLAT:.*]] = tensor.collapse_shape %arg0 {{\[\[}}0, 1]] : tensor<?x8xf32> into tensor<?xf32>
// CHECK: %[[IN:.*]] = bufferization.to_buffer %[[FLAT]] read_only
// CHECK: %[[OUT:.*]] = memref.alloc(%{{.*}}) : memref<?xf32>
// CHECK: %[[OP:.*]] = arith.constant 1 : i64
// CHECK: %[[GROUP:.*]] = arith.constant 3 : i64
// CHECK: call @ember_collective_all_reduce_f32(%{{.*}}, %{{.*}}, %[[OP]], %[[GROUP]])
// CHECK: bufferization.to_tensor %[[OUT]] restrict writable
// CHECK: tensor.expand_shape %{{.*}} {{\[\[}}0, 1]] output_shape [%{{.*}}, 8] : tensor<?xf32> into tensor<?x8xf32>
// CHECK: arith.constant 2 : i64
// CHECK: call @ember_collective_all_reduce_f32(
// CHECK-NOT: ember.all_reduce
// CHECK: return
func.func @two_in_order(%x: tensor<?x8xf32>) -> (tensor<?x8xf32>, tensor<?x8xf32>) {
  %a = ember.all_reduce %x {reduce_op = 1 : i64, group = 3 : i64} : tensor<?x8xf32>
  %b = ember.all_reduce %x {reduce_op = 2 : i64, group = 3 : i64} : tensor<?x8xf32>
  return %a, %b : tensor<?x8xf32>, tensor<?x8xf32>
}

// A scalar and a static 1-D tensor of another element type.
// CHECK-LABEL: func.func @scalar_and_vector
// CHECK: tensor.expand_shape %arg0 [] output_shape [1] : tensor<f32> into tensor<1xf32>
// CHECK: call @ember_collective_all_reduce_f32(
// CHECK: tensor.cast %{{.*}} : tensor<?xf32> to tensor<1xf32>
// CHECK: tensor.collapse_shape %{{.*}} [] : tensor<1xf32> into tensor<f32>
// CHECK: call @ember_collective_all_reduce_i64(
// CHECK: tensor.cast %{{.*}} : tensor<?xi64> to tensor<5xi64>
func.func @scalar_and_vector(%s: tensor<f32>, %v: tensor<5xi64>) -> (tensor<f32>, tensor<5xi64>) {
  %a = ember.all_reduce %s {reduce_op = 0 : i64, group = 0 : i64} : tensor<f32>
  %b = ember.all_reduce %v {reduce_op = 3 : i64, group = 0 : i64} : tensor<5xi64>
  return %a, %b : tensor<f32>, tensor<5xi64>
}
