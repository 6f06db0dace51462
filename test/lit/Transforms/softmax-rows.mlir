// RUN: ember-opt %s -ember-softmax-rows -split-input-file | FileCheck %s

// Softmax over the last dim: a loop over the rows; per row the max, the sum
// of exps (stored in the output) and the scaling by 1 / sum.
// CHECK-LABEL: func @softmax
// CHECK-SAME: (%[[X:.*]]: tensor<?x?xf32>)
func.func @softmax(%x: tensor<?x?xf32>) -> tensor<?x?xf32> {
  // CHECK-DAG: %[[ONE:.*]] = arith.constant 1.000000e+00 : f32
  // CHECK-DAG: %[[ZERO:.*]] = arith.constant 0.000000e+00 : f32
  // CHECK-DAG: %[[NEG_INF:.*]] = arith.constant 0xFF800000 : f32
  // CHECK-DAG: %[[ROWS:.*]] = tensor.dim %[[X]], %c0
  // CHECK-DAG: %[[COLS:.*]] = tensor.dim %[[X]], %c1
  // CHECK: %[[EMPTY:.*]] = tensor.empty(%[[ROWS]], %[[COLS]]) : tensor<?x?xf32>
  // CHECK: %[[Y:.*]] = scf.for %[[I:.*]] = %c0 to %[[ROWS]] step %c1 iter_args(%[[OUT:.*]] = %[[EMPTY]])
  // CHECK:   %[[MAX:.*]] = scf.for %[[J:.*]] = %c0 to %[[COLS]] step %c1 iter_args(%[[ACC:.*]] = %[[NEG_INF]]) -> (f32)
  // CHECK:     %[[V:.*]] = tensor.extract %[[X]][%[[I]], %[[J]]]
  // CHECK:     arith.maximumf %[[ACC]], %[[V]] : f32
  // CHECK:   %[[SUM:.*]]:2 = scf.for %[[J:.*]] = %c0 to %[[COLS]] step %c1 iter_args(%[[ACC:.*]] = %[[ZERO]], %[[O:.*]] = %[[OUT]]) -> (f32, tensor<?x?xf32>)
  // CHECK:     %[[V:.*]] = tensor.extract %[[X]][%[[I]], %[[J]]]
  // CHECK:     %[[S:.*]] = arith.subf %[[V]], %[[MAX]]
  // CHECK:     %[[E:.*]] = math.exp %[[S]] : f32
  // CHECK:     %[[NEXT:.*]] = arith.addf %[[ACC]], %[[E]] fastmath<reassoc> : f32
  // CHECK:     %[[INS:.*]] = tensor.insert %[[E]] into %[[O]][%[[I]], %[[J]]]
  // CHECK:     scf.yield %[[NEXT]], %[[INS]]
  // CHECK:   %[[SCALE:.*]] = arith.divf %[[ONE]], %[[SUM]]#0 : f32
  // CHECK:   %[[SCALED:.*]] = scf.for %[[J:.*]] = %c0 to %[[COLS]] step %c1 iter_args(%[[O:.*]] = %[[SUM]]#1)
  // CHECK:     %[[E:.*]] = tensor.extract %[[O]][%[[I]], %[[J]]]
  // CHECK:     %[[R:.*]] = arith.mulf %[[E]], %[[SCALE]] : f32
  // CHECK:     tensor.insert %[[R]] into %[[O]][%[[I]], %[[J]]]
  // CHECK:   scf.yield %[[SCALED]]
  // CHECK: return %[[Y]]
  // CHECK-NOT: ember.softmax
  %0 = ember.softmax %x dim = 1 : tensor<?x?xf32>
  return %0 : tensor<?x?xf32>
}

// -----

// log_softmax stores nothing until the last pass: (x - max) - log(sum).
// Static leading dims bound the row loops with constants.
// CHECK-LABEL: func @log_softmax
func.func @log_softmax(%x: tensor<2x4x?xf64>) -> tensor<2x4x?xf64> {
  // CHECK: scf.for %[[I0:.*]] = %c0 to %c2 step %c1 iter_args
  // CHECK: scf.for %[[I1:.*]] = %c0 to %c4 step %c1 iter_args
  // CHECK:   %[[MAX:.*]] = scf.for {{.*}} -> (f64)
  // CHECK:     arith.maximumf
  // CHECK:   %[[SUM:.*]] = scf.for {{.*}} -> (f64)
  // CHECK:     math.exp
  // CHECK:     arith.addf {{.*}} fastmath<reassoc> : f64
  // CHECK-NOT: tensor.insert
  // CHECK:   %[[LOG:.*]] = math.log %[[SUM]] : f64
  // CHECK:   scf.for
  // CHECK:     %[[V:.*]] = tensor.extract %{{.*}}[%[[I0]], %[[I1]], %{{.*}}]
  // CHECK:     %[[S:.*]] = arith.subf %[[V]], %[[MAX]] : f64
  // CHECK:     %[[R:.*]] = arith.subf %[[S]], %[[LOG]] : f64
  // CHECK:     tensor.insert %[[R]]
  // CHECK-NOT: ember.log_softmax
  %0 = ember.log_softmax %x dim = 2 : tensor<2x4x?xf64>
  return %0 : tensor<2x4x?xf64>
}

// -----

// f16 computes in f32. Softmax recomputes the exp in the last pass rather
// than storing it rounded to f16; a rank-1 input is a single row.
// CHECK-LABEL: func @half
func.func @half(%x: tensor<8xf16>) -> tensor<8xf16> {
  // CHECK-NOT: scf.for {{.*}} -> (tensor<8xf16>) {
  // CHECK: scf.for {{.*}} -> (f32)
  // CHECK:   arith.extf %{{.*}} : f16 to f32
  // CHECK:   arith.maximumf {{.*}} : f32
  // CHECK: scf.for {{.*}} -> (f32)
  // CHECK:   math.exp %{{.*}} : f32
  // CHECK-NOT: tensor.insert
  // CHECK: arith.divf
  // CHECK: scf.for {{.*}} -> (tensor<8xf16>)
  // CHECK:   math.exp %{{.*}} : f32
  // CHECK:   %[[R:.*]] = arith.mulf
  // CHECK:   %[[H:.*]] = arith.truncf %[[R]] : f32 to f16
  // CHECK:   tensor.insert %[[H]]
  %0 = ember.softmax %x dim = 0 : tensor<8xf16>
  return %0 : tensor<8xf16>
}

// -----

// Softmax over another dim is left for ember-decompose.
// CHECK-LABEL: func @not_last
func.func @not_last(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  // CHECK-NOT: scf.for
  // CHECK: ember.softmax %{{.*}} dim = 0
  %0 = ember.softmax %x dim = 0 : tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}
