// RUN: ember-opt %s -ember-norm-rows -split-input-file | FileCheck %s

// layer_norm with weight and bias: an scf.forall over the rows; per row the
// mean (a reassociable sum), the mean of the centred squares, then
// (x - mean) * rstd * w + b written into the output row.
// CHECK-LABEL: func @layer_norm
// CHECK-SAME: (%[[X:.*]]: tensor<?x?xf32>, %[[W:.*]]: tensor<?xf32>, %[[B:.*]]: tensor<?xf32>)
func.func @layer_norm(%x: tensor<?x?xf32>, %w: tensor<?xf32>, %b: tensor<?xf32>) -> tensor<?x?xf32> {
  // CHECK-DAG: %[[ZERO:.*]] = arith.constant 0.000000e+00 : f32
  // CHECK-DAG: %[[ONE:.*]] = arith.constant 1.000000e+00 : f32
  // CHECK-DAG: %[[EPS:.*]] = arith.constant 9.99999974E-6 : f32
  // CHECK: %[[N:.*]] = tensor.dim %[[X]], %c1
  // CHECK: %[[NF:.*]] = arith.sitofp
  // CHECK: %[[INV_N:.*]] = arith.divf %[[ONE]], %[[NF]] : f32
  // CHECK: %[[Y:.*]] = scf.forall (%[[I:.*]]) in (%{{.*}}) shared_outs(%[[OUTS:.*]] = %{{.*}}) -> (tensor<?x?xf32>)
  // CHECK:   %[[XROW:.*]] = tensor.extract_slice %[[X]][%[[I]], 0] [1, %{{.*}}] [1, 1] : tensor<?x?xf32> to tensor<?xf32>
  // CHECK:   %[[OUT:.*]] = tensor.extract_slice %[[OUTS]][%[[I]], 0]
  // CHECK:   %[[SUM:.*]] = scf.for %[[J:.*]] = %c0 to %[[N]] step %c1 iter_args(%[[ACC:.*]] = %[[ZERO]]) -> (f32)
  // CHECK:     %[[V:.*]] = tensor.extract %[[XROW]][%[[J]]]
  // CHECK:     arith.addf %[[ACC]], %[[V]] fastmath<reassoc> : f32
  // CHECK:   %[[MEAN:.*]] = arith.mulf %[[SUM]], %[[INV_N]] : f32
  // CHECK:   %[[SQ:.*]] = scf.for {{.*}} -> (f32)
  // CHECK:     %[[C:.*]] = arith.subf %{{.*}}, %[[MEAN]] : f32
  // CHECK:     %[[C2:.*]] = arith.mulf %[[C]], %[[C]] : f32
  // CHECK:     arith.addf %{{.*}}, %[[C2]] fastmath<reassoc> : f32
  // CHECK:   %[[VAR:.*]] = arith.mulf %[[SQ]], %[[INV_N]] : f32
  // CHECK:   %[[VE:.*]] = arith.addf %[[VAR]], %[[EPS]] : f32
  // CHECK:   %[[SD:.*]] = math.sqrt %[[VE]] : f32
  // CHECK:   %[[RSTD:.*]] = arith.divf %[[ONE]], %[[SD]] : f32
  // CHECK:   %[[ROW:.*]] = scf.for %[[J:.*]] = {{.*}} iter_args(%[[O:.*]] = %[[OUT]]) -> (tensor<?xf32>)
  // CHECK:     %[[V:.*]] = tensor.extract %[[XROW]][%[[J]]]
  // CHECK:     %[[C:.*]] = arith.subf %[[V]], %[[MEAN]] : f32
  // CHECK:     %[[H:.*]] = arith.mulf %[[C]], %[[RSTD]] : f32
  // CHECK:     %[[WJ:.*]] = tensor.extract %[[W]][%[[J]]]
  // CHECK:     %[[S:.*]] = arith.mulf %[[H]], %[[WJ]] : f32
  // CHECK:     %[[BJ:.*]] = tensor.extract %[[B]][%[[J]]]
  // CHECK:     %[[R:.*]] = arith.addf %[[S]], %[[BJ]] : f32
  // CHECK:     tensor.insert %[[R]] into %[[O]][%[[J]]]
  // CHECK:   scf.forall.in_parallel
  // CHECK:     tensor.parallel_insert_slice %[[ROW]] into %[[OUTS]][%[[I]], 0]
  // CHECK: return %[[Y]]
  // CHECK-NOT: ember.layer_norm
  %0 = ember.layer_norm %x weight %w : tensor<?xf32> bias %b : tensor<?xf32> eps = 1.0e-05 : tensor<?x?xf32>
  return %0 : tensor<?x?xf32>
}

// -----

// rms_norm without weight: one pass for the mean of squares (no mean
// subtracted), then x * rstd; f16 loads as f32 and stores rounded; a 1-D
// input is one row (no forall).
// CHECK-LABEL: func @rms_norm_half
func.func @rms_norm_half(%x: tensor<7xf16>) -> tensor<7xf16> {
  // CHECK-NOT: scf.forall
  // CHECK: %[[SQ:.*]] = scf.for {{.*}} -> (f32)
  // CHECK:   %[[V:.*]] = arith.extf %{{.*}} : f16 to f32
  // CHECK:   %[[V2:.*]] = arith.mulf %[[V]], %[[V]] : f32
  // CHECK:   arith.addf %{{.*}}, %[[V2]] fastmath<reassoc> : f32
  // CHECK-NOT: scf.for {{.*}} -> (f32)
  // CHECK: math.sqrt
  // CHECK: %[[RSTD:.*]] = arith.divf
  // CHECK: scf.for {{.*}} -> (tensor<7xf16>)
  // CHECK:   %[[V:.*]] = arith.extf %{{.*}} : f16 to f32
  // CHECK:   %[[R:.*]] = arith.mulf %[[V]], %[[RSTD]] : f32
  // CHECK:   %[[H:.*]] = arith.truncf %[[R]] : f32 to f16
  // CHECK:   tensor.insert %[[H]]
  // CHECK-NOT: ember.rms_norm
  %0 = ember.rms_norm %x eps = 9.765625E-4 : tensor<7xf16>
  return %0 : tensor<7xf16>
}

// -----

// layer_norm_backward: the statistics again (two passes), one pass summing
// g * w and g * w * (x - mean), then dx = rstd * gw - (x - mean) *
// rstd^3 * mean(gw * (x - mean)) - rstd * mean(gw).
// CHECK-LABEL: func @layer_norm_backward
// CHECK-SAME: (%[[G:.*]]: tensor<2x?xf64>, %[[X:.*]]: tensor<2x?xf64>, %[[W:.*]]: tensor<?xf64>)
func.func @layer_norm_backward(%g: tensor<2x?xf64>, %x: tensor<2x?xf64>, %w: tensor<?xf64>) -> tensor<2x?xf64> {
  // CHECK: scf.forall (%[[I:.*]]) in (2)
  // CHECK:   %[[GROW:.*]] = tensor.extract_slice %[[G]][%[[I]], 0]
  // CHECK:   %[[XROW:.*]] = tensor.extract_slice %[[X]][%[[I]], 0]
  // CHECK:   scf.for {{.*}} -> (f64)
  // CHECK:   %[[MEAN:.*]] = arith.mulf
  // CHECK:   scf.for {{.*}} -> (f64)
  // CHECK:   %[[RSTD:.*]] = arith.divf
  // CHECK:   %[[SUMS:.*]]:2 = scf.for {{.*}} -> (f64, f64)
  // CHECK:     %[[GJ:.*]] = tensor.extract %[[GROW]]
  // CHECK:     %[[WJ:.*]] = tensor.extract %[[W]]
  // CHECK:     %[[GW:.*]] = arith.mulf %[[GJ]], %[[WJ]] : f64
  // CHECK:     %[[XJ:.*]] = tensor.extract %[[XROW]]
  // CHECK:     %[[C:.*]] = arith.subf %[[XJ]], %[[MEAN]] : f64
  // CHECK:     %[[P:.*]] = arith.mulf %[[GW]], %[[C]] : f64
  // CHECK:     arith.addf %{{.*}}, %[[GW]] fastmath<reassoc> : f64
  // CHECK:     arith.addf %{{.*}}, %[[P]] fastmath<reassoc> : f64
  // CHECK:   %[[MEAN_GW:.*]] = arith.mulf %[[SUMS]]#0
  // CHECK:   %[[MEAN_P:.*]] = arith.mulf %[[SUMS]]#1
  // CHECK:   %[[R2:.*]] = arith.mulf %[[RSTD]], %[[RSTD]]
  // CHECK:   %[[R3:.*]] = arith.mulf %[[RSTD]], %[[R2]]
  // CHECK:   %[[PROJ:.*]] = arith.mulf %[[R3]], %[[MEAN_P]]
  // CHECK:   %[[OFF:.*]] = arith.mulf %[[RSTD]], %[[MEAN_GW]]
  // CHECK:   %[[ROW:.*]] = scf.for {{.*}} -> (tensor<?xf64>)
  // CHECK:     %[[GW:.*]] = arith.mulf %{{.*}}, %{{.*}} : f64
  // CHECK:     %[[A:.*]] = arith.mulf %[[RSTD]], %[[GW]]
  // CHECK:     %[[C:.*]] = arith.subf %{{.*}}, %[[MEAN]]
  // CHECK:     %[[T:.*]] = arith.mulf %[[C]], %[[PROJ]]
  // CHECK:     %[[D:.*]] = arith.subf %[[A]], %[[T]]
  // CHECK:     %[[DX:.*]] = arith.subf %[[D]], %[[OFF]]
  // CHECK:     tensor.insert %[[DX]]
  // CHECK:   tensor.parallel_insert_slice %[[ROW]]
  // CHECK-NOT: ember.layer_norm_backward
  %0 = ember.layer_norm_backward %g, %x weight %w : tensor<?xf64> eps = 1.0e-05 : tensor<2x?xf64>
  return %0 : tensor<2x?xf64>
}

// -----

// rms_norm_backward without weight: one statistics pass, one summing
// g * x, and no mean(g) term.
// CHECK-LABEL: func @rms_norm_backward
func.func @rms_norm_backward(%g: tensor<?x?xf32>, %x: tensor<?x?xf32>) -> tensor<?x?xf32> {
  // CHECK: scf.forall
  // CHECK:   scf.for {{.*}} -> (f32)
  // CHECK:   scf.for {{.*}} -> (f32, f32)
  // CHECK:   scf.for {{.*}} -> (tensor<?xf32>)
  // CHECK:     arith.mulf
  // CHECK:     arith.mulf
  // CHECK:     arith.subf
  // CHECK-NOT: arith.subf
  // CHECK:     tensor.insert
  %0 = ember.rms_norm_backward %g, %x eps = 1.0e-06 : tensor<?x?xf32>
  return %0 : tensor<?x?xf32>
}
