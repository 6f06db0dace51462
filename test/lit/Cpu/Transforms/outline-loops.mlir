// RUN: ember-opt %s -ember-outline-loops | FileCheck %s

// Each top-level loop nest becomes a never-inlined function taking what it
// reads; constants are cloned in; identical nests share one function; the
// glue left behind is not optimized.
// CHECK: func private @two_nests_loop0(%{{.*}}: index, %{{.*}}: memref<?xf32>, %{{.*}}: memref<?xf32>)
// CHECK-SAME: attributes {passthrough = ["noinline", "ember-kernel"]}
// CHECK: arith.constant 0 : index
// CHECK: scf.for
// CHECK-NOT: @two_nests_loop1
// CHECK: func private @two_nests_loop2({{.*}}) -> f32
// CHECK: scf.for {{.*}} iter_args
// CHECK-LABEL: func @two_nests(
// CHECK-SAME: %[[A:[^:]*]]: memref<?xf32>, %[[B:[^:]*]]: memref<?xf32>, %[[C:[^:]*]]: memref<?xf32>, %[[N:[^:]*]]: index)
// CHECK-SAME: attributes {passthrough = ["noinline", "optnone"]}
// CHECK: call @two_nests_loop0(%[[N]], %[[A]], %[[B]])
// CHECK: call @two_nests_loop0(%[[N]], %[[C]], %[[B]])
// CHECK: %[[S:.*]] = call @two_nests_loop2(%[[N]], %[[A]])
// CHECK: return %[[S]]
func.func @two_nests(%a: memref<?xf32>, %b: memref<?xf32>, %c: memref<?xf32>, %n: index) -> f32 {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  scf.for %i = %c0 to %n step %c1 {
    %x = memref.load %a[%i] : memref<?xf32>
    %y = arith.mulf %x, %x : f32
    memref.store %y, %b[%i] : memref<?xf32>
  }
  scf.for %i = %c0 to %n step %c1 {
    %x = memref.load %c[%i] : memref<?xf32>
    %y = arith.mulf %x, %x : f32
    memref.store %y, %b[%i] : memref<?xf32>
  }
  %s = scf.for %i = %c0 to %n step %c1 iter_args(%acc = %zero) -> f32 {
    %x = memref.load %a[%i] : memref<?xf32>
    %t = arith.addf %acc, %x : f32
    scf.yield %t : f32
  }
  return %s : f32
}

// A single nest moves too (the glue is compiled for speed of compiling);
// a function without loops stays as it is.
// CHECK: func private @one_nest_loop0(
// CHECK: scf.for
// CHECK-LABEL: func @one_nest(
// CHECK: call @one_nest_loop0(
// CHECK-LABEL: func @no_loops(
// CHECK-NOT: call
// CHECK-NOT: passthrough
// CHECK: memref.store
func.func @one_nest(%a: memref<?xf32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %one = arith.constant 1.0 : f32
  scf.for %i = %c0 to %n step %c1 {
    memref.store %one, %a[%i] : memref<?xf32>
  }
  return
}

func.func @no_loops(%a: memref<?xf32>) {
  %c0 = arith.constant 0 : index
  %one = arith.constant 1.0 : f32
  memref.store %one, %a[%c0] : memref<?xf32>
  return
}
