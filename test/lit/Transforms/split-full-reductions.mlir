// RUN: ember-opt %s -ember-split-full-reductions | FileCheck %s

// (x * x).sum() over a dynamic 2-D tensor: the input flattened, partials
// over whole chunks of 16384 in an scf.forall (each an scf.for carrying the
// accumulator from 0.0), then the initial value, the partials in order and
// the tail folded sequentially with the body's combiner.
// CHECK-LABEL: func.func @sum_of_squares(
// CHECK-SAME:    %[[X:[^:]*]]: tensor<?x?xf32>
// CHECK:         %[[INIT:.*]] = linalg.fill
// CHECK:         %[[ZERO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK:         %[[FLAT:.*]] = tensor.collapse_shape %[[X]] {{\[}}[0, 1]] : tensor<?x?xf32> into tensor<?xf32>
// CHECK:         %[[N:.*]] = tensor.dim %[[FLAT]]
// CHECK:         %[[CHUNK:.*]] = arith.constant 16384 : index
// CHECK:         %[[CHUNKS:.*]] = arith.divui %[[N]], %[[CHUNK]]
// CHECK:         %[[PARTIALS:.*]] = scf.forall (%[[C:.*]]) in (%[[CHUNKS]]) shared_outs(%[[P:.*]] = %{{.*}}) -> (tensor<?xf32>)
// CHECK:           %[[BASE:.*]] = arith.muli %[[C]], %[[CHUNK]]
// CHECK:           %[[ACC:.*]] = scf.for %[[J:.*]] = %{{.*}} to %[[CHUNK]] step %{{.*}} iter_args(%[[A:.*]] = %[[ZERO]]) -> (f32)
// CHECK:             %[[I:.*]] = arith.addi %[[BASE]], %[[J]]
// CHECK:             %[[E:.*]] = tensor.extract %[[FLAT]][%[[I]]]
// CHECK:             %[[SQ:.*]] = arith.mulf %[[E]], %[[E]]
// CHECK:             %[[S:.*]] = arith.addf %[[SQ]], %[[A]] fastmath<reassoc>
// CHECK:             scf.yield %[[S]]
// CHECK:           tensor.parallel_insert_slice %{{.*}} into %[[P]][%[[C]]] [1] [1]
// CHECK:         %[[START:.*]] = tensor.extract %[[INIT]][]
// CHECK:         %[[TOTAL:.*]] = scf.for %[[C2:.*]] = %{{.*}} to %[[CHUNKS]] step %{{.*}} iter_args(%[[A2:.*]] = %[[START]])
// CHECK:           %[[PART:.*]] = tensor.extract %[[PARTIALS]][%[[C2]]]
// CHECK:           arith.addf %[[PART]], %[[A2]] fastmath<reassoc>
// CHECK:         %[[TAIL_START:.*]] = arith.muli %[[CHUNKS]], %[[CHUNK]]
// CHECK:         %[[ALL:.*]] = scf.for %{{.*}} = %[[TAIL_START]] to %[[N]] step %{{.*}} iter_args(%{{.*}} = %[[TOTAL]])
// CHECK:           arith.mulf
// CHECK:         %[[R:.*]] = tensor.insert %[[ALL]] into %[[INIT]][]
// CHECK:         return %[[R]]
func.func @sum_of_squares(%x: tensor<?x?xf32>) -> tensor<f32> {
  %cst = arith.constant 0.000000e+00 : f32
  %0 = tensor.empty() : tensor<f32>
  %1 = linalg.fill ins(%cst : f32) outs(%0 : tensor<f32>) -> tensor<f32>
  %2 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> ()>], iterator_types = ["reduction", "reduction"]} ins(%x : tensor<?x?xf32>) outs(%1 : tensor<f32>) {
  ^bb0(%in: f32, %out: f32):
    %3 = arith.mulf %in, %in : f32
    %4 = arith.addf %3, %out fastmath<reassoc> : f32
    linalg.yield %4 : f32
  } -> tensor<f32>
  return %2 : tensor<f32>
}

// max over a static 1-D tensor of 40000: the partials start from -inf (the
// neutral element of maximumf), two whole chunks.
// CHECK-LABEL: func.func @max_1d(
// CHECK:         linalg.fill
// CHECK:         %[[NEG:.*]] = arith.constant 0xFF800000 : f32
// CHECK:         scf.forall
// CHECK:           scf.for %{{.*}} iter_args(%{{.*}} = %[[NEG]])
// CHECK:             arith.maximumf
// CHECK:         scf.for
// CHECK:           arith.maximumf
func.func @max_1d(%x: tensor<40000xf32>) -> tensor<f32> {
  %cst = arith.constant 0xFF800000 : f32
  %0 = tensor.empty() : tensor<f32>
  %1 = linalg.fill ins(%cst : f32) outs(%0 : tensor<f32>) -> tensor<f32>
  %2 = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> ()>], iterator_types = ["reduction"]} ins(%x : tensor<40000xf32>) outs(%1 : tensor<f32>) {
  ^bb0(%in: f32, %out: f32):
    %3 = arith.maximumf %in, %out : f32
    linalg.yield %3 : f32
  } -> tensor<f32>
  return %2 : tensor<f32>
}

// Left alone: a static count under two chunks, a reduction to a row
// (rank-1 output), and a broadcast input.
// CHECK-LABEL: func.func @untouched(
// CHECK-NOT:     scf.forall
// CHECK-COUNT-3: linalg.generic
// CHECK-NOT:     scf.forall
func.func @untouched(%small: tensor<100x100xf32>, %x: tensor<?x?xf32>, %row: tensor<?xf32>) -> (tensor<f32>, tensor<?xf32>, tensor<f32>) {
  %c0 = arith.constant 0 : index
  %cst = arith.constant 0.000000e+00 : f32
  %0 = tensor.empty() : tensor<f32>
  %1 = linalg.fill ins(%cst : f32) outs(%0 : tensor<f32>) -> tensor<f32>
  %2 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> ()>], iterator_types = ["reduction", "reduction"]} ins(%small : tensor<100x100xf32>) outs(%1 : tensor<f32>) {
  ^bb0(%in: f32, %out: f32):
    %3 = arith.addf %in, %out : f32
    linalg.yield %3 : f32
  } -> tensor<f32>
  %n = tensor.dim %x, %c0 : tensor<?x?xf32>
  %4 = tensor.empty(%n) : tensor<?xf32>
  %5 = linalg.fill ins(%cst : f32) outs(%4 : tensor<?xf32>) -> tensor<?xf32>
  %6 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0)>], iterator_types = ["parallel", "reduction"]} ins(%x : tensor<?x?xf32>) outs(%5 : tensor<?xf32>) {
  ^bb0(%in: f32, %out: f32):
    %7 = arith.addf %in, %out : f32
    linalg.yield %7 : f32
  } -> tensor<?xf32>
  %8 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> ()>], iterator_types = ["reduction", "reduction"]} ins(%x, %row : tensor<?x?xf32>, tensor<?xf32>) outs(%1 : tensor<f32>) {
  ^bb0(%in: f32, %r: f32, %out: f32):
    %9 = arith.subf %in, %r : f32
    %10 = arith.addf %9, %out : f32
    linalg.yield %10 : f32
  } -> tensor<f32>
  return %2, %6, %8 : tensor<f32>, tensor<?xf32>, tensor<f32>
}
