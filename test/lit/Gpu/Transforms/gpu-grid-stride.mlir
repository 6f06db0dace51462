// RUN: ember-opt %s --ember-gpu-grid-stride | FileCheck %s

// A grid of %n blocks in x: the launch gets min(n, 65535) and the body
// loops over virtual block ids; the constant y/z extents are left alone.
// CHECK-LABEL: func.func @stride(
// CHECK-SAME:    %[[N:[a-z0-9]+]]: index
// CHECK:         %[[G:.*]] = arith.minui %[[N]], %c65535
// CHECK:         gpu.launch blocks(%[[BX:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %[[G]], %{{.*}} = %c1{{.*}}, %{{.*}} = %c1{{.*}})
// CHECK-NEXT:      scf.for %[[B:.*]] = %[[BX]] to %[[N]] step %[[G]] {
// CHECK:             arith.muli %[[B]], %c256
// CHECK:             memref.store
// CHECK:           }
// CHECK-NEXT:      gpu.terminator
func.func @stride(%n: index, %buf: memref<?xf32>) {
  %c1 = arith.constant 1 : index
  %c256 = arith.constant 256 : index
  %zero = arith.constant 0.0 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %n, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c256, %sy = %c1, %sz = %c1) {
    %base = arith.muli %bx, %c256 : index
    %i = arith.addi %base, %tx : index
    memref.store %zero, %buf[%i] : memref<?xf32>
    gpu.terminator
  }
  return
}

// Grids that fit, and kernels with barriers (they clamp their own), stay.
// CHECK-LABEL: func.func @fits(
// CHECK-NOT:     arith.minui
// CHECK-NOT:     scf.for
func.func @fits(%n: index, %buf: memref<?xf32>) {
  %c1 = arith.constant 1 : index
  %c100 = arith.constant 100 : index
  %zero = arith.constant 0.0 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c100, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    memref.store %zero, %buf[%bx] : memref<?xf32>
    gpu.terminator
  }
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %n, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    gpu.barrier
    memref.store %zero, %buf[%bx] : memref<?xf32>
    gpu.terminator
  }
  return
}
