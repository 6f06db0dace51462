// RUN: ember-opt %s -ember-destination-abi | FileCheck %s

// CHECK-LABEL: func.func @ember_entry_f
// CHECK-SAME: (%[[A:.*]]: memref<?xf32>, %[[OUT:.*]]: memref<?xf32>)
// CHECK-SAME: attributes {llvm.emit_c_interface}
func.func @f(%a: tensor<?xf32>) -> tensor<?xf32> {
  // CHECK: %[[T:.*]] = bufferization.to_tensor %[[A]] restrict : memref<?xf32> to tensor<?xf32>
  // CHECK: %[[R:.*]] = ember.neg %[[T]]
  // CHECK: bufferization.materialize_in_destination %[[R]] in restrict writable %[[OUT]]
  // CHECK: return
  %0 = ember.neg %a : tensor<?xf32>
  return %0 : tensor<?xf32>
}

// Private helpers keep their tensor signature.
// CHECK-LABEL: func.func private @helper
// CHECK-SAME: (tensor<4xf32>) -> tensor<4xf32>
func.func private @helper(%a: tensor<4xf32>) -> tensor<4xf32>

// A reshape returned as a result is copied into a result-shaped tensor, so
// that empty-tensor elimination cannot give its source the destination.
// CHECK-LABEL: func.func @ember_entry_returns_reshape
// CHECK: %[[R:.*]] = tensor.reshape
// CHECK: %[[E:.*]] = tensor.empty
// CHECK: %[[C:.*]] = linalg.copy ins(%[[R]] : tensor<?x?xf32>) outs(%[[E]] : tensor<?x?xf32>)
// CHECK: bufferization.materialize_in_destination %[[C]]
func.func @returns_reshape(%x: tensor<?x?xf32>, %shape: tensor<2xindex>) -> tensor<?x?xf32> {
  %r = tensor.reshape %x(%shape) : (tensor<?x?xf32>, tensor<2xindex>) -> tensor<?x?xf32>
  return %r : tensor<?x?xf32>
}

// The same for a reshape inserted into a slice of another tensor.
// CHECK-LABEL: func.func @ember_entry_inserts_reshape
// CHECK: %[[R:.*]] = tensor.reshape
// CHECK: %[[C:.*]] = linalg.copy ins(%[[R]] : tensor<?x?xf32>)
// CHECK: tensor.insert_slice %[[C]]
func.func @inserts_reshape(%x: tensor<?x?xf32>, %shape: tensor<2xindex>, %d: tensor<?x?xf32>) -> tensor<?x?xf32> {
  %r = tensor.reshape %x(%shape) : (tensor<?x?xf32>, tensor<2xindex>) -> tensor<?x?xf32>
  %c0 = arith.constant 0 : index
  %n = tensor.dim %r, %c0 : tensor<?x?xf32>
  %m = arith.constant 1 : index
  %i = tensor.insert_slice %r into %d[0, 0] [%n, %n] [1, 1] : tensor<?x?xf32> into tensor<?x?xf32>
  return %i : tensor<?x?xf32>
}
