// RUN: ember-opt %s -ember-recurrent-loops -split-input-file | FileCheck %s

// LSTM forward: a zero workspace [T + 1, B, P + 5H] with h0 and c0 in row
// 0, then one scf.for over the run-time step count carrying only the
// workspace. Per step: h and c read from row t, x_t from the input, one
// matmul h W_hh^T, one generic with the four gates (three sigmoids, a tanh)
// and the cell update, and inserts into row t + 1.
// CHECK-LABEL: func @lstm
// CHECK-SAME: (%[[X:.*]]: tensor<?x?x?xf32>, %[[H0:.*]]: tensor<?x?xf32>, %[[C0:.*]]: tensor<?x?xf32>, %[[W:.*]]: tensor<?x?xf32>)
// CHECK: %[[T:.*]] = tensor.dim %[[X]], %c0
// CHECK: %[[FILL:.*]] = linalg.fill
// CHECK: %[[WS0:.*]] = tensor.insert_slice %[[H0]] into %[[FILL]]
// CHECK: %[[WS1:.*]] = tensor.insert_slice %[[C0]] into %[[WS0]]
// CHECK: %[[R:.*]] = scf.for %[[STEP:.*]] = %{{.*}} to %[[T]] step %{{.*}} iter_args(%[[WS:.*]] = %[[WS1]]) -> (tensor<?x?x?xf32>)
// CHECK:   %[[H:.*]] = tensor.extract_slice %[[WS]][%[[STEP]], 0, %{{.*}}]
// CHECK:   %[[C:.*]] = tensor.extract_slice %[[WS]][%[[STEP]], 0, %{{.*}}]
// CHECK:   tensor.extract_slice %[[X]][%[[STEP]], 0, %{{.*}}]
// CHECK:   %[[WT:.*]] = ember.transpose %[[W]] perm = [1, 0]
// CHECK:   ember.matmul %[[H]], %[[WT]]
// CHECK:   %[[G:.*]]:6 = linalg.generic
// CHECK-COUNT-2: math.exp
// CHECK:     math.tanh
// CHECK:     math.exp
// CHECK:     math.tanh
// CHECK:   %[[ROW:.*]] = arith.addi %[[STEP]], %{{.*}} : index
// CHECK:   tensor.insert_slice %[[G]]#0 into %[[WS]][%[[ROW]], 0,
// CHECK-COUNT-4: tensor.insert_slice %[[G]]
// CHECK:   %[[OUT:.*]] = tensor.insert_slice %[[G]]#1 into %{{.*}}[%[[ROW]], 0, %{{.*}}]
// CHECK:   scf.yield %[[OUT]]
// CHECK: } {ember.host_loop}
// CHECK: return %[[R]]
func.func @lstm(%x: tensor<?x?x?xf32>, %h0: tensor<?x?xf32>, %c0: tensor<?x?xf32>, %w: tensor<?x?xf32>) -> tensor<?x?x?xf32> {
  %0 = ember.recurrent_sequence %x, %h0 c0 %c0 : tensor<?x?xf32> weight_hh %w : tensor<?x?xf32> cell = 2 : tensor<?x?x?xf32>, tensor<?x?xf32> -> tensor<?x?x?xf32>
  return %0 : tensor<?x?x?xf32>
}

// -----

// A masked RNN step keeps its state: the generic selects between the new
// h and the old one on mask[t, b] != 0 (the mask read per row).
// CHECK-LABEL: func @rnn_masked
// CHECK: scf.for
// CHECK:   ember.matmul
// CHECK:   linalg.generic {indexing_maps = [#{{.*}}, #{{.*}}, #{{.*}}, #[[ROWMAP:.*]]],
// CHECK:     math.tanh
// CHECK:     arith.cmpf une
// CHECK:     arith.select
// CHECK:   scf.yield
func.func @rnn_masked(%x: tensor<?x?x?xf64>, %h0: tensor<?x?xf64>, %w: tensor<?x?xf64>, %m: tensor<?x?xf64>) -> tensor<?x?x?xf64> {
  %0 = ember.recurrent_sequence %x, %h0 weight_hh %w : tensor<?x?xf64> mask %m : tensor<?x?xf64> cell = 0 : tensor<?x?x?xf64>, tensor<?x?xf64> -> tensor<?x?x?xf64>
  return %0 : tensor<?x?x?xf64>
}

// -----

// GRU backward: the steps from the last to the first (row T - i), the
// state's gradient carried in one buffer read first and overwritten last;
// per step one generic for the gates' gradients and one GEMM dgates W_hh
// (W_hh not transposed); the final carry is the h0 gradient in row 0.
// CHECK-LABEL: func @gru_backward
// CHECK-SAME: (%[[G:.*]]: tensor<?x?x?xf32>, %[[WS:.*]]: tensor<?x?x?xf32>, %[[W:.*]]: tensor<?x?xf32>)
// CHECK: %[[R:.*]]:2 = scf.for %[[I:.*]] = {{.*}} iter_args(%[[CARRY:.*]] = %{{.*}}, %[[OUT:.*]] = %{{.*}})
// CHECK:   %[[ROW:.*]] = arith.subi %{{.*}}, %[[I]] : index
// CHECK:   tensor.extract_slice %[[CARRY]][0, %{{.*}}]
// CHECK:   linalg.generic
// CHECK:   %[[GATES:.*]]:5 = linalg.generic
// CHECK:   ember.matmul %{{.*}}, %[[W]]
// CHECK:   %[[NEXT:.*]] = tensor.insert_slice %{{.*}} into %[[CARRY]][0, %{{.*}}]
// CHECK:   scf.yield %[[NEXT]], %{{.*}}
// CHECK: tensor.extract_slice %[[R]]#0
// CHECK: tensor.insert_slice %{{.*}} into %[[R]]#1[%{{.*}}, 0, %{{.*}}]
func.func @gru_backward(%g: tensor<?x?x?xf32>, %ws: tensor<?x?x?xf32>, %w: tensor<?x?xf32>) -> tensor<?x?x?xf32> {
  %0 = ember.recurrent_sequence_backward %g, %ws weight_hh %w : tensor<?x?xf32> cell = 3 : tensor<?x?x?xf32> -> tensor<?x?x?xf32>
  return %0 : tensor<?x?x?xf32>
}
