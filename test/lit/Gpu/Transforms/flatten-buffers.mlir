// RUN: ember-opt %s --pass-pipeline='builtin.module(func.func(ember-flatten-buffers))' | FileCheck %s

// Loads and stores in a parallel loop index 1-D views of the buffers' bases
// at offset + i * stride0 + j * stride1; the views and strided metadata are
// made before the loop (on the host), the view's extent being what the last
// element reached needs.
// CHECK-LABEL: func.func @copy(
// CHECK-SAME:    %[[A:[a-z0-9]+]]: memref<4x8xf32, strided<[16, 2], offset: 3>>, %[[OUT:[a-z0-9]+]]: memref<4x8xf32>
// CHECK:        %[[BASE:.*]], %[[OFF:.*]], %[[SIZES:.*]]:2, %[[STRIDES:.*]]:2 = memref.extract_strided_metadata %[[A]]
// CHECK:        %[[C1:.*]] = arith.constant 1 : index
// CHECK:        %[[E0:.*]] = arith.addi %[[OFF]], %[[C1]]
// CHECK:        %[[L0:.*]] = arith.subi %[[SIZES]]#0, %[[C1]]
// CHECK:        %[[M0:.*]] = arith.muli %[[L0]], %[[STRIDES]]#0
// CHECK:        %[[E1:.*]] = arith.addi %[[E0]], %[[M0]]
// CHECK:        %[[L1:.*]] = arith.subi %[[SIZES]]#1, %[[C1]]
// CHECK:        %[[M1:.*]] = arith.muli %[[L1]], %[[STRIDES]]#1
// CHECK:        %[[EXTENT:.*]] = arith.addi %[[E1]], %[[M1]]
// CHECK:        %[[FLAT:.*]] = memref.reinterpret_cast %[[BASE]] to offset: [0], sizes: [%[[EXTENT]]], strides: [1] : memref<f32> to memref<?xf32>
// CHECK:        memref.extract_strided_metadata %[[OUT]]
// CHECK:        %[[FLATOUT:.*]] = memref.reinterpret_cast
// CHECK:        scf.parallel (%[[I:.*]], %[[J:.*]]) =
// CHECK:          %[[II:.*]] = arith.muli %[[I]], %[[STRIDES]]#0
// CHECK:          %[[X0:.*]] = arith.addi %[[OFF]], %[[II]]
// CHECK:          %[[JJ:.*]] = arith.muli %[[J]], %[[STRIDES]]#1
// CHECK:          %[[X:.*]] = arith.addi %[[X0]], %[[JJ]]
// CHECK:          %[[V:.*]] = memref.load %[[FLAT]][%[[X]]] : memref<?xf32>
// CHECK:          memref.store %[[V]], %[[FLATOUT]][%{{.*}}] : memref<?xf32>
func.func @copy(%a: memref<4x8xf32, strided<[16, 2], offset: 3>>, %out: memref<4x8xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c8 = arith.constant 8 : index
  scf.parallel (%i, %j) = (%c0, %c0) to (%c4, %c8) step (%c1, %c1) {
    %x = memref.load %a[%i, %j] : memref<4x8xf32, strided<[16, 2], offset: 3>>
    memref.store %x, %out[%i, %j] : memref<4x8xf32>
  }
  return
}

// A buffer made inside the loop is no buffer the host can pass: its
// accesses stay as they are, and so do accesses inside a gpu.launch
// (ember-gpu-kernelize's kernels index flat buffers already).
// CHECK-LABEL: func.func @local(
// CHECK:        scf.parallel
// CHECK:          %[[T:.*]] = memref.alloca() : memref<2x2xf32>
// CHECK:          memref.store %{{.*}}, %[[T]][%{{.*}}, %{{.*}}] : memref<2x2xf32>
// CHECK:        gpu.launch
// CHECK:          memref.load %{{.*}}[%{{.*}}, %{{.*}}] : memref<4x8xf32>
func.func @local(%out: memref<4x8xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %zero = arith.constant 0.0 : f32
  scf.parallel (%i) = (%c0) to (%c4) step (%c1) {
    %t = memref.alloca() : memref<2x2xf32>
    memref.store %zero, %t[%c0, %c1] : memref<2x2xf32>
  }
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    %x = memref.load %out[%c0, %c1] : memref<4x8xf32>
    scf.for %k = %c0 to %c4 step %c1 {
      memref.store %x, %out[%k, %c0] : memref<4x8xf32>
    }
    gpu.terminator
  }
  return
}

// In a host loop (ember.host_loop: a recurrent layer's steps) each kernel's
// views are made inside the loop, before the kernel's own loop: a buffer
// defined in the step (the row of step t) is flattened too.
// CHECK-LABEL: func.func @host_loop(
// CHECK:        scf.for %[[T:.*]] =
// CHECK:          %[[ROW:.*]] = memref.subview %{{.*}}[%[[T]], 0]
// CHECK:          memref.extract_strided_metadata %[[ROW]]
// CHECK:          %[[FLAT:.*]] = memref.reinterpret_cast
// CHECK:          scf.parallel
// CHECK:            memref.store %{{.*}}, %[[FLAT]][%{{.*}}] : memref<?xf32>
// CHECK:        } {ember.host_loop}
func.func @host_loop(%buf: memref<?x?xf32>, %m: index, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  scf.for %t = %c0 to %m step %c1 {
    %row = memref.subview %buf[%t, 0] [1, %n] [1, 1] : memref<?x?xf32> to memref<?xf32, strided<[1], offset: ?>>
    scf.parallel (%j) = (%c0) to (%n) step (%c1) {
      memref.store %zero, %row[%j] : memref<?xf32, strided<[1], offset: ?>>
      scf.reduce
    }
  } {ember.host_loop}
  return
}
