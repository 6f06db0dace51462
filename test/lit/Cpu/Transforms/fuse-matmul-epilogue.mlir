// RUN: ember-opt %s -split-input-file -ember-fuse-matmul-epilogue | FileCheck %s

// nn.Linear + relu (the weight read transposed, as ember-matmul-to-blas
// leaves it): the bias (one per column, stride 0 along rows) and the
// activation go into the GEMM call, which writes D; C's buffer goes.
// CHECK-LABEL: func @linear_relu
// CHECK-SAME: (%[[A:.*]]: memref<?x?xf32>, %[[W:.*]]: memref<?x?xf32>, %[[BIAS:.*]]: memref<?xf32>, %[[D:.*]]: memref<?x?xf32>)
// CHECK-NOT: memref.alloc
// CHECK-NOT: linalg.generic
// CHECK-DAG: %[[DV:.*]] = memref.cast %[[D]] : memref<?x?xf32> to memref<?x?xf32, strided<[?, ?], offset: ?>>
// CHECK-DAG: %[[BASE:.*]], %[[OFF:.*]], %[[SIZE:.*]], %[[STRIDE:.*]] = memref.extract_strided_metadata %[[BIAS]]
// CHECK-DAG: %[[BV:.*]] = memref.reinterpret_cast %[[BASE]] to offset: [%[[OFF]]], sizes: [%{{.*}}, %{{.*}}], strides: [0, %[[STRIDE]]]
// CHECK-DAG: %[[FLAGS:.*]] = arith.constant 257 : i64
// CHECK: call @ember_cpu_sgemm_fused(%{{.*}}, %{{.*}}, %[[DV]], %[[BV]], %[[DV]], %[[FLAGS]])
// CHECK-NOT: call @ember_cpu_sgemm_into(
func.func private @ember_cpu_sgemm_into(memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>)
func.func @linear_relu(%a: memref<?x?xf32>, %w: memref<?x?xf32>, %bias: memref<?xf32>, %d: memref<?x?xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %cst = arith.constant 0.000000e+00 : f32
  %m = memref.dim %a, %c0 : memref<?x?xf32>
  %n = memref.dim %w, %c1 : memref<?x?xf32>
  %c = memref.alloc(%m, %n) {alignment = 64 : i64} : memref<?x?xf32>
  %av = memref.cast %a : memref<?x?xf32> to memref<?x?xf32, strided<[?, ?], offset: ?>>
  %wt = memref.transpose %w (d0, d1) -> (d1, d0) : memref<?x?xf32> to memref<?x?xf32, strided<[1, ?]>>
  %wv = memref.cast %wt : memref<?x?xf32, strided<[1, ?]>> to memref<?x?xf32, strided<[?, ?], offset: ?>>
  %cv = memref.cast %c : memref<?x?xf32> to memref<?x?xf32, strided<[?, ?], offset: ?>>
  call @ember_cpu_sgemm_into(%av, %wv, %cv) : (memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>) -> ()
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d0, d1)>],
                  iterator_types = ["parallel", "parallel"]}
      ins(%c, %bias : memref<?x?xf32>, memref<?xf32>) outs(%d : memref<?x?xf32>) {
  ^bb0(%in: f32, %in_0: f32, %out: f32):
    %0 = arith.addf %in, %in_0 : f32
    %1 = arith.maximumf %0, %cst : f32
    linalg.yield %1 : f32
  }
  return
}

// -----

// gelu (erf form, as ember.gelu lowers) of C + bias, plus a residual:
// activation 2 | bias 256 | residual 512.
// CHECK-LABEL: func @gelu_residual
// CHECK-NOT: linalg.generic
// CHECK: %[[FLAGS:.*]] = arith.constant 770 : i64
// CHECK: call @ember_cpu_sgemm_fused({{.*}}, %[[FLAGS]])
func.func private @ember_cpu_sgemm_into(memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>)
func.func @gelu_residual(%a: memref<8x20xf32>, %w: memref<20x30xf32>, %bias: memref<30xf32>, %r: memref<8x30xf32>, %d: memref<8x30xf32>) {
  %one = arith.constant 1.000000e+00 : f32
  %half = arith.constant 5.000000e-01 : f32
  %rsqrt2 = arith.constant 0.707106769 : f32
  %c = memref.alloc() {alignment = 64 : i64} : memref<8x30xf32>
  %av = memref.cast %a : memref<8x20xf32> to memref<?x?xf32, strided<[?, ?], offset: ?>>
  %wv = memref.cast %w : memref<20x30xf32> to memref<?x?xf32, strided<[?, ?], offset: ?>>
  %cv = memref.cast %c : memref<8x30xf32> to memref<?x?xf32, strided<[?, ?], offset: ?>>
  call @ember_cpu_sgemm_into(%av, %wv, %cv) : (memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>) -> ()
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>],
                  iterator_types = ["parallel", "parallel"]}
      ins(%c, %bias, %r : memref<8x30xf32>, memref<30xf32>, memref<8x30xf32>) outs(%d : memref<8x30xf32>) {
  ^bb0(%in: f32, %in_6: f32, %in_7: f32, %out: f32):
    %0 = arith.addf %in, %in_6 : f32
    %1 = arith.mulf %0, %rsqrt2 : f32
    %2 = math.erf %1 : f32
    %3 = arith.mulf %0, %half : f32
    %4 = arith.addf %2, %one : f32
    %5 = arith.mulf %3, %4 : f32
    %6 = arith.addf %5, %in_7 : f32
    linalg.yield %6 : f32
  }
  return
}

// -----

// silu without bias (activation 4), in place: the generic writes C's own
// buffer, which then is the GEMM's output.
// CHECK-LABEL: func @silu_in_place
// CHECK: %[[C:.*]] = memref.alloc() {{.*}} : memref<8x30xf32>
// CHECK-NOT: linalg.generic
// CHECK: %[[CV:.*]] = memref.cast %[[C]]
// CHECK: %[[FLAGS:.*]] = arith.constant 4 : i64
// CHECK: call @ember_cpu_sgemm_fused(%{{.*}}, %{{.*}}, %[[CV]], %[[CV]], %[[CV]], %[[FLAGS]])
// CHECK: memref.copy %[[C]], %arg2
func.func private @ember_cpu_sgemm_into(memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>)
func.func @silu_in_place(%a: memref<8x20xf32>, %w: memref<20x30xf32>, %d: memref<8x30xf32>) {
  %one = arith.constant 1.000000e+00 : f32
  %c = memref.alloc() {alignment = 64 : i64} : memref<8x30xf32>
  %av = memref.cast %a : memref<8x20xf32> to memref<?x?xf32, strided<[?, ?], offset: ?>>
  %wv = memref.cast %w : memref<20x30xf32> to memref<?x?xf32, strided<[?, ?], offset: ?>>
  %cv = memref.cast %c : memref<8x30xf32> to memref<?x?xf32, strided<[?, ?], offset: ?>>
  call @ember_cpu_sgemm_into(%av, %wv, %cv) : (memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>) -> ()
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>],
                  iterator_types = ["parallel", "parallel"]}
      ins(%c : memref<8x30xf32>) outs(%c : memref<8x30xf32>) {
  ^bb0(%in: f32, %out: f32):
    %0 = arith.negf %in : f32
    %1 = math.exp %0 : f32
    %2 = arith.addf %1, %one : f32
    %3 = arith.divf %one, %2 : f32
    %4 = arith.mulf %in, %3 : f32
    linalg.yield %4 : f32
  }
  memref.copy %c, %d : memref<8x30xf32> to memref<8x30xf32>
  return
}

// -----

// A bias per row (stride 0 along columns) and sigmoid: 5 | 256.
// CHECK-LABEL: func @row_bias_sigmoid
// CHECK: memref.reinterpret_cast %{{.*}} to offset: [%{{.*}}], sizes: [8, 30], strides: [%{{.*}}, 0]
// CHECK: arith.constant 261 : i64
// CHECK: call @ember_cpu_sgemm_fused(
func.func private @ember_cpu_sgemm_into(memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>)
func.func @row_bias_sigmoid(%a: memref<8x20xf32>, %w: memref<20x30xf32>, %bias: memref<8xf32>, %d: memref<8x30xf32>) {
  %one = arith.constant 1.000000e+00 : f32
  %c = memref.alloc() {alignment = 64 : i64} : memref<8x30xf32>
  %av = memref.cast %a : memref<8x20xf32> to memref<?x?xf32, strided<[?, ?], offset: ?>>
  %wv = memref.cast %w : memref<20x30xf32> to memref<?x?xf32, strided<[?, ?], offset: ?>>
  %cv = memref.cast %c : memref<8x30xf32> to memref<?x?xf32, strided<[?, ?], offset: ?>>
  call @ember_cpu_sgemm_into(%av, %wv, %cv) : (memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>) -> ()
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0)>, affine_map<(d0, d1) -> (d0, d1)>],
                  iterator_types = ["parallel", "parallel"]}
      ins(%c, %bias : memref<8x30xf32>, memref<8xf32>) outs(%d : memref<8x30xf32>) {
  ^bb0(%in: f32, %b: f32, %out: f32):
    %0 = arith.addf %b, %in : f32
    %1 = arith.negf %0 : f32
    %2 = math.exp %1 : f32
    %3 = arith.addf %one, %2 : f32
    %4 = arith.divf %one, %3 : f32
    linalg.yield %4 : f32
  }
  return
}

// -----

// Batched (attention's scores plus a mask broadcast over the batch), tanh:
// 6 | 256, the bias a (1, T, T) buffer read with stride 0 along the batch.
// CHECK-LABEL: func @batched_tanh
// CHECK: memref.reinterpret_cast %{{.*}} to offset: [%{{.*}}], sizes: [4, 16, 16], strides: [0, %{{.*}}, %{{.*}}]
// CHECK: arith.constant 262 : i64
// CHECK: call @ember_cpu_sgemm_batched_fused(
func.func private @ember_cpu_sgemm_batched_into(memref<?x?x?xf32, strided<[?, ?, ?], offset: ?>>, memref<?x?x?xf32, strided<[?, ?, ?], offset: ?>>, memref<?x?x?xf32, strided<[?, ?, ?], offset: ?>>)
func.func @batched_tanh(%q: memref<4x16x8xf32>, %k: memref<4x8x16xf32>, %mask: memref<1x16x16xf32>, %d: memref<4x16x16xf32>) {
  %c = memref.alloc() {alignment = 64 : i64} : memref<4x16x16xf32>
  %qv = memref.cast %q : memref<4x16x8xf32> to memref<?x?x?xf32, strided<[?, ?, ?], offset: ?>>
  %kv = memref.cast %k : memref<4x8x16xf32> to memref<?x?x?xf32, strided<[?, ?, ?], offset: ?>>
  %cv = memref.cast %c : memref<4x16x16xf32> to memref<?x?x?xf32, strided<[?, ?, ?], offset: ?>>
  call @ember_cpu_sgemm_batched_into(%qv, %kv, %cv) : (memref<?x?x?xf32, strided<[?, ?, ?], offset: ?>>, memref<?x?x?xf32, strided<[?, ?, ?], offset: ?>>, memref<?x?x?xf32, strided<[?, ?, ?], offset: ?>>) -> ()
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d1, d2)>, affine_map<(d0, d1, d2) -> (0, d1, d2)>, affine_map<(d0, d1, d2) -> (d0, d1, d2)>],
                  iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%c, %mask : memref<4x16x16xf32>, memref<1x16x16xf32>) outs(%d : memref<4x16x16xf32>) {
  ^bb0(%in: f32, %m: f32, %out: f32):
    %0 = arith.addf %in, %m : f32
    %1 = math.tanh %0 : f32
    linalg.yield %1 : f32
  }
  return
}

// -----

// A residual that is the output itself (an in-place add, no activation):
// the GEMM accumulates into D (1024) plus the bias (256).
// CHECK-LABEL: func @accumulate_in_place
// CHECK: arith.constant 1280 : i64
// CHECK: call @ember_cpu_sgemm_fused(
func.func private @ember_cpu_sgemm_into(memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>)
func.func @accumulate_in_place(%a: memref<8x20xf32>, %w: memref<20x30xf32>, %bias: memref<30xf32>, %d: memref<8x30xf32>) {
  %c = memref.alloc() {alignment = 64 : i64} : memref<8x30xf32>
  %av = memref.cast %a : memref<8x20xf32> to memref<?x?xf32, strided<[?, ?], offset: ?>>
  %wv = memref.cast %w : memref<20x30xf32> to memref<?x?xf32, strided<[?, ?], offset: ?>>
  %cv = memref.cast %c : memref<8x30xf32> to memref<?x?xf32, strided<[?, ?], offset: ?>>
  call @ember_cpu_sgemm_into(%av, %wv, %cv) : (memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>) -> ()
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>],
                  iterator_types = ["parallel", "parallel"]}
      ins(%c, %bias, %d : memref<8x30xf32>, memref<30xf32>, memref<8x30xf32>) outs(%d : memref<8x30xf32>) {
  ^bb0(%in: f32, %b: f32, %r: f32, %out: f32):
    %0 = arith.addf %in, %b : f32
    %1 = arith.addf %r, %0 : f32
    linalg.yield %1 : f32
  }
  return
}

// -----

// 3-D activations (a transformer's x @ w + b): C is read through a reshape
// that splits its rows into (batch, seq). D's leading dims collapse into
// C's rows; the bias reads with stride 0 along them; x's residual (same
// shape, contiguous) with its seq stride.
// CHECK-LABEL: func @reshaped_rows
// CHECK-SAME: (%[[X:.*]]: memref<?x?xf32>, %[[W:.*]]: memref<?x?xf32>, %[[BIAS:.*]]: memref<?xf32>, %[[R:.*]]: memref<?x?x?xf32>, %[[D:.*]]: memref<?x?x?xf32>)
// CHECK-NOT: linalg.generic
// CHECK-NOT: memref.reshape
// CHECK: %[[DM:.*]] = memref.collapse_shape %[[D]] {{\[}}[0, 1], [2]]
// CHECK: %[[DV:.*]] = memref.cast %[[DM]]
// CHECK-DAG: memref.reinterpret_cast %{{.*}} to offset: [%{{.*}}], sizes: [%{{.*}}, %{{.*}}], strides: [0, %{{.*}}]
// CHECK-DAG: %{{.*}}, %{{.*}}, %{{.*}}:3, %[[RS:.*]]:3 = memref.extract_strided_metadata %[[R]]
// CHECK-DAG: memref.reinterpret_cast %{{.*}} to offset: [%{{.*}}], sizes: [%{{.*}}, %{{.*}}], strides: [%[[RS]]#1, %[[RS]]#2]
// CHECK-DAG: arith.constant 768 : i64
// CHECK: call @ember_cpu_sgemm_fused(%{{.*}}, %{{.*}}, %[[DV]],
func.func private @ember_cpu_sgemm_into(memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>)
func.func @reshaped_rows(%x: memref<?x?xf32>, %w: memref<?x?xf32>, %bias: memref<?xf32>, %r: memref<?x?x?xf32>, %d: memref<?x?x?xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %m = memref.dim %x, %c0 : memref<?x?xf32>
  %n = memref.dim %w, %c1 : memref<?x?xf32>
  %batch = memref.dim %d, %c0 : memref<?x?x?xf32>
  %seq = memref.dim %d, %c1 : memref<?x?x?xf32>
  %c = memref.alloc(%m, %n) {alignment = 64 : i64} : memref<?x?xf32>
  %xv = memref.cast %x : memref<?x?xf32> to memref<?x?xf32, strided<[?, ?], offset: ?>>
  %wv = memref.cast %w : memref<?x?xf32> to memref<?x?xf32, strided<[?, ?], offset: ?>>
  %cv = memref.cast %c : memref<?x?xf32> to memref<?x?xf32, strided<[?, ?], offset: ?>>
  call @ember_cpu_sgemm_into(%xv, %wv, %cv) : (memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>) -> ()
  %shape = memref.alloc() {alignment = 64 : i64} : memref<3xindex>
  memref.store %batch, %shape[%c0] : memref<3xindex>
  memref.store %seq, %shape[%c1] : memref<3xindex>
  memref.store %n, %shape[%c2] : memref<3xindex>
  %c3d = memref.reshape %c(%shape) : (memref<?x?xf32>, memref<3xindex>) -> memref<?x?x?xf32>
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d1, d2)>, affine_map<(d0, d1, d2) -> (d0, d1, d2)>, affine_map<(d0, d1, d2) -> (d2)>, affine_map<(d0, d1, d2) -> (d0, d1, d2)>],
                  iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%r, %c3d, %bias : memref<?x?x?xf32>, memref<?x?x?xf32>, memref<?xf32>) outs(%d : memref<?x?x?xf32>) {
  ^bb0(%in_r: f32, %in: f32, %b: f32, %out: f32):
    %0 = arith.addf %in_r, %in : f32
    %1 = arith.addf %0, %b : f32
    linalg.yield %1 : f32
  }
  return
}

// -----

// All-dynamic shapes (an imported model): C reaches the generic through a
// cast, a reshape and a cast; and the product accumulates (C += A * B) onto
// a buffer only zero-filled before it (matmuls of one input share the zero
// init), which is C = A * B: fused, the fill and the casts gone. The same
// accumulation onto a buffer filled with 1 is left alone.
// CHECK-LABEL: func @cast_reshape_zero_filled
// CHECK-NOT: linalg.fill
// CHECK-NOT: linalg.generic
// CHECK-NOT: memref.reshape
// CHECK: call @ember_cpu_sgemm_fused(
// CHECK-LABEL: func @filled_with_one
// CHECK: linalg.fill
// CHECK: call @ember_cpu_sgemm(
// CHECK: linalg.generic
func.func private @ember_cpu_sgemm(memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>)
func.func @cast_reshape_zero_filled(%x: memref<?x?xf32>, %w: memref<?x?xf32>, %bias: memref<768xf32>, %d: memref<?x4x768xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c4 = arith.constant 4 : index
  %c768 = arith.constant 768 : index
  %zero = arith.constant 0.0 : f32
  %m = memref.dim %x, %c0 : memref<?x?xf32>
  %batch = memref.dim %d, %c0 : memref<?x4x768xf32>
  %c = memref.alloc(%m) {alignment = 64 : i64} : memref<?x768xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<?x768xf32>)
  %xv = memref.cast %x : memref<?x?xf32> to memref<?x?xf32, strided<[?, ?], offset: ?>>
  %wv = memref.cast %w : memref<?x?xf32> to memref<?x?xf32, strided<[?, ?], offset: ?>>
  %cv = memref.cast %c : memref<?x768xf32> to memref<?x?xf32, strided<[?, ?], offset: ?>>
  call @ember_cpu_sgemm(%xv, %wv, %cv) : (memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>) -> ()
  %cd = memref.cast %c : memref<?x768xf32> to memref<?x?xf32>
  %shape = memref.alloc() {alignment = 64 : i64} : memref<3xindex>
  memref.store %batch, %shape[%c0] : memref<3xindex>
  memref.store %c4, %shape[%c1] : memref<3xindex>
  memref.store %c768, %shape[%c2] : memref<3xindex>
  %c3d = memref.reshape %cd(%shape) : (memref<?x?xf32>, memref<3xindex>) -> memref<?x?x?xf32>
  %cs = memref.cast %c3d : memref<?x?x?xf32> to memref<?x4x768xf32>
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d1, d2)>, affine_map<(d0, d1, d2) -> (d2)>, affine_map<(d0, d1, d2) -> (d0, d1, d2)>],
                  iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%cs, %bias : memref<?x4x768xf32>, memref<768xf32>) outs(%d : memref<?x4x768xf32>) {
  ^bb0(%in: f32, %b: f32, %out: f32):
    %0 = arith.addf %in, %b : f32
    linalg.yield %0 : f32
  }
  return
}
func.func @filled_with_one(%x: memref<8x20xf32>, %w: memref<20x768xf32>, %bias: memref<768xf32>, %d: memref<8x768xf32>) {
  %one = arith.constant 1.0 : f32
  %c = memref.alloc() {alignment = 64 : i64} : memref<8x768xf32>
  linalg.fill ins(%one : f32) outs(%c : memref<8x768xf32>)
  %xv = memref.cast %x : memref<8x20xf32> to memref<?x?xf32, strided<[?, ?], offset: ?>>
  %wv = memref.cast %w : memref<20x768xf32> to memref<?x?xf32, strided<[?, ?], offset: ?>>
  %cv = memref.cast %c : memref<8x768xf32> to memref<?x?xf32, strided<[?, ?], offset: ?>>
  call @ember_cpu_sgemm(%xv, %wv, %cv) : (memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>) -> ()
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d0, d1)>],
                  iterator_types = ["parallel", "parallel"]}
      ins(%c, %bias : memref<8x768xf32>, memref<768xf32>) outs(%d : memref<8x768xf32>) {
  ^bb0(%in: f32, %b: f32, %out: f32):
    %0 = arith.addf %in, %b : f32
    linalg.yield %0 : f32
  }
  return
}

// -----

// What must not fuse.
// CHECK-LABEL: func @not_fused
// C read twice (a training step keeps the pre-activation for the backward).
// CHECK: call @ember_cpu_sgemm_into(
// CHECK: linalg.generic
// CHECK: linalg.generic
// f64 (stays on OpenBLAS, unfused).
// CHECK: call @ember_cpu_dgemm_into(
// CHECK: linalg.generic
// A body that is not act(C + bias) + residual (C scaled).
// CHECK: call @ember_cpu_sgemm_into(
// CHECK: linalg.generic
// The output overlaps an operand (D is A).
// CHECK: call @ember_cpu_sgemm_into(
// CHECK: linalg.generic
// A written between the GEMM and the generic.
// CHECK: call @ember_cpu_sgemm_into(
// CHECK: linalg.fill
// CHECK: linalg.generic
// An activation on a residual that is the output itself.
// CHECK: call @ember_cpu_sgemm_into(
// CHECK: linalg.generic
// CHECK-NOT: ember_cpu_sgemm_fused
func.func private @ember_cpu_sgemm_into(memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>)
func.func private @ember_cpu_dgemm_into(memref<?x?xf64, strided<[?, ?], offset: ?>>, memref<?x?xf64, strided<[?, ?], offset: ?>>, memref<?x?xf64, strided<[?, ?], offset: ?>>)
func.func @not_fused(%a: memref<8x8xf32>, %w: memref<8x8xf32>, %bias: memref<8xf32>, %d: memref<8x8xf32>, %e: memref<8x8xf32>,
                     %x: memref<8x8xf64>, %y: memref<8x8xf64>, %z: memref<8x8xf64>) {
  %zero = arith.constant 0.000000e+00 : f32
  %two = arith.constant 2.000000e+00 : f32
  %av = memref.cast %a : memref<8x8xf32> to memref<?x?xf32, strided<[?, ?], offset: ?>>
  %wv = memref.cast %w : memref<8x8xf32> to memref<?x?xf32, strided<[?, ?], offset: ?>>
  %c = memref.alloc() : memref<8x8xf32>
  %cv = memref.cast %c : memref<8x8xf32> to memref<?x?xf32, strided<[?, ?], offset: ?>>
  call @ember_cpu_sgemm_into(%av, %wv, %cv) : (memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>) -> ()
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]}
      ins(%c : memref<8x8xf32>) outs(%d : memref<8x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %0 = arith.maximumf %in, %zero : f32
    linalg.yield %0 : f32
  }
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]}
      ins(%c : memref<8x8xf32>) outs(%e : memref<8x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %0 = arith.cmpf ogt, %in, %zero : f32
    %1 = arith.select %0, %in, %zero : f32
    linalg.yield %1 : f32
  }

  %xv = memref.cast %x : memref<8x8xf64> to memref<?x?xf64, strided<[?, ?], offset: ?>>
  %yv = memref.cast %y : memref<8x8xf64> to memref<?x?xf64, strided<[?, ?], offset: ?>>
  %c64 = memref.alloc() : memref<8x8xf64>
  %c64v = memref.cast %c64 : memref<8x8xf64> to memref<?x?xf64, strided<[?, ?], offset: ?>>
  call @ember_cpu_dgemm_into(%xv, %yv, %c64v) : (memref<?x?xf64, strided<[?, ?], offset: ?>>, memref<?x?xf64, strided<[?, ?], offset: ?>>, memref<?x?xf64, strided<[?, ?], offset: ?>>) -> ()
  %zero64 = arith.constant 0.000000e+00 : f64
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]}
      ins(%c64 : memref<8x8xf64>) outs(%z : memref<8x8xf64>) {
  ^bb0(%in: f64, %out: f64):
    %0 = arith.maximumf %in, %zero64 : f64
    linalg.yield %0 : f64
  }

  %c2 = memref.alloc() : memref<8x8xf32>
  %c2v = memref.cast %c2 : memref<8x8xf32> to memref<?x?xf32, strided<[?, ?], offset: ?>>
  call @ember_cpu_sgemm_into(%av, %wv, %c2v) : (memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>) -> ()
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]}
      ins(%c2 : memref<8x8xf32>) outs(%d : memref<8x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %0 = arith.mulf %in, %two : f32
    linalg.yield %0 : f32
  }

  %c3 = memref.alloc() : memref<8x8xf32>
  %c3v = memref.cast %c3 : memref<8x8xf32> to memref<?x?xf32, strided<[?, ?], offset: ?>>
  call @ember_cpu_sgemm_into(%av, %wv, %c3v) : (memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>) -> ()
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]}
      ins(%c3 : memref<8x8xf32>) outs(%a : memref<8x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %0 = math.tanh %in : f32
    linalg.yield %0 : f32
  }

  %c4 = memref.alloc() : memref<8x8xf32>
  %c4v = memref.cast %c4 : memref<8x8xf32> to memref<?x?xf32, strided<[?, ?], offset: ?>>
  call @ember_cpu_sgemm_into(%av, %wv, %c4v) : (memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>) -> ()
  linalg.fill ins(%zero : f32) outs(%w : memref<8x8xf32>)
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]}
      ins(%c4 : memref<8x8xf32>) outs(%d : memref<8x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %0 = math.tanh %in : f32
    linalg.yield %0 : f32
  }

  %c5 = memref.alloc() : memref<8x8xf32>
  %c5v = memref.cast %c5 : memref<8x8xf32> to memref<?x?xf32, strided<[?, ?], offset: ?>>
  call @ember_cpu_sgemm_into(%av, %wv, %c5v) : (memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>) -> ()
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]}
      ins(%c5, %e : memref<8x8xf32>, memref<8x8xf32>) outs(%e : memref<8x8xf32>) {
  ^bb0(%in: f32, %r: f32, %out: f32):
    %0 = math.tanh %in : f32
    %1 = arith.addf %0, %r : f32
    linalg.yield %1 : f32
  }
  return
}
