// RUN: ember-opt %s -ember-lower-to-llvm | FileCheck %s
// An LSTM layer on the CPU: the loop over the steps is one outlined kernel
// (the same for every sequence length) whose step calls the runtime GEMM
// for h W_hh^T; the glue only sets up the workspace and calls the kernel.

// CHECK: llvm.func @ember_entry_lstm_loop{{[0-9]+}}({{.*}}) attributes {passthrough = ["noinline", "ember-kernel"]
// CHECK: llvm.call @ember_cpu_sgemm
// CHECK: llvm.func @ember_entry_lstm(
// CHECK-NOT: llvm.call @ember_cpu_sgemm
// CHECK: llvm.call @ember_entry_lstm_loop
func.func @lstm(%x: tensor<?x?x?xf32>, %h0: tensor<?x?xf32>, %c0: tensor<?x?xf32>, %w: tensor<?x?xf32>) -> tensor<?x?x?xf32> {
  %0 = ember.recurrent_sequence %x, %h0 c0 %c0 : tensor<?x?xf32> weight_hh %w : tensor<?x?xf32> cell = 2 : tensor<?x?x?xf32>, tensor<?x?xf32> -> tensor<?x?x?xf32>
  return %0 : tensor<?x?x?xf32>
}
