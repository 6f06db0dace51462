// RUN: ember-opt %s -ember-flatten-inner-dims -canonicalize | FileCheck %s

// Short trailing dims that every access reads as contiguous trailing
// indices run as one dim over collapsed views.

// An SE block's x * s on 14 x 14 planes: h and w become one dim of 196; the
// broadcast read of s (no h, no w) is left as it is.
// CHECK-LABEL: func.func @scale_planes(
// CHECK-SAME:    %[[S:[^:]*]]: memref<?x240x1x1xf32>, %[[X:[^:]*]]: memref<?x240x14x14xf32>, %[[Y:[^:]*]]: memref<?x240x14x14xf32>, %[[N:[^:]*]]: index)
// CHECK-DAG:     %[[XV:.*]] = memref.collapse_shape %[[X]] {{\[}}[0], [1], [2, 3]] : memref<?x240x14x14xf32> into memref<?x240x196xf32>
// CHECK-DAG:     %[[YV:.*]] = memref.collapse_shape %[[Y]] {{\[}}[0], [1], [2, 3]] : memref<?x240x14x14xf32> into memref<?x240x196xf32>
// CHECK:         scf.parallel (%[[B:.*]], %[[C:.*]], %[[P:.*]]) = (%c0, %c0, %c0) to (%[[N]], %c240, %c196)
// CHECK:           memref.load %[[S]][%[[B]], %[[C]], %c0, %c0]
// CHECK:           memref.load %[[XV]][%[[B]], %[[C]], %[[P]]]
// CHECK:           memref.store %{{.*}}, %[[YV]][%[[B]], %[[C]], %[[P]]]
// CHECK-NOT:     scf.parallel
func.func @scale_planes(%s: memref<?x240x1x1xf32>, %x: memref<?x240x14x14xf32>,
                        %y: memref<?x240x14x14xf32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c14 = arith.constant 14 : index
  %c240 = arith.constant 240 : index
  scf.parallel (%b, %c, %h, %w) = (%c0, %c0, %c0, %c0) to (%n, %c240, %c14, %c14)
      step (%c1, %c1, %c1, %c1) {
    %sv = memref.load %s[%b, %c, %c0, %c0] : memref<?x240x1x1xf32>
    %xv = memref.load %x[%b, %c, %h, %w] : memref<?x240x14x14xf32>
    %p = arith.mulf %sv, %xv : f32
    memref.store %p, %y[%b, %c, %h, %w] : memref<?x240x14x14xf32>
    scf.reduce
  }
  return
}

// Three short dims (2 x 4 x 7 = 56, under 64): all three merged.
// CHECK-LABEL: func.func @three_dims(
// CHECK:         memref.collapse_shape %{{.*}} {{\[}}[0], [1], [2, 3, 4]] : memref<?x8x2x4x7xf32> into memref<?x8x56xf32>
// CHECK:         scf.parallel (%{{.*}}, %{{.*}}, %{{.*}}) = (%c0, %c0, %c0) to (%{{.*}}, %c8, %c56)
func.func @three_dims(%x: memref<?x8x2x4x7xf32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c4 = arith.constant 4 : index
  %c7 = arith.constant 7 : index
  %c8 = arith.constant 8 : index
  scf.parallel (%b, %c, %i, %j, %k) = (%c0, %c0, %c0, %c0, %c0) to (%n, %c8, %c2, %c4, %c7)
      step (%c1, %c1, %c1, %c1, %c1) {
    %v = memref.load %x[%b, %c, %i, %j, %k] : memref<?x8x2x4x7xf32>
    %d = arith.addf %v, %v : f32
    memref.store %d, %x[%b, %c, %i, %j, %k] : memref<?x8x2x4x7xf32>
    scf.reduce
  }
  return
}

// A long innermost dim (64) stays as it is.
// CHECK-LABEL: func.func @long_rows(
// CHECK-NOT:     memref.collapse_shape
// CHECK:         scf.parallel (%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) =
func.func @long_rows(%x: memref<?x8x4x64xf32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c8 = arith.constant 8 : index
  %c64 = arith.constant 64 : index
  scf.parallel (%b, %c, %h, %w) = (%c0, %c0, %c0, %c0) to (%n, %c8, %c4, %c64)
      step (%c1, %c1, %c1, %c1) {
    %v = memref.load %x[%b, %c, %h, %w] : memref<?x8x4x64xf32>
    memref.store %v, %x[%b, %c, %h, %w] : memref<?x8x4x64xf32>
    scf.reduce
  }
  return
}

// A transposed read (w before h) cannot be one index: left alone.
// CHECK-LABEL: func.func @transposed(
// CHECK-NOT:     memref.collapse_shape
// CHECK:         scf.parallel (%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) =
func.func @transposed(%x: memref<?x8x14x14xf32>, %y: memref<?x8x14x14xf32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %c14 = arith.constant 14 : index
  scf.parallel (%b, %c, %h, %w) = (%c0, %c0, %c0, %c0) to (%n, %c8, %c14, %c14)
      step (%c1, %c1, %c1, %c1) {
    %v = memref.load %x[%b, %c, %w, %h] : memref<?x8x14x14xf32>
    memref.store %v, %y[%b, %c, %h, %w] : memref<?x8x14x14xf32>
    scf.reduce
  }
  return
}

// An induction variable used as a value (iota) keeps its dim.
// CHECK-LABEL: func.func @iota(
// CHECK-NOT:     memref.collapse_shape
// CHECK:         scf.parallel (%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) =
func.func @iota(%y: memref<?x8x7x7xi64>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c7 = arith.constant 7 : index
  %c8 = arith.constant 8 : index
  scf.parallel (%b, %c, %h, %w) = (%c0, %c0, %c0, %c0) to (%n, %c8, %c7, %c7)
      step (%c1, %c1, %c1, %c1) {
    %v = arith.index_cast %w : index to i64
    memref.store %v, %y[%b, %c, %h, %w] : memref<?x8x7x7xi64>
    scf.reduce
  }
  return
}

// A view that is not contiguous across h and w (rows of 7 in rows of 16 of a
// wider buffer) cannot be collapsed: left alone.
// CHECK-LABEL: func.func @strided_view(
// CHECK-NOT:     memref.collapse_shape
// CHECK:         scf.parallel (%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) =
func.func @strided_view(%x: memref<?x8x7x7xf32, strided<[896, 112, 16, 1]>>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c7 = arith.constant 7 : index
  %c8 = arith.constant 8 : index
  scf.parallel (%b, %c, %h, %w) = (%c0, %c0, %c0, %c0) to (%n, %c8, %c7, %c7)
      step (%c1, %c1, %c1, %c1) {
    %v = memref.load %x[%b, %c, %h, %w] : memref<?x8x7x7xf32, strided<[896, 112, 16, 1]>>
    %d = arith.addf %v, %v : f32
    memref.store %d, %x[%b, %c, %h, %w] : memref<?x8x7x7xf32, strided<[896, 112, 16, 1]>>
    scf.reduce
  }
  return
}
