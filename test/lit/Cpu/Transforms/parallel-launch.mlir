// RUN: ember-opt %s -ember-parallel-launch | FileCheck %s
// RUN: ember-opt %s -ember-parallel-launch -ember-runtime-slots | FileCheck %s --check-prefix=SLOTS

// A call to a chunk kernel becomes its arguments stored into a stack
// struct plus ember_parallel_for over a trampoline that loads them back.

// CHECK:       llvm.func internal @k_tramp(%[[CTX:.*]]: !llvm.ptr, %[[LO:.*]]: i64, %[[HI:.*]]: i64) {
// CHECK:         %[[P0:.*]] = llvm.getelementptr %[[CTX]][0, 0] : (!llvm.ptr) -> !llvm.ptr, !llvm.struct<(ptr, ptr, i64, i64, i64, f32)>
// CHECK:         %[[A0:.*]] = llvm.load %[[P0]] : !llvm.ptr -> !llvm.ptr
// CHECK:         %[[P5:.*]] = llvm.getelementptr %[[CTX]][0, 5]
// CHECK:         %[[A5:.*]] = llvm.load %[[P5]] : !llvm.ptr -> f32
// CHECK:         llvm.call @k(%[[A0]], %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[A5]], %[[LO]], %[[HI]], %{{.*}}) : (!llvm.ptr, !llvm.ptr, i64, i64, i64, f32, i64, i64, i64) -> ()
// CHECK:         llvm.return
// CHECK:       llvm.func @k(
// CHECK-NOT:     ember.chunk_kernel
// CHECK-SAME:    passthrough = ["noinline", "ember-kernel"]
llvm.func @k(%alloc: !llvm.ptr, %data: !llvm.ptr, %offset: i64, %size: i64, %stride: i64,
             %scale: f32, %lo: i64, %hi: i64, %grain: i64)
    attributes {ember.chunk_kernel, passthrough = ["noinline", "ember-kernel"]} {
  llvm.return
}

// CHECK-LABEL: llvm.func @glue(
// CHECK-SAME:    %[[A:[^:]*]]: !llvm.ptr, %[[B:[^:]*]]: !llvm.ptr, %[[N:[^:]*]]: i64, %[[S:[^:]*]]: f32, %[[G:[^:]*]]: i64)
// CHECK:         %[[ONE:.*]] = llvm.mlir.constant(1 : i64) : i64
// CHECK:         %[[FRAME:.*]] = llvm.alloca %[[ONE]] x !llvm.struct<(ptr, ptr, i64, i64, i64, f32)> : (i64) -> !llvm.ptr
// CHECK:         %[[F0:.*]] = llvm.getelementptr %[[FRAME]][0, 0]
// CHECK:         llvm.store %[[A]], %[[F0]] : !llvm.ptr, !llvm.ptr
// CHECK:         %[[F5:.*]] = llvm.getelementptr %[[FRAME]][0, 5]
// CHECK:         llvm.store %[[S]], %[[F5]] : f32, !llvm.ptr
// CHECK:         %[[T:.*]] = llvm.mlir.addressof @k_tramp : !llvm.ptr
// CHECK:         llvm.call @ember_parallel_for(%[[T]], %[[FRAME]], %{{.*}}, %[[N]], %[[G]]) : (!llvm.ptr, !llvm.ptr, i64, i64, i64) -> ()
// CHECK-NOT:     llvm.call @k(
// CHECK:         llvm.call @plain(
// CHECK:       llvm.func @ember_parallel_for(!llvm.ptr, !llvm.ptr, i64, i64, i64)

// Ahead-of-time code calls it through its runtime slot.
// SLOTS:       llvm.mlir.global external @__ember_rt_ember_parallel_for()
// SLOTS-LABEL: llvm.func @glue(
// SLOTS:         %[[S:.*]] = llvm.mlir.addressof @__ember_rt_ember_parallel_for : !llvm.ptr
// SLOTS:         %[[F:.*]] = llvm.load %[[S]] : !llvm.ptr -> !llvm.ptr
// SLOTS:         llvm.call %[[F]](
// SLOTS-NOT:   llvm.func @ember_parallel_for(
llvm.func @glue(%a: !llvm.ptr, %b: !llvm.ptr, %n: i64, %s: f32, %g: i64) {
  %c0 = llvm.mlir.constant(0 : i64) : i64
  %c1 = llvm.mlir.constant(1 : i64) : i64
  llvm.call @k(%a, %b, %c0, %n, %c1, %s, %c0, %n, %g) : (!llvm.ptr, !llvm.ptr, i64, i64, i64, f32, i64, i64, i64) -> ()
  llvm.call @plain() : () -> ()
  llvm.return
}

llvm.func @plain() {
  llvm.return
}
