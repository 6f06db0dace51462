// RUN: ember-opt %s -ember-custom-call-to-runtime | FileCheck %s

// A custom call becomes a call descriptor on the stack (magic, name,
// attributes, each input's dtype/rank/pointer/offset/sizes/strides, each
// output's dtype/rank), the shapes call, output allocations sized from the
// descriptor, and the kernel call; the results read the allocations.

// CHECK-DAG: func.func private @ember_custom_call_shapes(memref<?xi64>)
// CHECK-DAG: func.func private @ember_custom_call(memref<?xi64>)

// CHECK-LABEL: func.func @swish
// magic, name (length + 2 words), attribute count, beta (length, 1 word,
// value), input count, input (dtype, rank, pointer, offset, 2 sizes, 2
// strides), output count, output (the same): 26 words
// CHECK: %[[D:.*]] = memref.alloca() : memref<26xi64>
// "EMBCCAL1"
// CHECK: arith.constant 4993720418482342961 : i64
// CHECK: %[[XB:.*]] = bufferization.to_buffer %arg0 read_only : tensor<?x4xf32> to memref<?x4xf32, strided<[?, ?], offset: ?>>
// CHECK: memref.extract_strided_metadata %[[XB]]
// CHECK: memref.extract_aligned_pointer_as_index %[[XB]]
// CHECK: %[[DC:.*]] = memref.cast %[[D]] : memref<26xi64> to memref<?xi64>
// CHECK: call @ember_custom_call_shapes(%[[DC]])
// CHECK: %[[N:.*]] = memref.load %[[D]]
// CHECK: %[[NI:.*]] = arith.index_cast %[[N]] : i64 to index
// CHECK: %[[Y:.*]] = memref.alloc(%[[NI]]) : memref<?x4xf32>
// CHECK: memref.extract_aligned_pointer_as_index %[[Y]]
// CHECK: %[[T:.*]] = bufferization.to_tensor %[[Y]] restrict writable
// CHECK: call @ember_custom_call(%[[DC]])
// CHECK: return %[[T]]
func.func @swish(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %y = ember.custom_call "demo::swish"(%x) {op_attributes = {beta = 1.5 : f64}}
      : (tensor<?x4xf32>) -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}

// A custom call nothing reads is erased, not called.
// CHECK-LABEL: func.func @unused
// CHECK-NOT: call
// CHECK: return
func.func @unused(%x: tensor<4xf32>) -> tensor<4xf32> {
  %y = ember.custom_call "demo::swish"(%x) : (tensor<4xf32>) -> tensor<4xf32>
  return %x : tensor<4xf32>
}
