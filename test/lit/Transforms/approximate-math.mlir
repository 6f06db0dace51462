// RUN: ember-opt %s -ember-approximate-math | FileCheck %s

// CHECK-LABEL: func @f32_becomes_polynomials
func.func @f32_becomes_polynomials(%x: f32) -> f32 {
  // CHECK-NOT: math.exp
  // CHECK-NOT: math.tanh
  // CHECK-NOT: math.erf
  // CHECK: math.fma
  %0 = math.exp %x : f32
  %1 = math.tanh %0 : f32
  %2 = math.erf %1 : f32
  return %2 : f32
}

// CHECK-LABEL: func @f64_left_for_libm
func.func @f64_left_for_libm(%x: f64) -> f64 {
  // CHECK: math.exp %{{.*}} : f64
  %0 = math.exp %x : f64
  return %0 : f64
}
