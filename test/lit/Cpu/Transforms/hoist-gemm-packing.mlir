// RUN: ember-opt %s -split-input-file -ember-hoist-gemm-packing | FileCheck %s

// A recurrent step's h W^T: the transposed view of the weight is made in
// the loop, the weight before it and only read in it. W is packed once
// before the loop (the view cloned there), each step passes the handle
// (and B, read if the handle is null), and the handle is released after
// the loop.
// CHECK-LABEL: func @step_loop
// CHECK-SAME: (%[[H:.*]]: memref<?x?xf32>, %[[W:.*]]: memref<?x?xf32>, %[[C:.*]]: memref<?x?xf32>, %[[N:.*]]: index)
// CHECK: %[[WT:.*]] = memref.transpose %[[W]]
// CHECK: %[[WV:.*]] = memref.cast %[[WT]]
// CHECK: %[[P:.*]] = call @ember_cpu_sgemm_pack_b(%[[WV]]) : (memref<?x?xf32, strided<[?, ?], offset: ?>>) -> !llvm.ptr
// CHECK: scf.for
// CHECK: call @ember_cpu_sgemm_packed_into(%{{.*}}, %{{.*}}, %{{.*}}, %[[P]])
// CHECK-NOT: call @ember_cpu_sgemm_into(
// CHECK: }
// CHECK: call @ember_cpu_sgemm_release_b(%[[P]]) : (!llvm.ptr) -> ()
func.func private @ember_cpu_sgemm_into(memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>)
func.func @step_loop(%h: memref<?x?xf32>, %w: memref<?x?xf32>, %c: memref<?x?xf32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  scf.for %t = %c0 to %n step %c1 {
    %hv = memref.cast %h : memref<?x?xf32> to memref<?x?xf32, strided<[?, ?], offset: ?>>
    %wt = memref.transpose %w (d0, d1) -> (d1, d0) : memref<?x?xf32> to memref<?x?xf32, strided<[1, ?]>>
    %wv = memref.cast %wt : memref<?x?xf32, strided<[1, ?]>> to memref<?x?xf32, strided<[?, ?], offset: ?>>
    %cv = memref.cast %c : memref<?x?xf32> to memref<?x?xf32, strided<[?, ?], offset: ?>>
    func.call @ember_cpu_sgemm_into(%hv, %wv, %cv) : (memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>) -> ()
  }
  return
}

// -----

// The fused backward step dG W + bypass: B is the weight itself; the
// handle goes last, after the flags.
// CHECK-LABEL: func @fused_loop
// CHECK: %[[P:.*]] = call @ember_cpu_sgemm_pack_b(
// CHECK: scf.for
// CHECK: call @ember_cpu_sgemm_packed_fused(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[P]])
// CHECK: call @ember_cpu_sgemm_release_b(%[[P]])
func.func private @ember_cpu_sgemm_fused(memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, i64)
func.func @fused_loop(%g: memref<?x?xf32>, %w: memref<?x?xf32, strided<[?, ?], offset: ?>>, %c: memref<?x?xf32>, %r: memref<?x?xf32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %flags = arith.constant 512 : i64
  scf.for %t = %c0 to %n step %c1 {
    %gv = memref.cast %g : memref<?x?xf32> to memref<?x?xf32, strided<[?, ?], offset: ?>>
    %cv = memref.cast %c : memref<?x?xf32> to memref<?x?xf32, strided<[?, ?], offset: ?>>
    %rv = memref.cast %r : memref<?x?xf32> to memref<?x?xf32, strided<[?, ?], offset: ?>>
    func.call @ember_cpu_sgemm_fused(%gv, %w, %cv, %rv, %rv, %flags) : (memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, i64) -> ()
  }
  return
}

// -----

// The loop writes the weight (a GEMM's C, through a view): B is packed at
// each call, as before.
// CHECK-LABEL: func @written_in_loop
// CHECK-NOT: ember_cpu_sgemm_pack_b
// CHECK: call @ember_cpu_sgemm_into(
func.func private @ember_cpu_sgemm_into(memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>)
func.func @written_in_loop(%h: memref<?x?xf32>, %w: memref<?x?xf32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  scf.for %t = %c0 to %n step %c1 {
    %hv = memref.cast %h : memref<?x?xf32> to memref<?x?xf32, strided<[?, ?], offset: ?>>
    %wv = memref.cast %w : memref<?x?xf32> to memref<?x?xf32, strided<[?, ?], offset: ?>>
    func.call @ember_cpu_sgemm_into(%hv, %hv, %wv) : (memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>) -> ()
    func.call @ember_cpu_sgemm_into(%hv, %wv, %hv) : (memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>) -> ()
  }
  return
}

// -----

// Outside a loop nothing changes.
// CHECK-LABEL: func @no_loop
// CHECK-NOT: ember_cpu_sgemm_pack_b
// CHECK: call @ember_cpu_sgemm_into(
func.func private @ember_cpu_sgemm_into(memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>)
func.func @no_loop(%a: memref<?x?xf32, strided<[?, ?], offset: ?>>, %b: memref<?x?xf32, strided<[?, ?], offset: ?>>, %c: memref<?x?xf32, strided<[?, ?], offset: ?>>) {
  func.call @ember_cpu_sgemm_into(%a, %b, %c) : (memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>) -> ()
  return
}
