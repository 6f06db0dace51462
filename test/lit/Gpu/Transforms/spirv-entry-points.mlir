// RUN: ember-opt %s --ember-spirv-entry-points | FileCheck %s

// A kernel gets the SPIR-V entry point ABI with its known block size; its
// workgroup attribution becomes an allocation in memory space 3 (a
// Workgroup variable); a loop with results runs under `lb < ub`, whose
// else branch yields the initial values (the SPIR-V lowering leaves a
// zero-trip loop's results undefined).
// CHECK-LABEL: gpu.func @rows(
// CHECK-SAME:    %[[IN:[a-z0-9]+]]: memref<?xf32>, %[[OUT:[a-z0-9]+]]: memref<?xf32>, %[[N:[a-z0-9]+]]: index) kernel
// CHECK-SAME:    spirv.entry_point_abi = #spirv.entry_point_abi<workgroup_size = [256, 1, 1]>
// CHECK-NEXT:   %[[TILE:.*]] = memref.alloc() : memref<256xf32, 3>
// CHECK:        %[[ZERO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK:        %[[TX:.*]] = gpu.thread_id x
// CHECK:        %[[RUNS:.*]] = arith.cmpi slt, %[[TX]], %[[N]] : index
// CHECK:        %[[SUM:.*]] = scf.if %[[RUNS]] -> (f32) {
// CHECK:          %[[LOOP:.*]] = scf.for %{{.*}} = %[[TX]] to %[[N]] step %{{.*}} iter_args(%{{.*}} = %[[ZERO]]) -> (f32) {
// CHECK:          scf.yield %[[LOOP]] : f32
// CHECK:        } else {
// CHECK:          scf.yield %[[ZERO]] : f32
// CHECK:        }
// CHECK:        memref.store %[[SUM]], %[[TILE]][%[[TX]]] : memref<256xf32, 3>
// A function that is not a kernel gets no entry point.
// CHECK-LABEL: gpu.func @helper(
// CHECK-NOT:    spirv.entry_point_abi
// CHECK:        gpu.return
gpu.module @kernels {
  gpu.func @rows(%in: memref<?xf32>, %out: memref<?xf32>, %n: index)
      workgroup(%tile: memref<256xf32, #gpu.address_space<workgroup>>)
      kernel attributes {known_block_size = array<i32: 256, 1, 1>} {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %zero = arith.constant 0.0 : f32
    %tx = gpu.thread_id x
    %sum = scf.for %i = %tx to %n step %c1 iter_args(%acc = %zero) -> (f32) {
      %x = memref.load %in[%i] : memref<?xf32>
      %s = arith.addf %acc, %x : f32
      scf.yield %s : f32
    }
    memref.store %sum, %tile[%tx] : memref<256xf32, #gpu.address_space<workgroup>>
    gpu.barrier
    %v = memref.load %tile[%c0] : memref<256xf32, #gpu.address_space<workgroup>>
    memref.store %v, %out[%tx] : memref<?xf32>
    gpu.return
  }
  gpu.func @helper(%x: f32) -> f32 {
    gpu.return %x : f32
  }
}

// Without a known block size the workgroup is 1x1x1.
// CHECK-LABEL: gpu.func @single(
// CHECK-SAME:    spirv.entry_point_abi = #spirv.entry_point_abi<workgroup_size = [1, 1, 1]>
gpu.module @more {
  gpu.func @single(%out: memref<?xf32>) kernel {
    gpu.return
  }
}
