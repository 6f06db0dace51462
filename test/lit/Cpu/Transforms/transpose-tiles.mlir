// RUN: ember-opt %s -ember-transpose-tiles -canonicalize | FileCheck %s

// A transposed read (J = %j at a strided position, I = %i last): 16 x 16
// tiles; a full tile reads 16 rows of %a along I, transposes them with
// 4 x 16 shuffles, adds the row-contiguous %b and stores 16 rows; edge
// tiles run the scalar body.
// CHECK-LABEL: func.func @transpose_add(
// CHECK-SAME:    %[[A:[^:]*]]: memref<?x?xf32>, %[[B:[^:]*]]: memref<?x?xf32>, %[[OUT:[^:]*]]: memref<?x?xf32>
// CHECK:         scf.parallel (%[[I0:.*]], %[[J0:.*]]) = (%c0, %c0) to (%{{.*}}, %{{.*}}) step (%c16, %c16)
// CHECK:           scf.if
// CHECK-COUNT-16:    vector.load %[[A]][%{{.*}}, %[[I0]]] : memref<?x?xf32>, vector<16xf32>
// CHECK-COUNT-64:    vector.shuffle
// CHECK:             vector.load %[[B]][%[[I0]], %[[J0]]] : memref<?x?xf32>, vector<16xf32>
// CHECK:             arith.addf %{{.*}}, %{{.*}} : vector<16xf32>
// CHECK:             vector.store %{{.*}}, %[[OUT]][%[[I0]], %[[J0]]] : memref<?x?xf32>, vector<16xf32>
// CHECK:           } else {
// CHECK:             scf.for %[[I:.*]] = %[[I0]] to
// CHECK:               scf.for %[[J:.*]] = %[[J0]] to
// CHECK:                 memref.load %[[A]][%[[J]], %[[I]]]
// CHECK:                 memref.store %{{.*}}, %[[OUT]][%[[I]], %[[J]]]
func.func @transpose_add(%a: memref<?x?xf32>, %b: memref<?x?xf32>, %out: memref<?x?xf32>, %n: index, %m: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  scf.parallel (%i, %j) = (%c0, %c0) to (%n, %m) step (%c1, %c1) {
    %x = memref.load %a[%j, %i] : memref<?x?xf32>
    %y = memref.load %b[%i, %j] : memref<?x?xf32>
    %z = arith.addf %x, %y : f32
    memref.store %z, %out[%i, %j] : memref<?x?xf32>
    scf.reduce
  }
  return
}

// x.transpose(2, 3) * s in 4-D: I is dim 2; the outer dims stay whole,
// the scalar from outside is broadcast once; f64 tiles are 8 x 8
// (3 x 8 shuffles).
// CHECK-LABEL: func.func @batched_f64(
// CHECK:         scf.parallel (%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) = (%c0, %c0, %c0, %c0) to (%c3, %c8, %{{.*}}, %{{.*}}) step (%c1, %c1, %c8, %c8)
// CHECK-COUNT-8:   vector.load %{{.*}} : memref<3x8x?x?xf64>, vector<8xf64>
// CHECK-COUNT-24:  vector.shuffle
// CHECK:           vector.broadcast %{{.*}} : f64 to vector<8xf64>
// CHECK-COUNT-8:   arith.mulf %{{.*}} : vector<8xf64>
// CHECK-NOT:       arith.mulf %{{.*}} : vector<8xf64>
// CHECK:         } else {
func.func @batched_f64(%a: memref<3x8x?x?xf64>, %out: memref<3x8x?x?xf64>, %n: index, %m: index, %s: f64) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c3 = arith.constant 3 : index
  %c8 = arith.constant 8 : index
  scf.parallel (%b, %h, %i, %j) = (%c0, %c0, %c0, %c0) to (%c3, %c8, %n, %m) step (%c1, %c1, %c1, %c1) {
    %x = memref.load %a[%b, %h, %j, %i] : memref<3x8x?x?xf64>
    %y = arith.mulf %x, %s : f64
    memref.store %y, %out[%b, %h, %i, %j] : memref<3x8x?x?xf64>
    scf.reduce
  }
  return
}

// A per-row scalar (depends on I only) is loaded and broadcast per row.
// CHECK-LABEL: func.func @row_bias(
// CHECK:         scf.if
// CHECK-COUNT-16:  memref.load %{{.*}} : memref<?xf32>
// CHECK:         } else {
func.func @row_bias(%a: memref<?x?xf32>, %bias: memref<?xf32>, %out: memref<?x?xf32>, %n: index, %m: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  scf.parallel (%i, %j) = (%c0, %c0) to (%n, %m) step (%c1, %c1) {
    %x = memref.load %a[%j, %i] : memref<?x?xf32>
    %b = memref.load %bias[%i] : memref<?xf32>
    %z = arith.subf %x, %b : f32
    memref.store %z, %out[%i, %j] : memref<?x?xf32>
    scf.reduce
  }
  return
}

// Left alone: no transposed read (contiguous), a read strided along J with
// no dim of the loop last, an induction variable used as a value, and a
// transposed input whose innermost stride is not 1.
// CHECK-LABEL: func.func @untouched(
// CHECK-NOT:     vector.
// CHECK:         return
func.func @untouched(%a: memref<?x?xf32>, %c: memref<?x?xf32, strided<[?, 2]>>, %out: memref<?x?xf32>, %n: index, %m: index, %k: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  scf.parallel (%i, %j) = (%c0, %c0) to (%n, %m) step (%c1, %c1) {
    %x = memref.load %a[%i, %j] : memref<?x?xf32>
    memref.store %x, %out[%i, %j] : memref<?x?xf32>
    scf.reduce
  }
  scf.parallel (%i, %j) = (%c0, %c0) to (%n, %m) step (%c1, %c1) {
    %x = memref.load %a[%j, %k] : memref<?x?xf32>
    memref.store %x, %out[%i, %j] : memref<?x?xf32>
    scf.reduce
  }
  scf.parallel (%i, %j) = (%c0, %c0) to (%n, %m) step (%c1, %c1) {
    %x = memref.load %a[%j, %i] : memref<?x?xf32>
    %f = arith.index_cast %j : index to i32
    %g = arith.sitofp %f : i32 to f32
    %z = arith.addf %x, %g : f32
    memref.store %z, %out[%i, %j] : memref<?x?xf32>
    scf.reduce
  }
  scf.parallel (%i, %j) = (%c0, %c0) to (%n, %m) step (%c1, %c1) {
    %x = memref.load %c[%j, %i] : memref<?x?xf32, strided<[?, 2]>>
    memref.store %x, %out[%i, %j] : memref<?x?xf32>
    scf.reduce
  }
  return
}

// A rank-0 operand (how a Python scalar reaches the kernel) is read once
// per tile and broadcast.
// CHECK-LABEL: func.func @rank0_scalar(
// CHECK-SAME:    %[[S:[^:]*]]: memref<f32>
// CHECK:         scf.if
// CHECK:           memref.load %[[S]][] : memref<f32>
// CHECK-NOT:       memref.load %[[S]]
// CHECK:           vector.broadcast
// CHECK:         } else {
func.func @rank0_scalar(%a: memref<?x?xf32>, %s: memref<f32>, %out: memref<?x?xf32>, %n: index, %m: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  scf.parallel (%i, %j) = (%c0, %c0) to (%n, %m) step (%c1, %c1) {
    %x = memref.load %a[%j, %i] : memref<?x?xf32>
    %k = memref.load %s[] : memref<f32>
    %z = arith.mulf %x, %k : f32
    memref.store %z, %out[%i, %j] : memref<?x?xf32>
    scf.reduce
  }
  return
}
