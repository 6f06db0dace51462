// RUN: ember-opt %s -ember-lower-to-llvm | FileCheck %s
// An LSTM layer on the CPU: the loop over the steps is one outlined kernel
// (the same for every sequence length) whose step calls the runtime GEMM
// for h W_hh^T; the glue only sets up the workspace, packs W_hh and calls
// the kernel.

// W_hh is packed for the GEMM once, in the glue (ember-hoist-gemm-packing),
// and the loop's GEMM reads the packed copy through the handle it is given.

// CHECK: llvm.func @ember_entry_lstm_loop{{[0-9]+}}({{.*}}) attributes {passthrough = ["noinline", "ember-kernel"]
// CHECK: llvm.call @ember_cpu_sgemm_packed_into(
// CHECK: llvm.func @ember_entry_lstm(
// CHECK-NOT: llvm.call @ember_cpu_sgemm{{(_into)?}}(
// CHECK: %[[P:.*]] = llvm.call @ember_cpu_sgemm_pack_b(
// CHECK-NOT: llvm.call @ember_cpu_sgemm{{(_into)?}}(
// CHECK: llvm.call @ember_entry_lstm_loop{{[0-9]+}}({{.*}}, %[[P]])
// CHECK: llvm.call @ember_cpu_sgemm_release_b(%[[P]])
func.func @lstm(%x: tensor<?x?x?xf32>, %h0: tensor<?x?xf32>, %c0: tensor<?x?xf32>, %w: tensor<?x?xf32>) -> tensor<?x?x?xf32> {
  %0 = ember.recurrent_sequence %x, %h0 c0 %c0 : tensor<?x?xf32> weight_hh %w : tensor<?x?xf32> cell = 2 : tensor<?x?x?xf32>, tensor<?x?xf32> -> tensor<?x?x?xf32>
  return %0 : tensor<?x?x?xf32>
}
