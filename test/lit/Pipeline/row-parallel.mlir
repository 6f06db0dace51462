// RUN: ember-opt %s -ember-lower-to-llvm | FileCheck %s
// The row lowerings' scf.forall over rows reaches the thread pool: the
// kernel runs a chunk [lo, hi) of the rows, and the entry launches it with
// ember_parallel_for (ember-chunk-parallel-loops, ember-parallel-launch).

// CHECK-LABEL: llvm.func @ember_entry_layer_norm(
// CHECK: llvm.call @ember_parallel_for(
func.func @layer_norm(%x: tensor<?x?xf32>, %w: tensor<?xf32>, %b: tensor<?xf32>) -> tensor<?x?xf32> {
  %0 = ember.layer_norm %x weight %w : tensor<?xf32> bias %b : tensor<?xf32> eps = 1.0e-05 : tensor<?x?xf32>
  return %0 : tensor<?x?xf32>
}

// CHECK-LABEL: llvm.func @ember_entry_softmax(
// CHECK: llvm.call @ember_parallel_for(
func.func @softmax(%x: tensor<?x?x?xf32>) -> tensor<?x?x?xf32> {
  %0 = ember.softmax %x dim = 2 : tensor<?x?x?xf32>
  return %0 : tensor<?x?x?xf32>
}

// CHECK-LABEL: llvm.func @ember_entry_log_softmax_backward(
// CHECK: llvm.call @ember_parallel_for(
func.func @log_softmax_backward(%g: tensor<?x?xf32>, %y: tensor<?x?xf32>) -> tensor<?x?xf32> {
  %0 = ember.log_softmax_backward %g, %y dim = 1 : tensor<?x?xf32>
  return %0 : tensor<?x?xf32>
}

// CHECK-LABEL: llvm.func @ember_entry_rms_norm_backward(
// CHECK: llvm.call @ember_parallel_for(
func.func @rms_norm_backward(%g: tensor<?x?xf32>, %x: tensor<?x?xf32>) -> tensor<?x?xf32> {
  %0 = ember.rms_norm_backward %g, %x eps = 1.0e-06 : tensor<?x?xf32>
  return %0 : tensor<?x?xf32>
}
