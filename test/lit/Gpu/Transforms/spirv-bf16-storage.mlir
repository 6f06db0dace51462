// RUN: ember-opt %s --split-input-file --ember-spirv-bf16-storage | FileCheck %s

// SPIR-V has no bfloat16: bf16 buffers become i16 buffers of the same bits
// (loads and stores bitcast), conversions between bf16 and anything but f32
// go through f32, and selects pick the bits as i16.
// CHECK-LABEL: gpu.func @convert(
// CHECK-SAME:    %[[IN:[a-z0-9]+]]: memref<?xi16>, %[[IDX:[a-z0-9]+]]: memref<?xi32>, %[[OUT:[a-z0-9]+]]: memref<?xi16>, %[[WIDE:[a-z0-9]+]]: memref<?xf32>) kernel
// CHECK:        %[[BITS:.*]] = memref.load %[[IN]][%{{.*}}] : memref<?xi16>
// CHECK:        %[[X:.*]] = arith.bitcast %[[BITS]] : i16 to bf16
// CHECK:        %[[W:.*]] = arith.extf %[[X]] : bf16 to f32
// CHECK:        %[[I:.*]] = memref.load %[[IDX]]
// CHECK:        %[[IF:.*]] = arith.sitofp %[[I]] : i32 to f32
// CHECK:        %[[F:.*]] = arith.truncf %[[IF]] : f32 to bf16
// CHECK:        %[[H:.*]] = arith.truncf %[[W]] : f32 to bf16
// CHECK:        %[[C:.*]] = arith.cmpf
// CHECK:        %[[FB:.*]] = arith.bitcast %[[F]] : bf16 to i16
// CHECK:        %[[HB:.*]] = arith.bitcast %[[H]] : bf16 to i16
// CHECK:        %[[PICK:.*]] = arith.select %[[C]], %[[FB]], %[[HB]] : i16
// CHECK:        %[[S:.*]] = arith.bitcast %[[PICK]] : i16 to bf16
// CHECK:        %[[SB:.*]] = arith.bitcast %[[S]] : bf16 to i16
// CHECK:        memref.store %[[SB]], %[[OUT]][%{{.*}}] : memref<?xi16>
// CHECK-NOT:    memref<?xbf16>
gpu.module @kernels {
  gpu.func @convert(%in: memref<?xbf16>, %idx: memref<?xi32>, %out: memref<?xbf16>,
                    %wide: memref<?xf32>) kernel {
    %tx = gpu.thread_id x
    %x = memref.load %in[%tx] : memref<?xbf16>
    %w = arith.extf %x : bf16 to f32
    memref.store %w, %wide[%tx] : memref<?xf32>
    %i = memref.load %idx[%tx] : memref<?xi32>
    %f = arith.sitofp %i : i32 to bf16
    %h = arith.truncf %w : f32 to bf16
    %c = arith.cmpf olt, %w, %w : f32
    %s = arith.select %c, %f, %h : bf16
    memref.store %s, %out[%tx] : memref<?xbf16>
    gpu.return
  }
}

// -----

// Workgroup memory of bf16 is kept as i16 too.
// CHECK-LABEL: gpu.func @tile(
// CHECK:        %[[T:.*]] = memref.alloc() : memref<64xi16, 3>
// CHECK:        memref.store %{{.*}}, %[[T]][%{{.*}}] : memref<64xi16, 3>
gpu.module @kernels {
  gpu.func @tile(%in: memref<?xf32>) kernel {
    %c0 = arith.constant 0 : index
    %t = memref.alloc() : memref<64xbf16, 3>
    %x = memref.load %in[%c0] : memref<?xf32>
    %b = arith.truncf %x : f32 to bf16
    memref.store %b, %t[%c0] : memref<64xbf16, 3>
    gpu.return
  }
}
