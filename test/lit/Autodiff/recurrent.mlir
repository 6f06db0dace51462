// RUN: ember-opt %s -ember-autodiff | FileCheck %s

// recurrent_sequence (LSTM with a projection and a mask): the backward op
// runs the steps in reverse; the input's gradient is its rows 1.. (first
// G*H columns), h0's and c0's its row 0; weight_hh's one GEMM over every
// step, dgates^T (rows 1..) times h (rows 0..T-1, `stop = -1`), flattened
// to [T * B, *] in place (reshape groups); weight_hr's the projected h's
// gradient^T times o * tanh(c). The mask gets no gradient (zeros).
// CHECK-LABEL: func @lstm_vjp
// CHECK-SAME: (%[[X:.*]]: tensor<?x?x?xf32>, %[[H0:.*]]: tensor<?x?xf32>, %[[C0:.*]]: tensor<?x?xf32>, %[[W:.*]]: tensor<?x?xf32>, %[[WHR:.*]]: tensor<?x?xf32>, %[[M:.*]]: tensor<?x?xf32>, %[[G:.*]]: tensor<?x?x?xf32>)
// CHECK: %[[WS:.*]] = ember.recurrent_sequence %[[X]], %[[H0]] c0 %[[C0]] : tensor<?x?xf32> weight_hh %[[W]] : tensor<?x?xf32> weight_hr %[[WHR]] : tensor<?x?xf32> mask %[[M]] : tensor<?x?xf32> cell = 2
// CHECK: %[[D:.*]] = ember.recurrent_sequence_backward %[[G]], %[[WS]] weight_hh %[[W]] : tensor<?x?xf32> weight_hr %[[WHR]] : tensor<?x?xf32> mask %[[M]] : tensor<?x?xf32> cell = 2
// CHECK: %[[DX:.*]] = ember.slice %[[D]] start = [1, 0, %c0] stop = [9223372036854775807, 9223372036854775807, %{{.*}}]
// CHECK: %[[DH0:.*]] = ember.slice %[[D]] start = [0, 0, %c0] stop = [1,
// CHECK: %[[DC0:.*]] = ember.slice %[[D]] start = [0, 0, %{{.*}}] stop = [1,
// CHECK: %[[DXR:.*]] = ember.reshape %[[DX]][%{{.*}}, %{{.*}}] {groups = array<i64: 2, 1, 1, 1>}
// CHECK: %[[HP:.*]] = ember.slice %[[WS]] start = [0, 0, %c0] stop = [-1,
// CHECK: %[[HPR:.*]] = ember.reshape %[[HP]]
// CHECK: %[[DXT:.*]] = ember.transpose %[[DXR]] perm = [1, 0]
// CHECK: %[[DW:.*]] = ember.matmul %[[DXT]], %[[HPR]]
// CHECK: ember.tanh
// CHECK: ember.mul
// CHECK: %[[DWHR:.*]] = ember.matmul
// CHECK: %[[DM:.*]] = ember.broadcast_to
// CHECK: return %[[WS]], %[[DX]], %{{.*}}, %{{.*}}, %[[DW]], %[[DWHR]], %[[DM]]
func.func @lstm(%x: tensor<?x?x?xf32>, %h0: tensor<?x?xf32>, %c0: tensor<?x?xf32>, %w: tensor<?x?xf32>, %whr: tensor<?x?xf32>, %m: tensor<?x?xf32>) -> tensor<?x?x?xf32> {
  %0 = ember.recurrent_sequence %x, %h0 c0 %c0 : tensor<?x?xf32> weight_hh %w : tensor<?x?xf32> weight_hr %whr : tensor<?x?xf32> mask %m : tensor<?x?xf32> cell = 2 : tensor<?x?x?xf32>, tensor<?x?xf32> -> tensor<?x?x?xf32>
  return %0 : tensor<?x?x?xf32>
}

// GRU with bias_hh: the hidden product's gates are the backward's second
// G*H columns; bias_hh's gradient is their column sum.
// CHECK-LABEL: func @gru_vjp
// CHECK: %[[D:.*]] = ember.recurrent_sequence_backward
// CHECK-SAME: cell = 3
// CHECK: %[[DHH:.*]] = ember.slice %[[D]] start = [1, 0, %dim{{.*}}]
// CHECK: %[[DHHR:.*]] = ember.reshape %[[DHH]]
// CHECK: ember.matmul
// CHECK: %[[DB:.*]] = ember.sum %[[DHHR]] dims = [0]
// CHECK: return
func.func @gru(%x: tensor<?x?x?xf64>, %h0: tensor<?x?xf64>, %w: tensor<?x?xf64>, %b: tensor<?xf64>) -> tensor<?x?x?xf64> {
  %0 = ember.recurrent_sequence %x, %h0 weight_hh %w : tensor<?x?xf64> bias_hh %b : tensor<?xf64> cell = 3 : tensor<?x?x?xf64>, tensor<?x?xf64> -> tensor<?x?x?xf64>
  return %0 : tensor<?x?x?xf64>
}
