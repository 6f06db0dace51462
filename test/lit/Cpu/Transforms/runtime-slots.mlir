// RUN: ember-opt %s --ember-runtime-slots | FileCheck %s
// RUN: ember-opt %s --ember-runtime-slots="symbols=memrefCopy" | FileCheck %s --check-prefix=ONLY

// Calls to runtime functions go through zero-initialized external slots and
// the declarations disappear; other externals (libm) stay as they are.

// CHECK-DAG:   llvm.mlir.global external @__ember_rt_memrefCopy() {{.*}} : !llvm.ptr {
// CHECK-DAG:   llvm.mlir.global external @__ember_rt__mlir_memref_to_llvm_aligned_alloc() {{.*}} : !llvm.ptr {
// CHECK-DAG:   llvm.mlir.zero : !llvm.ptr
// CHECK-NOT:   llvm.func @memrefCopy
// CHECK-NOT:   llvm.func @_mlir_memref_to_llvm_aligned_alloc
// CHECK:       llvm.func @tanh(f64) -> f64

// CHECK-LABEL: llvm.func @f(
// CHECK:         %[[S:.*]] = llvm.mlir.addressof @__ember_rt__mlir_memref_to_llvm_aligned_alloc : !llvm.ptr
// CHECK:         %[[F:.*]] = llvm.load %[[S]] : !llvm.ptr -> !llvm.ptr
// CHECK:         %[[P:.*]] = llvm.call %[[F]](%{{.*}}, %{{.*}}) : !llvm.ptr, (i64, i64) -> !llvm.ptr
// CHECK:         %[[S2:.*]] = llvm.mlir.addressof @__ember_rt_memrefCopy : !llvm.ptr
// CHECK:         %[[F2:.*]] = llvm.load %[[S2]] : !llvm.ptr -> !llvm.ptr
// CHECK:         llvm.call %[[F2]](%{{.*}}, %[[P]], %[[P]]) : !llvm.ptr, (i64, !llvm.ptr, !llvm.ptr) -> ()
// CHECK:         llvm.call @tanh(

// ONLY:     llvm.mlir.global external @__ember_rt_memrefCopy()
// ONLY-NOT: @__ember_rt__mlir_memref_to_llvm_aligned_alloc
// ONLY:     llvm.func @_mlir_memref_to_llvm_aligned_alloc(i64, i64) -> !llvm.ptr
// ONLY:     llvm.call @_mlir_memref_to_llvm_aligned_alloc(

module {
  llvm.func @memrefCopy(i64, !llvm.ptr, !llvm.ptr)
  llvm.func @_mlir_memref_to_llvm_aligned_alloc(i64, i64) -> !llvm.ptr
  llvm.func @tanh(f64) -> f64
  llvm.func @f(%n: i64, %x: f64) -> f64 {
    %p = llvm.call @_mlir_memref_to_llvm_aligned_alloc(%n, %n) : (i64, i64) -> !llvm.ptr
    llvm.call @memrefCopy(%n, %p, %p) : (i64, !llvm.ptr, !llvm.ptr) -> ()
    %y = llvm.call @tanh(%x) : (f64) -> f64
    llvm.return %y : f64
  }
}
