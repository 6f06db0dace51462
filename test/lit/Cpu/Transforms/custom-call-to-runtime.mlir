// RUN: ember-opt %s -ember-custom-call-to-runtime | FileCheck %s
// RUN: ember-opt %s -ember-custom-call-to-runtime=gpu=true | FileCheck %s --check-prefix=GPU

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

// For a GPU's launch plan: no descriptor, no pointers. The inputs are
// read-only strided views; the shapes call returns the outputs' sizes;
// the kernel call takes the views and the output allocations; both carry
// the op's name, attributes, dtype codes and output ranks.
// GPU-DAG: func.func private @ember_custom_call_gpu_shapes_0(memref<?x4xf32, strided<[?, ?], offset: ?>>) -> (index, index)
// GPU-DAG: func.func private @ember_custom_call_gpu_0(memref<?x4xf32, strided<[?, ?], offset: ?>>, memref<?x4xf32>)
// GPU-LABEL: func.func @swish
// GPU-NOT: memref.alloca
// GPU: %[[XB:.*]] = bufferization.to_buffer %arg0 read_only
// GPU: %[[S:.*]]:2 = call @ember_custom_call_gpu_shapes_0(%[[XB]]) {ember.custom_dtypes = array<i64: 5, 5>, ember.custom_inputs = 1 : i64, ember.custom_op = "demo::swish", ember.custom_output_ranks = array<i64: 2>, ember.op_attributes = {beta = 1.500000e+00 : f64}}
// GPU: %[[Y:.*]] = memref.alloc(%[[S]]#0) : memref<?x4xf32>
// GPU: %[[T:.*]] = bufferization.to_tensor %[[Y]] restrict writable
// GPU: call @ember_custom_call_gpu_0(%[[XB]], %[[Y]])
// GPU: return %[[T]]

// Two outputs: two allocations, one kernel call.
// GPU-LABEL: func.func @two
// GPU: %[[S2:.*]]:2 = call @ember_custom_call_gpu_shapes_{{[0-9]+}}
// GPU: memref.alloc(%[[S2]]#0) : memref<?xf32>
// GPU: memref.alloc(%[[S2]]#1) : memref<?xi32>
// GPU: call @ember_custom_call_gpu_{{[0-9]+}}({{.*}}) {ember.custom_dtypes = array<i64: 5, 5, 1>
func.func @two(%x: tensor<?xf32>) -> (tensor<?xf32>, tensor<?xi32>) {
  %m, %e = ember.custom_call "demo::frexp"(%x) : (tensor<?xf32>) -> (tensor<?xf32>, tensor<?xi32>)
  return %m, %e : tensor<?xf32>, tensor<?xi32>
}
