// RUN: ember-opt %s -ember-streaming-stores -canonicalize | FileCheck %s

// A 1-D element-wise chunk: behind a size check (>= 32 MiB, element-aligned
// base), a scalar head up to the first 64-byte-aligned output address,
// 16-lane bodies with an aligned non-temporal store, a scalar tail and an
// sfence; the original loop otherwise.
// CHECK-LABEL: func.func @chunk(
// CHECK-SAME:    %[[A:[^:]*]]: memref<?xf32>, %[[OUT:[^:]*]]: memref<?xf32>, %[[LO:[^:]*]]: index, %[[HI:[^:]*]]: index
// CHECK:         %[[BIG:.*]] = arith.cmpi uge, %{{.*}}, %c33554432
// CHECK:         scf.if %{{.*}} {
// CHECK:           memref.extract_aligned_pointer_as_index %[[OUT]]
// CHECK:           scf.for %[[J:.*]] = %[[LO]] to %[[HEAD:[^ ]*]] step %c1 {
// CHECK:             memref.load %[[A]][%[[J]]]
// CHECK:             memref.store %{{.*}}, %[[OUT]][%[[J]]]
// CHECK:           scf.for %[[J0:.*]] = %[[HEAD]] to %[[VEND:[^ ]*]] step %c16 {
// CHECK:             %[[V:.*]] = vector.load %[[A]][%[[J0]]] : memref<?xf32>, vector<16xf32>
// CHECK:             %[[M:.*]] = arith.mulf %[[V]], %{{.*}} : vector<16xf32>
// CHECK:             vector.store %[[M]], %[[OUT]][%[[J0]]] {alignment = 64 : i64, nontemporal = true} : memref<?xf32>, vector<16xf32>
// CHECK:           scf.for %{{.*}} = %[[VEND]] to %[[HI]] step %c1 {
// CHECK:           llvm.call_intrinsic "llvm.x86.sse.sfence"()
// CHECK:         } else {
// CHECK:           scf.parallel (%[[I:.*]]) = (%[[LO]]) to (%[[HI]])
// CHECK:             memref.store %{{.*}}, %[[OUT]][%[[I]]] : memref<?xf32>
func.func @chunk(%a: memref<?xf32>, %out: memref<?xf32>, %lo: index, %hi: index) {
  %c1 = arith.constant 1 : index
  %s = arith.constant 1.5 : f32
  scf.parallel (%i) = (%lo) to (%hi) step (%c1) {
    %x = memref.load %a[%i] : memref<?xf32>
    %y = arith.mulf %x, %s : f32
    memref.store %y, %out[%i] : memref<?xf32>
    scf.reduce
  }
  return
}

// 2-D with f64 (8 lanes) and a per-row scalar: the rows stay a parallel
// loop; the row's scalar is loaded once per vector and broadcast.
// CHECK-LABEL: func.func @rows_f64(
// CHECK:         scf.if
// CHECK:           scf.parallel (%[[R:.*]]) =
// CHECK:             scf.for %[[J0:.*]] = %{{.*}} to %{{.*}} step %c8 {
// CHECK:               %[[S:.*]] = memref.load %{{.*}}[%[[R]]] : memref<?xf64>
// CHECK:               vector.broadcast %[[S]] : f64 to vector<8xf64>
// CHECK:               vector.store %{{.*}}[%[[R]], %[[J0]]] {alignment = 64 : i64, nontemporal = true} : memref<?x?xf64>, vector<8xf64>
func.func @rows_f64(%a: memref<?x?xf64>, %b: memref<?xf64>, %out: memref<?x?xf64>, %n: index, %m: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  scf.parallel (%i, %j) = (%c0, %c0) to (%n, %m) step (%c1, %c1) {
    %x = memref.load %a[%i, %j] : memref<?x?xf64>
    %y = memref.load %b[%i] : memref<?xf64>
    %z = arith.addf %x, %y : f64
    memref.store %z, %out[%i, %j] : memref<?x?xf64>
    scf.reduce
  }
  return
}

// Left alone: an accumulator (the output is read back), a store not along
// the innermost dim, an induction variable used as a value, an i1 output.
// CHECK-LABEL: func.func @accumulate(
// CHECK-NOT:     nontemporal
// CHECK-LABEL: func.func @transposed_store(
// CHECK-NOT:     nontemporal
// CHECK-LABEL: func.func @iota(
// CHECK-NOT:     nontemporal
// CHECK-LABEL: func.func @mask(
// CHECK-NOT:     nontemporal
func.func @accumulate(%a: memref<?xf32>, %out: memref<?xf32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    %x = memref.load %a[%i] : memref<?xf32>
    %o = memref.load %out[%i] : memref<?xf32>
    %y = arith.addf %x, %o : f32
    memref.store %y, %out[%i] : memref<?xf32>
    scf.reduce
  }
  return
}
func.func @transposed_store(%a: memref<?x?xf32>, %out: memref<?x?xf32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  scf.parallel (%i, %j) = (%c0, %c0) to (%n, %n) step (%c1, %c1) {
    %x = memref.load %a[%i, %j] : memref<?x?xf32>
    memref.store %x, %out[%j, %i] : memref<?x?xf32>
    scf.reduce
  }
  return
}
func.func @iota(%out: memref<?xi64>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    %x = arith.index_cast %i : index to i64
    memref.store %x, %out[%i] : memref<?xi64>
    scf.reduce
  }
  return
}
func.func @mask(%a: memref<?xf32>, %out: memref<?xi1>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %z = arith.constant 0.0 : f32
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    %x = memref.load %a[%i] : memref<?xf32>
    %m = arith.cmpf ogt, %x, %z : f32
    memref.store %m, %out[%i] : memref<?xi1>
    scf.reduce
  }
  return
}
