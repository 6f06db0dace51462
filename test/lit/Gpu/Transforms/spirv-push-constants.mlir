// RUN: ember-opt %s --ember-spirv-push-constants | FileCheck %s

// A Vulkan kernel's scalars are read from one block of 8-byte words
// appended as the last argument (word i: the i-th scalar; an index or i64
// as is, f64 bitcast, narrower ones in the low bits); the buffers keep
// bindings 0, 1, ... in order and the block takes the next.
// CHECK-LABEL: gpu.func @scale(
// CHECK-SAME:    %[[IN:[a-z0-9]+]]: memref<?xf32> {spirv.interface_var_abi = #spirv.interface_var_abi<(0, 0)>}
// CHECK-SAME:    %[[OUT:[a-z0-9]+]]: memref<?xf32> {spirv.interface_var_abi = #spirv.interface_var_abi<(0, 1)>}
// CHECK-SAME:    %[[WORDS:[a-z0-9]+]]: memref<5xi64, #spirv.storage_class<PushConstant>> {spirv.interface_var_abi = #spirv.interface_var_abi<(0, 2)>}) kernel
// The placement of every original argument is recorded for the runtime's
// kernel description: a buffer's binding, a scalar's byte offset.
// CHECK-SAME:    attributes {ember.vulkan_placement = [#spirv.interface_var_abi<(0, 0)>, 0, 8, #spirv.interface_var_abi<(0, 1)>, 16, 24, 32]}
// CHECK:        %[[W0:.*]] = memref.load %[[WORDS]][%c0{{.*}}]
// CHECK:        %[[N:.*]] = arith.index_cast %[[W0]] : i64 to index
// CHECK:        %[[W1:.*]] = memref.load %[[WORDS]][%c1{{.*}}]
// CHECK:        %[[LOW:.*]] = arith.trunci %[[W1]] : i64 to i32
// CHECK:        %[[ALPHA:.*]] = arith.bitcast %[[LOW]] : i32 to f32
// CHECK:        %[[W2:.*]] = memref.load %[[WORDS]][%c2{{.*}}]
// CHECK:        %[[K:.*]] = arith.trunci %[[W2]] : i64 to i32
// CHECK:        %[[W3:.*]] = memref.load %[[WORDS]][%c3{{.*}}]
// CHECK:        %[[BETA:.*]] = arith.bitcast %[[W3]] : i64 to f64
// CHECK:        %[[W4:.*]] = memref.load %[[WORDS]][%c4{{.*}}]
// CHECK:        %[[HALF:.*]] = arith.trunci %[[W4]] : i64 to i16
// CHECK:        %[[H:.*]] = arith.bitcast %[[HALF]] : i16 to f16
// CHECK:        arith.mulf %{{.*}}, %[[ALPHA]] : f32
// CHECK:        memref.store %{{.*}}, %[[OUT]][%[[N]]]
// CHECK:        arith.index_cast %[[K]] : i32 to index
// CHECK:        arith.truncf %[[BETA]] : f64 to f32
// CHECK:        arith.extf %[[H]] : f16 to f32
// A kernel without scalars keeps its arguments; its buffers get their
// bindings explicitly.
// CHECK-LABEL: gpu.func @buffers_only(
// CHECK-SAME:    %{{[a-z0-9]+}}: memref<?xf32> {spirv.interface_var_abi = #spirv.interface_var_abi<(0, 0)>}) kernel
// CHECK-SAME:    attributes {ember.vulkan_placement = [#spirv.interface_var_abi<(0, 0)>]}
// CHECK-LABEL: gpu.func @sixteen(
// CHECK-SAME:    memref<16xi64, #spirv.storage_class<PushConstant>>
// Vulkan guarantees 128 bytes of push constants: with more than 16 scalars
// the words come from a storage buffer the launcher fills.
// CHECK-LABEL: gpu.func @seventeen(
// CHECK-SAME:    memref<17xi64, #spirv.storage_class<StorageBuffer>> {spirv.interface_var_abi = #spirv.interface_var_abi<(0, 1)>}) kernel
// CHECK-SAME:    ember.vulkan_scalar_buffer = #spirv.interface_var_abi<(0, 1)>
gpu.module @kernels {
  gpu.func @scale(%in: memref<?xf32>, %n: index, %alpha: f32, %out: memref<?xf32>, %k: i32,
                  %beta: f64, %h: f16) kernel {
    %tx = gpu.thread_id x
    %x = memref.load %in[%tx] : memref<?xf32>
    %y = arith.mulf %x, %alpha : f32
    memref.store %y, %out[%n] : memref<?xf32>
    %kk = arith.index_cast %k : i32 to index
    %b = arith.truncf %beta : f64 to f32
    %hh = arith.extf %h : f16 to f32
    memref.store %b, %out[%kk] : memref<?xf32>
    memref.store %hh, %out[%kk] : memref<?xf32>
    gpu.return
  }
  gpu.func @buffers_only(%in: memref<?xf32>) kernel {
    gpu.return
  }
  gpu.func @sixteen(%out: memref<?xf32>, %s0: index, %s1: index, %s2: index, %s3: index, %s4: index, %s5: index, %s6: index, %s7: index, %s8: index, %s9: index, %s10: index, %s11: index, %s12: index, %s13: index, %s14: index, %s15: index) kernel {
    %x = arith.constant 1.0 : f32
    memref.store %x, %out[%s0] : memref<?xf32>
    memref.store %x, %out[%s1] : memref<?xf32>
    memref.store %x, %out[%s2] : memref<?xf32>
    memref.store %x, %out[%s3] : memref<?xf32>
    memref.store %x, %out[%s4] : memref<?xf32>
    memref.store %x, %out[%s5] : memref<?xf32>
    memref.store %x, %out[%s6] : memref<?xf32>
    memref.store %x, %out[%s7] : memref<?xf32>
    memref.store %x, %out[%s8] : memref<?xf32>
    memref.store %x, %out[%s9] : memref<?xf32>
    memref.store %x, %out[%s10] : memref<?xf32>
    memref.store %x, %out[%s11] : memref<?xf32>
    memref.store %x, %out[%s12] : memref<?xf32>
    memref.store %x, %out[%s13] : memref<?xf32>
    memref.store %x, %out[%s14] : memref<?xf32>
    memref.store %x, %out[%s15] : memref<?xf32>
    gpu.return
  }
  gpu.func @seventeen(%out: memref<?xf32>, %s0: index, %s1: index, %s2: index, %s3: index, %s4: index, %s5: index, %s6: index, %s7: index, %s8: index, %s9: index, %s10: index, %s11: index, %s12: index, %s13: index, %s14: index, %s15: index, %s16: index) kernel {
    %x = arith.constant 1.0 : f32
    memref.store %x, %out[%s0] : memref<?xf32>
    memref.store %x, %out[%s1] : memref<?xf32>
    memref.store %x, %out[%s2] : memref<?xf32>
    memref.store %x, %out[%s3] : memref<?xf32>
    memref.store %x, %out[%s4] : memref<?xf32>
    memref.store %x, %out[%s5] : memref<?xf32>
    memref.store %x, %out[%s6] : memref<?xf32>
    memref.store %x, %out[%s7] : memref<?xf32>
    memref.store %x, %out[%s8] : memref<?xf32>
    memref.store %x, %out[%s9] : memref<?xf32>
    memref.store %x, %out[%s10] : memref<?xf32>
    memref.store %x, %out[%s11] : memref<?xf32>
    memref.store %x, %out[%s12] : memref<?xf32>
    memref.store %x, %out[%s13] : memref<?xf32>
    memref.store %x, %out[%s14] : memref<?xf32>
    memref.store %x, %out[%s15] : memref<?xf32>
    memref.store %x, %out[%s16] : memref<?xf32>
    gpu.return
  }
}
