// RUN: ember-opt %s --ember-gpu-f64-math | FileCheck %s

// In GPU kernels, exp (log, tanh, pow, erf) becomes arithmetic and bit
// operations in f64 (f32 ones computed in f64 and rounded): exp scales by
// 2^k built in the exponent bits. trunc, which no target has, is floor or
// ceil by the sign; f64 sin (and the other ops that follow from exp, log
// and the series) goes, while f32 sin, which the targets have, stays.
// CHECK-LABEL: gpu.func @k(
// CHECK-SAME:    %[[X:[a-z0-9]+]]: f64, %[[Y:[a-z0-9]+]]: f32
// CHECK-NOT:    math.exp
// CHECK:        arith.shli %{{.*}}, %c52_i64{{.*}} : i64
// CHECK:        arith.bitcast %{{.*}} : i64 to f64
// CHECK:        %[[W:.*]] = arith.extf %[[Y]] : f32 to f64
// CHECK:        %[[DOWN:.*]] = math.floor %[[W]] : f64
// CHECK:        %[[UP:.*]] = math.ceil %[[W]] : f64
// CHECK:        %[[NEG:.*]] = arith.cmpf olt, %[[W]]
// CHECK:        %[[T:.*]] = arith.select %[[NEG]], %[[UP]], %[[DOWN]] : f64
// CHECK:        arith.truncf %[[T]] : f64 to f32
// CHECK:        arith.extf %[[Y]] : f32 to f64
// CHECK:        arith.shli
// CHECK:        arith.truncf %{{.*}} : f64 to f32
// CHECK-NOT:    math.sin %[[X]]
// CHECK-NOT:    math.exp
// CHECK:        math.sin %[[Y]] : f32
// CHECK-NOT:    math.exp
// CHECK:        gpu.return
gpu.module @kernels {
  gpu.func @k(%x: f64, %y: f32, %out: memref<4xf64>, %out32: memref<4xf32>) kernel {
    %c0 = arith.constant 0 : index
    %e = math.exp %x : f64
    %t = math.trunc %y : f32
    %e32 = math.exp %y : f32
    %s = math.sin %x : f64
    %s32 = math.sin %y : f32
    memref.store %e, %out[%c0] : memref<4xf64>
    memref.store %s, %out[%c0] : memref<4xf64>
    memref.store %t, %out32[%c0] : memref<4xf32>
    memref.store %e32, %out32[%c0] : memref<4xf32>
    memref.store %s32, %out32[%c0] : memref<4xf32>
    gpu.return
  }
}

// Host code keeps its math ops (libm serves them).
// CHECK-LABEL: func.func @host(
// CHECK:        math.exp %{{.*}} : f64
func.func @host(%x: f64) -> f64 {
  %e = math.exp %x : f64
  return %e : f64
}
