// RUN: ember-opt %s --pass-pipeline='builtin.module(func.func(ember-sink-launch-constants))' | FileCheck %s

// Constants a launch body uses are cloned into it, once each (outlining
// would otherwise pass each as a kernel argument); host values that are
// not constants, such as a buffer's size, stay arguments.
// CHECK-LABEL: func.func @scale(
// CHECK-SAME:    %[[BUF:[a-z0-9]+]]: memref<?xf32>
// CHECK:        %[[C0:.*]] = arith.constant 0 : index
// CHECK:        %[[N:.*]] = memref.dim %[[BUF]], %[[C0]]
// CHECK:        gpu.launch
// CHECK-NEXT:     %[[TWO:.*]] = arith.constant 2.000000e+00 : f32
// CHECK-NOT:      arith.constant 2.000000e+00
// CHECK:          arith.cmpi ult, %{{.*}}, %[[N]] : index
// CHECK:          %[[Y:.*]] = arith.mulf %{{.*}}, %[[TWO]] : f32
// CHECK:          arith.addf %[[Y]], %[[TWO]] : f32
// CHECK:          gpu.terminator
func.func @scale(%buf: memref<?xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c256 = arith.constant 256 : index
  %two = arith.constant 2.0 : f32
  %n = memref.dim %buf, %c0 : memref<?xf32>
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c256, %sy = %c1, %sz = %c1) {
    %inside = arith.cmpi ult, %tx, %n : index
    scf.if %inside {
      %x = memref.load %buf[%tx] : memref<?xf32>
      %y = arith.mulf %x, %two : f32
      %z = arith.addf %y, %two : f32
      memref.store %z, %buf[%tx] : memref<?xf32>
    }
    gpu.terminator
  }
  return
}
