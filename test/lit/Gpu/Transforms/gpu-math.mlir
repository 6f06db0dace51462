// RUN: ember-opt %s --ember-gpu-math | FileCheck %s

// In GPU kernels, floor and abs become plain arithmetic (no libdevice or
// ocml call), and sqrt the correctly rounded instruction: for NVVM
// targets PTX's sqrt.rn inline, otherwise LLVM's intrinsic; rsqrt is
// 1/sqrt. Other widths (f16) are left to the targets.
// CHECK-LABEL: gpu.module @kernels
// CHECK:        gpu.func @k(%[[X:[a-z0-9]+]]: f32, %[[Y:[a-z0-9]+]]: f64, %[[H:[a-z0-9]+]]: f16
// floor: t = sitofp(fptosi(x)), t - (t > x), x kept outside (-2^31, 2^31)
// CHECK:          %[[I:.*]] = arith.fptosi %[[X]] : f32 to i32
// CHECK:          %[[T:.*]] = arith.sitofp %[[I]] : i32 to f32
// CHECK:          %[[ABOVE:.*]] = arith.cmpf ogt, %[[T]], %[[X]] : f32
// CHECK:          %[[STEP:.*]] = arith.select %[[ABOVE]]
// CHECK:          %[[FLOOR:.*]] = arith.subf %[[T]], %[[STEP]] : f32
// CHECK:          %[[SMALL:.*]] = arith.andi
// CHECK:          %[[F:.*]] = arith.select %[[SMALL]], %[[FLOOR]], %[[X]] : f32
// abs: the sign bit cleared
// CHECK:          %[[BITS:.*]] = arith.bitcast %[[Y]] : f64 to i64
// CHECK:          %[[MASK:.*]] = arith.constant 9223372036854775807 : i64
// CHECK:          %[[CLEARED:.*]] = arith.andi %[[BITS]], %[[MASK]] : i64
// CHECK:          %[[A:.*]] = arith.bitcast %[[CLEARED]] : i64 to f64
// CHECK:          %[[S:.*]] = llvm.intr.sqrt(%[[X]]) : (f32) -> f32
// CHECK:          %[[SY:.*]] = llvm.intr.sqrt(%[[Y]]) : (f64) -> f64
// CHECK:          %[[ONE:.*]] = arith.constant 1.000000e+00 : f64
// CHECK:          %[[R:.*]] = arith.divf %[[ONE]], %[[SY]] : f64
// CHECK:          %[[HS:.*]] = math.sqrt %[[H]] : f16
// CHECK-NOT:      math.floor
// CHECK-NOT:      math.absf
// CHECK:          memref.store %[[F]]
// CHECK:          memref.store %[[S]]
// CHECK:          memref.store %[[A]]
// CHECK:          memref.store %[[R]]
// CHECK:          memref.store %[[HS]]
gpu.module @kernels {
  gpu.func @k(%x: f32, %y: f64, %h: f16, %out: memref<8xf32>, %out64: memref<8xf64>,
              %out16: memref<8xf16>) kernel {
    %c0 = arith.constant 0 : index
    %f = math.floor %x : f32
    %a = math.absf %y : f64
    %s = math.sqrt %x : f32
    %r = math.rsqrt %y : f64
    %hs = math.sqrt %h : f16
    memref.store %f, %out[%c0] : memref<8xf32>
    memref.store %s, %out[%c0] : memref<8xf32>
    memref.store %a, %out64[%c0] : memref<8xf64>
    memref.store %r, %out64[%c0] : memref<8xf64>
    memref.store %hs, %out16[%c0] : memref<8xf16>
    gpu.return
  }
}

// CHECK-LABEL: gpu.module @nvvm_kernels
// CHECK:          llvm.inline_asm "sqrt.rn.f32 $0, $1;", "=f,f" %{{.*}} : (f32) -> f32
// CHECK:          %[[SQRT:.*]] = llvm.inline_asm "sqrt.rn.f64 $0, $1;", "=d,d" %{{.*}} : (f64) -> f64
// CHECK:          arith.divf %{{.*}}, %[[SQRT]] : f64
// CHECK-NOT:      math.sqrt
// CHECK-NOT:      math.rsqrt
gpu.module @nvvm_kernels [#nvvm.target<chip = "sm_80">] {
  gpu.func @k(%x: f32, %y: f64, %out: memref<8xf32>, %out64: memref<8xf64>) kernel {
    %c0 = arith.constant 0 : index
    %s = math.sqrt %x : f32
    %r = math.rsqrt %y : f64
    memref.store %s, %out[%c0] : memref<8xf32>
    memref.store %r, %out64[%c0] : memref<8xf64>
    gpu.return
  }
}

// Host code is left alone.
// CHECK-LABEL: func.func @host(
// CHECK:        math.floor
func.func @host(%x: f32) -> f32 {
  %f = math.floor %x : f32
  return %f : f32
}
