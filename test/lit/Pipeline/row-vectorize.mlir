// RUN: ember-opt %s -ember-lower-to-llvm | mlir-translate --mlir-to-llvmir \
// RUN:   | opt -O3 -mtriple=x86_64-unknown-linux-gnu -mcpu=znver4 -S \
// RUN:   | FileCheck %s
// The row lowerings' inner loops vectorize along the row at O3 for an
// AVX-512 CPU (the JIT's optimization): the reassociable sums become
// 16-wide vector reductions and the element loops 16-wide bodies, and the
// loop over rows stays a loop of its own (the kernel's outermost loop).

// CHECK-LABEL: define {{.*}} @ember_entry_layer_norm_loop0(
// CHECK-DAG: fadd reassoc <16 x float>
// CHECK-DAG: call reassoc float @llvm.vector.reduce.fadd.v16f32
// CHECK-DAG: call reassoc float @llvm.vector.reduce.fadd.v16f32
// CHECK-DAG: store <16 x float>
func.func @layer_norm(%x: tensor<?x?xf32>, %w: tensor<?xf32>, %b: tensor<?xf32>) -> tensor<?x?xf32> {
  %0 = ember.layer_norm %x weight %w : tensor<?xf32> bias %b : tensor<?xf32> eps = 1.0e-05 : tensor<?x?xf32>
  return %0 : tensor<?x?xf32>
}

// CHECK-LABEL: define {{.*}} @ember_entry_softmax_backward_loop0(
// CHECK-DAG: call reassoc float @llvm.vector.reduce.fadd.v16f32
// CHECK-DAG: store <16 x float>
func.func @softmax_backward(%g: tensor<?x?xf32>, %y: tensor<?x?xf32>) -> tensor<?x?xf32> {
  %0 = ember.softmax_backward %g, %y dim = 1 : tensor<?x?xf32>
  return %0 : tensor<?x?xf32>
}

// CHECK-LABEL: define {{.*}} @ember_entry_layer_norm_backward_loop0(
// CHECK-DAG: store <16 x float>
// CHECK-DAG: call reassoc float @llvm.vector.reduce.fadd.v16f32
// CHECK-DAG: call reassoc float @llvm.vector.reduce.fadd.v16f32
// CHECK-DAG: call reassoc float @llvm.vector.reduce.fadd.v16f32
// CHECK-DAG: call reassoc float @llvm.vector.reduce.fadd.v16f32
func.func @layer_norm_backward(%g: tensor<?x?xf32>, %x: tensor<?x?xf32>, %w: tensor<?xf32>) -> tensor<?x?xf32> {
  %0 = ember.layer_norm_backward %g, %x weight %w : tensor<?xf32> eps = 1.0e-05 : tensor<?x?xf32>
  return %0 : tensor<?x?xf32>
}
