// RUN: ember-opt %s -split-input-file -ember-fuse-conv-epilogue | FileCheck %s

// conv2d + bias per channel + relu, as the CPU pipeline leaves it after
// bufferization (the generic reads y through the collapse of its unit
// dim): one fused call writing D through a 5-D view, the bias a view with
// strides [0, s, 0, 0, 0]; flags relu 1 | bias 256. y's buffer goes.
// CHECK-LABEL: func @conv_bias_relu
// CHECK-SAME: (%[[X:.*]]: memref<?x8x6x6xf32>, %[[W:.*]]: memref<8x8x3x3xf32>, %[[B:.*]]: memref<1x8x1x1xf32>, %[[D:.*]]: memref<?x8x6x6xf32>)
// CHECK-NOT: memref.alloc
// CHECK-NOT: linalg.generic
// CHECK-DAG: %[[BBASE:.*]], %[[BOFF:.*]], %[[BSIZES:.*]]:4, %[[BSTRIDES:.*]]:4 = memref.extract_strided_metadata %[[B]]
// CHECK-DAG: %[[BV:.*]] = memref.reinterpret_cast %[[BBASE]] to offset: [%[[BOFF]]], sizes: [%{{.*}}, 8, 1, 6, 6], strides: [0, %[[BSTRIDES]]#1, 0, 0, 0]
// CHECK-DAG: %[[DBASE:.*]], %[[DOFF:.*]], %[[DSIZES:.*]]:4, %[[DSTRIDES:.*]]:4 = memref.extract_strided_metadata %[[D]]
// CHECK-DAG: %[[DV:.*]] = memref.reinterpret_cast %[[DBASE]] to offset: [%[[DOFF]]], sizes: [%{{.*}}, 8, 1, 6, 6], strides: [%[[DSTRIDES]]#0, %[[DSTRIDES]]#1, 0, %[[DSTRIDES]]#2, %[[DSTRIDES]]#3]
// CHECK-DAG: %[[FLAGS:.*]] = arith.constant 257 : i64
// CHECK: call @ember_cpu_conv_fused_f32(%{{.*}}, %{{.*}}, %[[DV]], %[[BV]], %[[DV]], %c1_i64, %c1_i64, %c1_i64, %c0_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %[[FLAGS]])
// CHECK-NOT: call @ember_cpu_conv_f32(
func.func private @ember_cpu_conv_f32(memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64)
func.func @conv_bias_relu(%x: memref<?x8x6x6xf32>, %w: memref<8x8x3x3xf32>, %b: memref<1x8x1x1xf32>, %d: memref<?x8x6x6xf32>) {
  %c0 = arith.constant 0 : index
  %c0_i64 = arith.constant 0 : i64
  %c1_i64 = arith.constant 1 : i64
  %zero = arith.constant 0.000000e+00 : f32
  %n = memref.dim %x, %c0 : memref<?x8x6x6xf32>
  %y = memref.alloc(%n) : memref<?x8x1x6x6xf32>
  %yr = memref.cast %y : memref<?x8x1x6x6xf32> to memref<?x?x1x?x?xf32>
  %yc = memref.cast %y : memref<?x8x1x6x6xf32> to memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>
  %x5 = memref.expand_shape %x [[0], [1, 2], [3], [4]] output_shape [%n, 8, 1, 6, 6] : memref<?x8x6x6xf32> into memref<?x8x1x6x6xf32>
  %xc = memref.cast %x5 : memref<?x8x1x6x6xf32> to memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>
  %w5 = memref.expand_shape %w [[0], [1, 2], [3], [4]] output_shape [8, 8, 1, 3, 3] : memref<8x8x3x3xf32> into memref<8x8x1x3x3xf32>
  %wc = memref.cast %w5 : memref<8x8x1x3x3xf32> to memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>
  call @ember_cpu_conv_f32(%xc, %wc, %yc, %c1_i64, %c1_i64, %c1_i64, %c0_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64) : (memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64) -> ()
  %y4 = memref.collapse_shape %yr [[0], [1, 2], [3], [4]] : memref<?x?x1x?x?xf32> into memref<?x?x?x?xf32>
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (0, d1, 0, 0)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>],
                  iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%y4, %b : memref<?x?x?x?xf32>, memref<1x8x1x1xf32>) outs(%d : memref<?x8x6x6xf32>) {
  ^bb0(%in: f32, %bias: f32, %out: f32):
    %0 = arith.addf %in, %bias : f32
    %1 = arith.maximumf %0, %zero : f32
    linalg.yield %1 : f32
  }
  return
}

// -----

// A ResNet block's relu(conv + bias + shortcut), the sum in any order: the
// residual goes in before the activation (relu 1 | bias 256 | residual 512
// | residual first 2048 = 2817).
// CHECK-LABEL: func @resnet_block
// CHECK-NOT: linalg.generic
// CHECK: %[[FLAGS:.*]] = arith.constant 2817 : i64
// CHECK: call @ember_cpu_conv_fused_f32({{.*}}, %[[FLAGS]])
func.func private @ember_cpu_conv_f32(memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64)
func.func @resnet_block(%xc: memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, %wc: memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, %b: memref<8xf32>, %r: memref<2x8x6x6xf32>, %d: memref<2x8x6x6xf32>) {
  %c1_i64 = arith.constant 1 : i64
  %zero = arith.constant 0.000000e+00 : f32
  %y = memref.alloc() : memref<2x8x1x6x6xf32>
  %yc = memref.cast %y : memref<2x8x1x6x6xf32> to memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>
  call @ember_cpu_conv_f32(%xc, %wc, %yc, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64) : (memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64) -> ()
  %y4 = memref.collapse_shape %y [[0], [1, 2], [3], [4]] : memref<2x8x1x6x6xf32> into memref<2x8x6x6xf32>
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d1)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>],
                  iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%y4, %b, %r : memref<2x8x6x6xf32>, memref<8xf32>, memref<2x8x6x6xf32>) outs(%d : memref<2x8x6x6xf32>) {
  ^bb0(%in: f32, %bias: f32, %res: f32, %out: f32):
    %0 = arith.addf %bias, %in : f32
    %1 = arith.addf %res, %0 : f32
    %2 = arith.maximumf %1, %zero : f32
    linalg.yield %2 : f32
  }
  return
}

// -----

// hardswish as Ember's op lowers it, x * clamp(x + 3, 0, 6) / 6, on a 1-D
// convolution's output (two unit dims); activation 7 | bias 256 = 263.
// CHECK-LABEL: func @conv1d_hardswish
// CHECK-NOT: linalg.generic
// CHECK: memref.reinterpret_cast {{.*}} sizes: [2, 8, 1, 1, 6], strides: [0, %{{.*}}, 0, 0, 0]
// CHECK: %[[FLAGS:.*]] = arith.constant 263 : i64
// CHECK: call @ember_cpu_conv_fused_f32({{.*}}, %[[FLAGS]])
func.func private @ember_cpu_conv_f32(memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64)
func.func @conv1d_hardswish(%xc: memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, %wc: memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, %b: memref<8x1xf32>, %d: memref<2x8x6xf32>) {
  %c1_i64 = arith.constant 1 : i64
  %zero = arith.constant 0.000000e+00 : f32
  %three = arith.constant 3.000000e+00 : f32
  %six = arith.constant 6.000000e+00 : f32
  %y = memref.alloc() : memref<2x8x1x1x6xf32>
  %yc = memref.cast %y : memref<2x8x1x1x6xf32> to memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>
  call @ember_cpu_conv_f32(%xc, %wc, %yc, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64) : (memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64) -> ()
  %y3 = memref.collapse_shape %y [[0], [1, 2, 3], [4]] : memref<2x8x1x1x6xf32> into memref<2x8x6xf32>
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d1, d2)>, affine_map<(d0, d1, d2) -> (d1, 0)>, affine_map<(d0, d1, d2) -> (d0, d1, d2)>],
                  iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%y3, %b : memref<2x8x6xf32>, memref<8x1xf32>) outs(%d : memref<2x8x6xf32>) {
  ^bb0(%in: f32, %bias: f32, %out: f32):
    %0 = arith.addf %in, %bias : f32
    %1 = arith.addf %0, %three : f32
    %2 = arith.maximumf %1, %zero : f32
    %3 = arith.minimumf %2, %six : f32
    %4 = arith.mulf %0, %3 : f32
    %5 = arith.divf %4, %six : f32
    linalg.yield %5 : f32
  }
  return
}

// -----

// A squeeze-and-excitation block's scale, D = hardsigmoid(y + bias) * x
// with y [N, C, 1, 1] read through a broadcast: hardsigmoid(y + bias)
// moves into the call (hardsigmoid 8 | bias 256 = 264), which writes it
// into y's buffer; the generic only multiplies (y's buffer stays, the bias
// is no longer read by the body).
// CHECK-LABEL: func @squeeze_excitation
// CHECK-SAME: (%{{.*}}: memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, %{{.*}}: memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, %[[B:.*]]: memref<?x1x1xf32>, %[[X:.*]]: memref<?x16x5x5xf32>, %[[D:.*]]: memref<?x16x5x5xf32>)
// CHECK: %[[Y:.*]] = memref.alloc(%{{.*}}) : memref<?x16x1x1x1xf32>
// CHECK-NOT: call @ember_cpu_conv_f32(
// CHECK: %[[Y4:.*]] = memref.cast %{{.*}} : memref<?x?x?x?xf32> to memref<?x?x1x1xf32>
// CHECK: %[[YBASE:.*]], %[[YOFF:.*]], %[[YSIZES:.*]]:4, %[[YSTRIDES:.*]]:4 = memref.extract_strided_metadata %[[Y4]]
// CHECK: %[[YV:.*]] = memref.reinterpret_cast %[[YBASE]] to offset: [%[[YOFF]]], sizes: [%{{.*}}, %{{.*}}, 1, 1, 1], strides: [%[[YSTRIDES]]#0, %[[YSTRIDES]]#1, 0, %[[YSTRIDES]]#2, %[[YSTRIDES]]#3]
// CHECK: %[[BBASE:.*]], %[[BOFF:.*]], %[[BSIZES:.*]]:3, %[[BSTRIDES:.*]]:3 = memref.extract_strided_metadata %[[B]]
// CHECK: %[[BV:.*]] = memref.reinterpret_cast %[[BBASE]] to offset: [%[[BOFF]]], sizes: [%{{.*}}, %{{.*}}, 1, 1, 1], strides: [0, %[[BSTRIDES]]#0, 0, 0, 0]
// CHECK: %[[FLAGS:.*]] = arith.constant 264 : i64
// CHECK: call @ember_cpu_conv_fused_f32(%{{.*}}, %{{.*}}, %[[YV]], %[[BV]], %[[YV]], {{.*}}, %[[FLAGS]])
// CHECK: linalg.generic
// CHECK-SAME: ins(%[[Y4]], %[[B]], %[[X]] : memref<?x?x1x1xf32>, memref<?x1x1xf32>, memref<?x16x5x5xf32>) outs(%[[D]] : memref<?x16x5x5xf32>)
// CHECK-NEXT: ^bb0(%[[S:[^:]+]]: f32, %{{[^:]+}}: f32, %[[XE:[^:]+]]: f32, %{{[^:]+}}: f32):
// CHECK-NEXT: %[[P:.*]] = arith.mulf %[[S]], %[[XE]] : f32
// CHECK-NEXT: linalg.yield %[[P]] : f32
func.func private @ember_cpu_conv_f32(memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64)
func.func @squeeze_excitation(%sc: memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, %wc: memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, %b: memref<?x1x1xf32>, %x: memref<?x16x5x5xf32>, %d: memref<?x16x5x5xf32>) {
  %c0 = arith.constant 0 : index
  %c0_i64 = arith.constant 0 : i64
  %c1_i64 = arith.constant 1 : i64
  %zero = arith.constant 0.000000e+00 : f32
  %one = arith.constant 1.000000e+00 : f32
  %half = arith.constant 5.000000e-01 : f32
  %six = arith.constant 6.000000e+00 : f32
  %n = memref.dim %x, %c0 : memref<?x16x5x5xf32>
  %y = memref.alloc(%n) : memref<?x16x1x1x1xf32>
  %yr = memref.cast %y : memref<?x16x1x1x1xf32> to memref<?x?x1x?x?xf32>
  %yc = memref.cast %y : memref<?x16x1x1x1xf32> to memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>
  call @ember_cpu_conv_f32(%sc, %wc, %yc, %c1_i64, %c1_i64, %c1_i64, %c0_i64, %c0_i64, %c0_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64) : (memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64) -> ()
  %y4 = memref.collapse_shape %yr [[0], [1, 2], [3], [4]] : memref<?x?x1x?x?xf32> into memref<?x?x?x?xf32>
  %y4c = memref.cast %y4 : memref<?x?x?x?xf32> to memref<?x?x1x1xf32>
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, 0, 0)>, affine_map<(d0, d1, d2, d3) -> (d1, 0, 0)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>],
                  iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%y4c, %b, %x : memref<?x?x1x1xf32>, memref<?x1x1xf32>, memref<?x16x5x5xf32>) outs(%d : memref<?x16x5x5xf32>) {
  ^bb0(%in: f32, %bias: f32, %xe: f32, %out: f32):
    %0 = arith.addf %in, %bias : f32
    %1 = arith.divf %0, %six : f32
    %2 = arith.addf %1, %half : f32
    %3 = arith.maximumf %2, %zero : f32
    %4 = arith.minimumf %3, %one : f32
    %5 = arith.mulf %4, %xe : f32
    linalg.yield %5 : f32
  }
  return
}

// -----

// The same generic when y is also read outside the activation (here
// hardsigmoid(y + bias) * y): nothing moves.
// CHECK-LABEL: func @broadcast_read_twice
// CHECK: call @ember_cpu_conv_f32(
// CHECK-NOT: call @ember_cpu_conv_fused_f32(
// CHECK: arith.divf
func.func private @ember_cpu_conv_f32(memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64)
func.func @broadcast_read_twice(%sc: memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, %wc: memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, %b: memref<?x1x1xf32>, %x: memref<?x16x5x5xf32>, %d: memref<?x16x5x5xf32>) {
  %c0 = arith.constant 0 : index
  %c0_i64 = arith.constant 0 : i64
  %c1_i64 = arith.constant 1 : i64
  %zero = arith.constant 0.000000e+00 : f32
  %one = arith.constant 1.000000e+00 : f32
  %half = arith.constant 5.000000e-01 : f32
  %six = arith.constant 6.000000e+00 : f32
  %n = memref.dim %x, %c0 : memref<?x16x5x5xf32>
  %y = memref.alloc(%n) : memref<?x16x1x1x1xf32>
  %yr = memref.cast %y : memref<?x16x1x1x1xf32> to memref<?x?x1x?x?xf32>
  %yc = memref.cast %y : memref<?x16x1x1x1xf32> to memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>
  call @ember_cpu_conv_f32(%sc, %wc, %yc, %c1_i64, %c1_i64, %c1_i64, %c0_i64, %c0_i64, %c0_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64) : (memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64) -> ()
  %y4 = memref.collapse_shape %yr [[0], [1, 2], [3], [4]] : memref<?x?x1x?x?xf32> into memref<?x?x?x?xf32>
  %y4c = memref.cast %y4 : memref<?x?x?x?xf32> to memref<?x?x1x1xf32>
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, 0, 0)>, affine_map<(d0, d1, d2, d3) -> (d1, 0, 0)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>],
                  iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%y4c, %b, %x : memref<?x?x1x1xf32>, memref<?x1x1xf32>, memref<?x16x5x5xf32>) outs(%d : memref<?x16x5x5xf32>) {
  ^bb0(%in: f32, %bias: f32, %xe: f32, %out: f32):
    %0 = arith.addf %in, %bias : f32
    %1 = arith.divf %0, %six : f32
    %2 = arith.addf %1, %half : f32
    %3 = arith.maximumf %2, %zero : f32
    %4 = arith.minimumf %3, %one : f32
    %5 = arith.mulf %4, %in : f32
    linalg.yield %5 : f32
  }
  return
}

// -----

// Not fused: y is also read by another op (a training step keeps the
// pre-activation for the backward), or the body computes something else.
// CHECK-LABEL: func @not_fused
// CHECK-COUNT-2: call @ember_cpu_conv_f32(
// CHECK-NOT: call @ember_cpu_conv_fused_f32
func.func private @ember_cpu_conv_f32(memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64)
func.func @not_fused(%xc: memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, %wc: memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, %b: memref<8xf32>, %d: memref<2x8x6x6xf32>, %e: memref<2x8x6x6xf32>) {
  %c1_i64 = arith.constant 1 : i64
  %zero = arith.constant 0.000000e+00 : f32
  %y = memref.alloc() : memref<2x8x1x6x6xf32>
  %yc = memref.cast %y : memref<2x8x1x6x6xf32> to memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>
  call @ember_cpu_conv_f32(%xc, %wc, %yc, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64) : (memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64) -> ()
  %y4 = memref.collapse_shape %y [[0], [1, 2], [3], [4]] : memref<2x8x1x6x6xf32> into memref<2x8x6x6xf32>
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d1)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>],
                  iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%y4, %b : memref<2x8x6x6xf32>, memref<8xf32>) outs(%d : memref<2x8x6x6xf32>) {
  ^bb0(%in: f32, %bias: f32, %out: f32):
    %0 = arith.addf %in, %bias : f32
    %1 = arith.maximumf %0, %zero : f32
    linalg.yield %1 : f32
  }
  memref.copy %y4, %e : memref<2x8x6x6xf32> to memref<2x8x6x6xf32>
  %z = memref.alloc() : memref<2x8x1x6x6xf32>
  %zc = memref.cast %z : memref<2x8x1x6x6xf32> to memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>
  call @ember_cpu_conv_f32(%xc, %wc, %zc, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64) : (memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64) -> ()
  %z4 = memref.collapse_shape %z [[0], [1, 2], [3], [4]] : memref<2x8x1x6x6xf32> into memref<2x8x6x6xf32>
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d1)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>],
                  iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%z4, %b : memref<2x8x6x6xf32>, memref<8xf32>) outs(%d : memref<2x8x6x6xf32>) {
  ^bb0(%in: f32, %bias: f32, %out: f32):
    %0 = arith.mulf %in, %bias : f32
    linalg.yield %0 : f32
  }
  return
}

// -----

// A downsampling ResNet block's end, relu(conv2 + b2 + downsample + bd):
// the later convolution (the downsample) first takes its own bias, in
// place (flags bias 256), right before the generic; the earlier one then
// fuses relu with b2 and the downsample's buffer as its residual (relu 1 |
// bias 256 | residual 512 | residual first 2048 = 2817). No generic stays.
// CHECK-LABEL: func @downsample_block
// CHECK-NOT: linalg.generic
// CHECK: %[[Y2:.*]] = memref.alloc() : memref<2x8x1x3x3xf32>
// CHECK: %[[Y2C:.*]] = memref.cast %[[Y2]]
// CHECK-DAG: %[[BIAS:.*]] = arith.constant 256 : i64
// CHECK: call @ember_cpu_conv_fused_f32(%arg2, %arg3, %[[Y2C]], %{{.*}}, %[[Y2C]], {{.*}}, %[[BIAS]])
// CHECK: %[[FLAGS:.*]] = arith.constant 2817 : i64
// CHECK: call @ember_cpu_conv_fused_f32(%arg0, %arg1, {{.*}}, %[[FLAGS]])
// CHECK-NOT: call @ember_cpu_conv_f32(
func.func private @ember_cpu_conv_f32(memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64)
func.func @downsample_block(%xc: memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, %wc: memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, %xd: memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, %wd: memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, %b: memref<8xf32>, %bd: memref<8xf32>, %d: memref<2x8x3x3xf32>) {
  %c1_i64 = arith.constant 1 : i64
  %c2_i64 = arith.constant 2 : i64
  %zero = arith.constant 0.000000e+00 : f32
  %y = memref.alloc() : memref<2x8x1x3x3xf32>
  %yc = memref.cast %y : memref<2x8x1x3x3xf32> to memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>
  call @ember_cpu_conv_f32(%xc, %wc, %yc, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64) : (memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64) -> ()
  %y2 = memref.alloc() : memref<2x8x1x3x3xf32>
  %y2c = memref.cast %y2 : memref<2x8x1x3x3xf32> to memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>
  call @ember_cpu_conv_f32(%xd, %wd, %y2c, %c1_i64, %c2_i64, %c2_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64) : (memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64) -> ()
  %y4 = memref.collapse_shape %y [[0], [1, 2], [3], [4]] : memref<2x8x1x3x3xf32> into memref<2x8x3x3xf32>
  %y24 = memref.collapse_shape %y2 [[0], [1, 2], [3], [4]] : memref<2x8x1x3x3xf32> into memref<2x8x3x3xf32>
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d1)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d1)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>],
                  iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%y4, %b, %y24, %bd : memref<2x8x3x3xf32>, memref<8xf32>, memref<2x8x3x3xf32>, memref<8xf32>) outs(%d : memref<2x8x3x3xf32>) {
  ^bb0(%in: f32, %bias: f32, %in2: f32, %bias2: f32, %out: f32):
    %0 = arith.addf %in, %bias : f32
    %1 = arith.addf %in2, %bias2 : f32
    %2 = arith.addf %0, %1 : f32
    %3 = arith.maximumf %2, %zero : f32
    linalg.yield %3 : f32
  }
  return
}

// -----

// A program that returns the convolution's result (no epilogue): the call
// writes the caller's buffer %d through a 5-D view; the copy and y's
// buffer go.
// CHECK-LABEL: func @returned_conv
// CHECK-SAME: %[[D:[a-z0-9]+]]: memref<?x8x6x6xf32>)
// CHECK-NOT: memref.alloc
// CHECK: %[[BASE:.*]], %[[OFF:.*]], %[[SIZES:.*]]:4, %[[STRIDES:.*]]:4 = memref.extract_strided_metadata %[[D]]
// CHECK: %[[DV:.*]] = memref.reinterpret_cast %[[BASE]] to offset: [%[[OFF]]], sizes: [%{{.*}}, 8, 1, 6, 6], strides: [%[[STRIDES]]#0, %[[STRIDES]]#1, 0, %[[STRIDES]]#2, %[[STRIDES]]#3]
// CHECK: call @ember_cpu_conv_f32(%{{.*}}, %{{.*}}, %[[DV]],
// CHECK-NOT: memref.copy
func.func private @ember_cpu_conv_f32(memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64)
func.func @returned_conv(%xc: memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, %wc: memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, %n: index, %d: memref<?x8x6x6xf32>) {
  %c0_i64 = arith.constant 0 : i64
  %c1_i64 = arith.constant 1 : i64
  %y = memref.alloc(%n) : memref<?x8x1x6x6xf32>
  %yr = memref.cast %y : memref<?x8x1x6x6xf32> to memref<?x?x1x?x?xf32>
  %yc = memref.cast %y : memref<?x8x1x6x6xf32> to memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>
  call @ember_cpu_conv_f32(%xc, %wc, %yc, %c1_i64, %c1_i64, %c1_i64, %c0_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64) : (memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64) -> ()
  %y4 = memref.collapse_shape %yr [[0], [1, 2], [3], [4]] : memref<?x?x1x?x?xf32> into memref<?x?x?x?xf32>
  %y4s = memref.cast %y4 : memref<?x?x?x?xf32> to memref<?x8x6x6xf32>
  memref.copy %y4s, %d : memref<?x8x6x6xf32> to memref<?x8x6x6xf32>
  return
}

// -----

// A squeeze-and-excitation block's pool over a fused depthwise call's D
// (as the CPU pipeline leaves it): sum zeroed, summed over a reshape of
// D's buffer to [N, C, pixels], divided by the 25 pixels into mean. The
// call writes mean itself through a 5-D view of D's shape (stride 0 along
// the pixel dims), mean's allocation moves up to it; the fill, both
// generics and sum go. D stays for its other reader.
// CHECK-LABEL: func @pool_into_conv
// CHECK: %[[D:.*]] = memref.alloc(%[[N:.*]]) {alignment = 64 : i64} : memref<?x8x5x5xf32>
// CHECK: %[[DV:.*]] = memref.reinterpret_cast
// CHECK: %[[MEAN:.*]] = memref.alloc(%[[N]]) {alignment = 64 : i64} : memref<?x8xf32>
// CHECK: %[[MBASE:.*]], %[[MOFF:.*]], %[[MSIZES:.*]]:2, %[[MSTRIDES:.*]]:2 = memref.extract_strided_metadata %[[MEAN]]
// CHECK: %[[MV:.*]] = memref.reinterpret_cast %[[MBASE]] to offset: [%[[MOFF]]], sizes: [%[[N]], 8, 1, 5, 5], strides: [%[[MSTRIDES]]#0, %[[MSTRIDES]]#1, 0, 0, 0]
// CHECK: call @ember_cpu_conv_fused_mean_f32(%{{.*}}, %{{.*}}, %[[DV]], %{{.*}}, %[[DV]], %[[MV]], {{.*}}, %c264_i64)
// CHECK-NOT: linalg.fill
// CHECK-NOT: arith.divf
// CHECK: linalg.generic
// CHECK-SAME: ins(%[[MEAN]], %[[D]] : memref<?x8xf32>, memref<?x8x5x5xf32>)
#pool_in = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#pool_out = affine_map<(d0, d1, d2) -> (d0, d1)>
#id2 = affine_map<(d0, d1) -> (d0, d1)>
#scale_s = affine_map<(d0, d1, d2, d3) -> (d0, d1)>
#scale_x = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
func.func private @ember_cpu_conv_fused_f32(memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64)
func.func @pool_into_conv(%x: memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, %w: memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, %bv: memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, %n: index, %out: memref<?x8x5x5xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c8 = arith.constant 8 : index
  %c25 = arith.constant 25 : index
  %c0_i64 = arith.constant 0 : i64
  %c1_i64 = arith.constant 1 : i64
  %c8_i64 = arith.constant 8 : i64
  %c264_i64 = arith.constant 264 : i64
  %zero = arith.constant 0.000000e+00 : f32
  %pixels = arith.constant 2.500000e+01 : f32
  %d = memref.alloc(%n) {alignment = 64 : i64} : memref<?x8x5x5xf32>
  %base, %offset, %sizes:4, %strides:4 = memref.extract_strided_metadata %d : memref<?x8x5x5xf32> -> memref<f32>, index, index, index, index, index, index, index, index, index
  %dv = memref.reinterpret_cast %base to offset: [%offset], sizes: [%n, 8, 1, 5, 5], strides: [%strides#0, %strides#1, 0, %strides#2, %strides#3] : memref<f32> to memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>
  call @ember_cpu_conv_fused_f32(%x, %w, %dv, %bv, %dv, %c1_i64, %c1_i64, %c1_i64, %c0_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c8_i64, %c264_i64) : (memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64) -> ()
  %dc = memref.cast %d : memref<?x8x5x5xf32> to memref<?x?x?x?xf32>
  %shape = memref.alloc() {alignment = 64 : i64} : memref<3xindex>
  memref.store %n, %shape[%c0] : memref<3xindex>
  memref.store %c8, %shape[%c1] : memref<3xindex>
  memref.store %c25, %shape[%c2] : memref<3xindex>
  %flat = memref.reshape %dc(%shape) : (memref<?x?x?x?xf32>, memref<3xindex>) -> memref<?x?x?xf32>
  %flatc = memref.cast %flat : memref<?x?x?xf32> to memref<?x8x?xf32>
  %mean = memref.alloc(%n) {alignment = 64 : i64} : memref<?x8xf32>
  %sum = memref.alloc(%n) {alignment = 64 : i64} : memref<?x8xf32>
  linalg.fill ins(%zero : f32) outs(%sum : memref<?x8xf32>)
  linalg.generic {indexing_maps = [#pool_in, #pool_out], iterator_types = ["parallel", "parallel", "reduction"]} ins(%flatc : memref<?x8x?xf32>) outs(%sum : memref<?x8xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %0 = arith.addf %in, %acc fastmath<reassoc> : f32
    linalg.yield %0 : f32
  }
  linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]} ins(%sum : memref<?x8xf32>) outs(%mean : memref<?x8xf32>) {
  ^bb0(%in: f32, %o: f32):
    %0 = arith.divf %in, %pixels : f32
    linalg.yield %0 : f32
  }
  linalg.generic {indexing_maps = [#scale_s, #scale_x, #scale_x], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%mean, %d : memref<?x8xf32>, memref<?x8x5x5xf32>) outs(%out : memref<?x8x5x5xf32>) {
  ^bb0(%s: f32, %v: f32, %o: f32):
    %0 = arith.mulf %s, %v : f32
    linalg.yield %0 : f32
  }
  return
}

// -----

// The same pool divided by a count other than D's pixels (not a mean of
// the planes): nothing changes.
// CHECK-LABEL: func @pool_other_divisor
// CHECK: call @ember_cpu_conv_fused_f32(
// CHECK: linalg.fill
// CHECK: arith.divf
// CHECK-NOT: ember_cpu_conv_fused_mean_f32
#pool_in = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#pool_out = affine_map<(d0, d1, d2) -> (d0, d1)>
#id2 = affine_map<(d0, d1) -> (d0, d1)>
func.func private @ember_cpu_conv_fused_f32(memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64)
func.func @pool_other_divisor(%x: memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, %w: memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, %bv: memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, %n: index, %mean: memref<?x8xf32>) {
  %c0_i64 = arith.constant 0 : i64
  %c1_i64 = arith.constant 1 : i64
  %c8_i64 = arith.constant 8 : i64
  %c264_i64 = arith.constant 264 : i64
  %zero = arith.constant 0.000000e+00 : f32
  %count = arith.constant 4.900000e+01 : f32
  %d = memref.alloc(%n) {alignment = 64 : i64} : memref<?x8x5x5xf32>
  %base, %offset, %sizes:4, %strides:4 = memref.extract_strided_metadata %d : memref<?x8x5x5xf32> -> memref<f32>, index, index, index, index, index, index, index, index, index
  %dv = memref.reinterpret_cast %base to offset: [%offset], sizes: [%n, 8, 1, 5, 5], strides: [%strides#0, %strides#1, 0, %strides#2, %strides#3] : memref<f32> to memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>
  call @ember_cpu_conv_fused_f32(%x, %w, %dv, %bv, %dv, %c1_i64, %c1_i64, %c1_i64, %c0_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c8_i64, %c264_i64) : (memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64) -> ()
  %flat = memref.collapse_shape %d [[0], [1], [2, 3]] : memref<?x8x5x5xf32> into memref<?x8x25xf32>
  %sum = memref.alloc(%n) {alignment = 64 : i64} : memref<?x8xf32>
  linalg.fill ins(%zero : f32) outs(%sum : memref<?x8xf32>)
  linalg.generic {indexing_maps = [#pool_in, #pool_out], iterator_types = ["parallel", "parallel", "reduction"]} ins(%flat : memref<?x8x25xf32>) outs(%sum : memref<?x8xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %0 = arith.addf %in, %acc : f32
    linalg.yield %0 : f32
  }
  linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]} ins(%sum : memref<?x8xf32>) outs(%mean : memref<?x8xf32>) {
  ^bb0(%in: f32, %o: f32):
    %0 = arith.divf %in, %count : f32
    linalg.yield %0 : f32
  }
  return
}

// -----

// A squeeze-and-excitation block's end xs = x * s (s [N, C, 1, 1] read
// through a broadcast; the bias input left unread by the prefix fusion),
// read only by the projection conv, whose bias and residual fuse as usual
// (bias 256 | residual 512 = 768): the call reads x and s instead
// (ember_cpu_conv_fused_scaled_f32, s a 5-D view of x's shape with stride 0
// along the pixel dims); the product, its generic and xs's buffer go.
// CHECK-LABEL: func @scale_into_conv
// CHECK-SAME: (%[[S:[^:]*]]: memref<?x16x1x1xf32>, %{{[^:]*}}: memref<?x1x1xf32>, %[[X:[^:]*]]: memref<?x16x5x5xf32>,
// CHECK-NOT: linalg.generic
// CHECK-NOT: memref.alloc(%{{.*}}) : memref<?x16x5x5xf32>
// CHECK: %[[XBASE:.*]], %[[XOFF:.*]], %[[XSIZES:.*]]:4, %[[XSTRIDES:.*]]:4 = memref.extract_strided_metadata %[[X]]
// CHECK: %[[XV:.*]] = memref.reinterpret_cast %[[XBASE]] to offset: [%[[XOFF]]], sizes: [%{{.*}}, 16, 1, 5, 5], strides: [%[[XSTRIDES]]#0, %[[XSTRIDES]]#1, 0, %[[XSTRIDES]]#2, %[[XSTRIDES]]#3]
// CHECK: %[[SBASE:.*]], %[[SOFF:.*]], %[[SSIZES:.*]]:4, %[[SSTRIDES:.*]]:4 = memref.extract_strided_metadata %[[S]]
// CHECK: %[[SV:.*]] = memref.reinterpret_cast %[[SBASE]] to offset: [%[[SOFF]]], sizes: [%{{.*}}, 16, 1, 5, 5], strides: [%[[SSTRIDES]]#0, %[[SSTRIDES]]#1, 0, 0, 0]
// CHECK: call @ember_cpu_conv_fused_scaled_f32(%[[XV]], %{{.*}}, %[[DV:[^,]*]], %{{[^,]*}}, %{{[^,]*}}, %[[SV]], %c1_i64, %c1_i64, %c1_i64, %c0_i64, %c0_i64, %c0_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c768_i64)
// CHECK-NOT: call @ember_cpu_conv_f
// CHECK-NOT: linalg.generic
func.func private @ember_cpu_conv_f32(memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64)
func.func @scale_into_conv(%s: memref<?x16x1x1xf32>, %sb: memref<?x1x1xf32>, %x: memref<?x16x5x5xf32>, %wc: memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, %b: memref<8xf32>, %r: memref<?x8x5x5xf32>, %d: memref<?x8x5x5xf32>) {
  %c0 = arith.constant 0 : index
  %c0_i64 = arith.constant 0 : i64
  %c1_i64 = arith.constant 1 : i64
  %n = memref.dim %x, %c0 : memref<?x16x5x5xf32>
  %xs = memref.alloc(%n) : memref<?x16x5x5xf32>
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, 0, 0)>, affine_map<(d0, d1, d2, d3) -> (d1, 0, 0)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>],
                  iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%s, %sb, %x : memref<?x16x1x1xf32>, memref<?x1x1xf32>, memref<?x16x5x5xf32>) outs(%xs : memref<?x16x5x5xf32>) {
  ^bb0(%se: f32, %unread: f32, %xe: f32, %out: f32):
    %0 = arith.mulf %se, %xe : f32
    linalg.yield %0 : f32
  }
  %x5 = memref.expand_shape %xs [[0], [1, 2], [3], [4]] output_shape [%n, 16, 1, 5, 5] : memref<?x16x5x5xf32> into memref<?x16x1x5x5xf32>
  %xc = memref.cast %x5 : memref<?x16x1x5x5xf32> to memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>
  %y = memref.alloc(%n) : memref<?x8x1x5x5xf32>
  %yr = memref.cast %y : memref<?x8x1x5x5xf32> to memref<?x?x1x?x?xf32>
  %yc = memref.cast %y : memref<?x8x1x5x5xf32> to memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>
  call @ember_cpu_conv_f32(%xc, %wc, %yc, %c1_i64, %c1_i64, %c1_i64, %c0_i64, %c0_i64, %c0_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64) : (memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64) -> ()
  %y4 = memref.collapse_shape %yr [[0], [1, 2], [3], [4]] : memref<?x?x1x?x?xf32> into memref<?x?x?x?xf32>
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d1)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>],
                  iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%y4, %b, %r : memref<?x?x?x?xf32>, memref<8xf32>, memref<?x8x5x5xf32>) outs(%d : memref<?x8x5x5xf32>) {
  ^bb0(%in: f32, %bias: f32, %res: f32, %out: f32):
    %0 = arith.addf %in, %bias : f32
    %1 = arith.addf %0, %res : f32
    linalg.yield %1 : f32
  }
  return
}

// -----

// The same product read by a plain conv (its y nobody's epilogue): the
// scaled call with no flags. When the product is also read elsewhere
// (@scale_read_twice: copied out), nothing changes.
// CHECK-LABEL: func @scale_into_plain_conv
// CHECK-NOT: linalg.generic
// CHECK: call @ember_cpu_conv_fused_scaled_f32(%{{.*}}, %{{.*}}, %[[Y:[^,]*]], %[[Y]], %[[Y]], %{{.*}}, %c0_i64{{.*}})
// CHECK-LABEL: func @scale_read_twice
// CHECK: linalg.generic
// CHECK: memref.copy
// CHECK: call @ember_cpu_conv_f32(
// CHECK-NOT: ember_cpu_conv_fused_scaled_f32
func.func private @ember_cpu_conv_f32(memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64)
func.func @scale_into_plain_conv(%s: memref<?x16xf32>, %x: memref<?x16x5x5xf32>, %wc: memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, %yc: memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>) {
  %c0 = arith.constant 0 : index
  %c0_i64 = arith.constant 0 : i64
  %c1_i64 = arith.constant 1 : i64
  %n = memref.dim %x, %c0 : memref<?x16x5x5xf32>
  %xs = memref.alloc(%n) : memref<?x16x5x5xf32>
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>],
                  iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%x, %s : memref<?x16x5x5xf32>, memref<?x16xf32>) outs(%xs : memref<?x16x5x5xf32>) {
  ^bb0(%xe: f32, %se: f32, %out: f32):
    %0 = arith.mulf %xe, %se : f32
    linalg.yield %0 : f32
  }
  %x5 = memref.expand_shape %xs [[0], [1, 2], [3], [4]] output_shape [%n, 16, 1, 5, 5] : memref<?x16x5x5xf32> into memref<?x16x1x5x5xf32>
  %xc = memref.cast %x5 : memref<?x16x1x5x5xf32> to memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>
  call @ember_cpu_conv_f32(%xc, %wc, %yc, %c1_i64, %c1_i64, %c1_i64, %c0_i64, %c0_i64, %c0_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64) : (memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64) -> ()
  return
}
func.func @scale_read_twice(%s: memref<?x16xf32>, %x: memref<?x16x5x5xf32>, %wc: memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, %yc: memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, %copy: memref<?x16x5x5xf32>) {
  %c0 = arith.constant 0 : index
  %c0_i64 = arith.constant 0 : i64
  %c1_i64 = arith.constant 1 : i64
  %n = memref.dim %x, %c0 : memref<?x16x5x5xf32>
  %xs = memref.alloc(%n) : memref<?x16x5x5xf32>
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>],
                  iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%x, %s : memref<?x16x5x5xf32>, memref<?x16xf32>) outs(%xs : memref<?x16x5x5xf32>) {
  ^bb0(%xe: f32, %se: f32, %out: f32):
    %0 = arith.mulf %xe, %se : f32
    linalg.yield %0 : f32
  }
  memref.copy %xs, %copy : memref<?x16x5x5xf32> to memref<?x16x5x5xf32>
  %x5 = memref.expand_shape %xs [[0], [1, 2], [3], [4]] output_shape [%n, 16, 1, 5, 5] : memref<?x16x5x5xf32> into memref<?x16x1x5x5xf32>
  %xc = memref.cast %x5 : memref<?x16x1x5x5xf32> to memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>
  call @ember_cpu_conv_f32(%xc, %wc, %yc, %c1_i64, %c1_i64, %c1_i64, %c0_i64, %c0_i64, %c0_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64) : (memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64) -> ()
  return
}

// -----

// An RGB stem whose output D only the next convolution call, a depthwise
// one (groups 16), reads, as its x: the stem calls
// ember_cpu_conv_fused_then_f32 with the same operands, so that the
// runtime may run the two image by image; so does a convolution of 8 input
// channels before a depthwise one. A convolution whose D something
// else reads too, or whose next convolution is not grouped, or with a
// write between the two calls, stays.
// CHECK-LABEL: func @stem_then_depthwise
// CHECK: call @ember_cpu_conv_fused_then_f32(%[[XV:.*]], %[[WV:.*]], %[[DV:.*]], %[[BV:.*]], %[[DV]], {{.*}}) :
// CHECK: call @ember_cpu_conv_fused_mean_f32(
// CHECK-LABEL: func @stem_read_twice
// CHECK-NOT: ember_cpu_conv_fused_then_f32
// CHECK: call @ember_cpu_conv_fused_f32(
// CHECK-LABEL: func @next_not_grouped
// CHECK-NOT: ember_cpu_conv_fused_then_f32
// CHECK: call @ember_cpu_conv_fused_f32(
// CHECK-LABEL: func @expand_then_depthwise
// CHECK: call @ember_cpu_conv_fused_then_f32(
// CHECK: call @ember_cpu_conv_fused_f32(
// CHECK-LABEL: func @write_between
// CHECK-NOT: ember_cpu_conv_fused_then_f32
// CHECK: call @ember_cpu_conv_fused_f32(
!v5 = memref<?x?x?x?x?xf32, strided<[?, ?, ?, ?, ?], offset: ?>>
func.func private @ember_cpu_conv_fused_f32(!v5, !v5, !v5, !v5, !v5, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64)
func.func private @ember_cpu_conv_fused_mean_f32(!v5, !v5, !v5, !v5, !v5, !v5, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64)
func.func @stem_then_depthwise(%x: !v5, %w: memref<16x3x3x3xf32>, %bv: !v5, %dw: !v5, %n: index, %out: memref<?x16x4x4xf32>, %mean: !v5) {
  %c0_i64 = arith.constant 0 : i64
  %c1_i64 = arith.constant 1 : i64
  %c2_i64 = arith.constant 2 : i64
  %c16_i64 = arith.constant 16 : i64
  %c259_i64 = arith.constant 259 : i64
  %c257_i64 = arith.constant 257 : i64
  %wb, %wo, %ws:4, %wst:4 = memref.extract_strided_metadata %w : memref<16x3x3x3xf32> -> memref<f32>, index, index, index, index, index, index, index, index, index
  %wv = memref.reinterpret_cast %wb to offset: [%wo], sizes: [16, 3, 1, 3, 3], strides: [27, 9, 0, 3, 1] : memref<f32> to !v5
  %d = memref.alloc(%n) {alignment = 64 : i64} : memref<?x16x8x8xf32>
  %base, %offset, %sizes:4, %strides:4 = memref.extract_strided_metadata %d : memref<?x16x8x8xf32> -> memref<f32>, index, index, index, index, index, index, index, index, index
  %dv = memref.reinterpret_cast %base to offset: [%offset], sizes: [%n, 16, 1, 8, 8], strides: [%strides#0, %strides#1, 0, %strides#2, %strides#3] : memref<f32> to !v5
  call @ember_cpu_conv_fused_f32(%x, %wv, %dv, %bv, %dv, %c1_i64, %c2_i64, %c2_i64, %c0_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c259_i64) : (!v5, !v5, !v5, !v5, !v5, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64) -> ()
  %o = memref.alloc(%n) {alignment = 64 : i64} : memref<?x16x4x4xf32>
  %obase, %ooffset, %osizes:4, %ostrides:4 = memref.extract_strided_metadata %o : memref<?x16x4x4xf32> -> memref<f32>, index, index, index, index, index, index, index, index, index
  %ov = memref.reinterpret_cast %obase to offset: [%ooffset], sizes: [%n, 16, 1, 4, 4], strides: [%ostrides#0, %ostrides#1, 0, %ostrides#2, %ostrides#3] : memref<f32> to !v5
  %base2, %offset2, %sizes2:4, %strides2:4 = memref.extract_strided_metadata %d : memref<?x16x8x8xf32> -> memref<f32>, index, index, index, index, index, index, index, index, index
  %dx = memref.reinterpret_cast %base2 to offset: [%offset2], sizes: [%n, 16, 1, 8, 8], strides: [%strides2#0, %strides2#1, 0, %strides2#2, %strides2#3] : memref<f32> to !v5
  call @ember_cpu_conv_fused_mean_f32(%dx, %dw, %ov, %bv, %ov, %mean, %c1_i64, %c2_i64, %c2_i64, %c0_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c16_i64, %c257_i64) : (!v5, !v5, !v5, !v5, !v5, !v5, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64) -> ()
  memref.dealloc %d : memref<?x16x8x8xf32>
  memref.copy %o, %out : memref<?x16x4x4xf32> to memref<?x16x4x4xf32>
  return
}
func.func @stem_read_twice(%x: !v5, %w: memref<16x3x3x3xf32>, %bv: !v5, %dw: !v5, %n: index, %out: memref<?x16x8x8xf32>) {
  %c0_i64 = arith.constant 0 : i64
  %c1_i64 = arith.constant 1 : i64
  %c2_i64 = arith.constant 2 : i64
  %c16_i64 = arith.constant 16 : i64
  %c259_i64 = arith.constant 259 : i64
  %wb, %wo, %ws:4, %wst:4 = memref.extract_strided_metadata %w : memref<16x3x3x3xf32> -> memref<f32>, index, index, index, index, index, index, index, index, index
  %wv = memref.reinterpret_cast %wb to offset: [%wo], sizes: [16, 3, 1, 3, 3], strides: [27, 9, 0, 3, 1] : memref<f32> to !v5
  %d = memref.alloc(%n) {alignment = 64 : i64} : memref<?x16x8x8xf32>
  %base, %offset, %sizes:4, %strides:4 = memref.extract_strided_metadata %d : memref<?x16x8x8xf32> -> memref<f32>, index, index, index, index, index, index, index, index, index
  %dv = memref.reinterpret_cast %base to offset: [%offset], sizes: [%n, 16, 1, 8, 8], strides: [%strides#0, %strides#1, 0, %strides#2, %strides#3] : memref<f32> to !v5
  call @ember_cpu_conv_fused_f32(%x, %wv, %dv, %bv, %dv, %c1_i64, %c2_i64, %c2_i64, %c0_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c259_i64) : (!v5, !v5, !v5, !v5, !v5, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64) -> ()
  call @ember_cpu_conv_fused_f32(%dv, %dw, %dv, %bv, %dv, %c1_i64, %c1_i64, %c1_i64, %c0_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c16_i64, %c259_i64) : (!v5, !v5, !v5, !v5, !v5, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64) -> ()
  memref.copy %d, %out : memref<?x16x8x8xf32> to memref<?x16x8x8xf32>
  return
}
func.func @next_not_grouped(%x: !v5, %w: memref<16x8x3x3xf32>, %bv: !v5, %dw: !v5, %n: index, %o: !v5) {
  %c0_i64 = arith.constant 0 : i64
  %c1_i64 = arith.constant 1 : i64
  %c2_i64 = arith.constant 2 : i64
  %c16_i64 = arith.constant 16 : i64
  %c259_i64 = arith.constant 259 : i64
  %wb, %wo, %ws:4, %wst:4 = memref.extract_strided_metadata %w : memref<16x8x3x3xf32> -> memref<f32>, index, index, index, index, index, index, index, index, index
  %wv = memref.reinterpret_cast %wb to offset: [%wo], sizes: [16, 8, 1, 3, 3], strides: [72, 9, 0, 3, 1] : memref<f32> to !v5
  %d = memref.alloc(%n) {alignment = 64 : i64} : memref<?x16x8x8xf32>
  %base, %offset, %sizes:4, %strides:4 = memref.extract_strided_metadata %d : memref<?x16x8x8xf32> -> memref<f32>, index, index, index, index, index, index, index, index, index
  %dv = memref.reinterpret_cast %base to offset: [%offset], sizes: [%n, 16, 1, 8, 8], strides: [%strides#0, %strides#1, 0, %strides#2, %strides#3] : memref<f32> to !v5
  call @ember_cpu_conv_fused_f32(%x, %wv, %dv, %bv, %dv, %c1_i64, %c2_i64, %c2_i64, %c0_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c259_i64) : (!v5, !v5, !v5, !v5, !v5, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64) -> ()
  call @ember_cpu_conv_fused_f32(%dv, %dw, %o, %bv, %o, %c1_i64, %c2_i64, %c2_i64, %c0_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c259_i64) : (!v5, !v5, !v5, !v5, !v5, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64) -> ()
  memref.dealloc %d : memref<?x16x8x8xf32>
  return
}
func.func @expand_then_depthwise(%x: !v5, %w: memref<16x8x3x3xf32>, %bv: !v5, %dw: !v5, %n: index, %o: !v5) {
  %c0_i64 = arith.constant 0 : i64
  %c1_i64 = arith.constant 1 : i64
  %c2_i64 = arith.constant 2 : i64
  %c16_i64 = arith.constant 16 : i64
  %c259_i64 = arith.constant 259 : i64
  %wb, %wo, %ws:4, %wst:4 = memref.extract_strided_metadata %w : memref<16x8x3x3xf32> -> memref<f32>, index, index, index, index, index, index, index, index, index
  %wv = memref.reinterpret_cast %wb to offset: [%wo], sizes: [16, 8, 1, 3, 3], strides: [72, 9, 0, 3, 1] : memref<f32> to !v5
  %d = memref.alloc(%n) {alignment = 64 : i64} : memref<?x16x8x8xf32>
  %base, %offset, %sizes:4, %strides:4 = memref.extract_strided_metadata %d : memref<?x16x8x8xf32> -> memref<f32>, index, index, index, index, index, index, index, index, index
  %dv = memref.reinterpret_cast %base to offset: [%offset], sizes: [%n, 16, 1, 8, 8], strides: [%strides#0, %strides#1, 0, %strides#2, %strides#3] : memref<f32> to !v5
  call @ember_cpu_conv_fused_f32(%x, %wv, %dv, %bv, %dv, %c1_i64, %c2_i64, %c2_i64, %c0_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c259_i64) : (!v5, !v5, !v5, !v5, !v5, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64) -> ()
  call @ember_cpu_conv_fused_f32(%dv, %dw, %o, %bv, %o, %c1_i64, %c2_i64, %c2_i64, %c0_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c16_i64, %c259_i64) : (!v5, !v5, !v5, !v5, !v5, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64) -> ()
  memref.dealloc %d : memref<?x16x8x8xf32>
  return
}
func.func @write_between(%x: !v5, %w: memref<16x3x3x3xf32>, %bv: !v5, %dw: !v5, %n: index, %o: !v5, %other: memref<4xf32>) {
  %c0_i64 = arith.constant 0 : i64
  %c1_i64 = arith.constant 1 : i64
  %c2_i64 = arith.constant 2 : i64
  %c16_i64 = arith.constant 16 : i64
  %c259_i64 = arith.constant 259 : i64
  %zero = arith.constant 0.000000e+00 : f32
  %wb, %wo, %ws:4, %wst:4 = memref.extract_strided_metadata %w : memref<16x3x3x3xf32> -> memref<f32>, index, index, index, index, index, index, index, index, index
  %wv = memref.reinterpret_cast %wb to offset: [%wo], sizes: [16, 3, 1, 3, 3], strides: [27, 9, 0, 3, 1] : memref<f32> to !v5
  %d = memref.alloc(%n) {alignment = 64 : i64} : memref<?x16x8x8xf32>
  %base, %offset, %sizes:4, %strides:4 = memref.extract_strided_metadata %d : memref<?x16x8x8xf32> -> memref<f32>, index, index, index, index, index, index, index, index, index
  %dv = memref.reinterpret_cast %base to offset: [%offset], sizes: [%n, 16, 1, 8, 8], strides: [%strides#0, %strides#1, 0, %strides#2, %strides#3] : memref<f32> to !v5
  call @ember_cpu_conv_fused_f32(%x, %wv, %dv, %bv, %dv, %c1_i64, %c2_i64, %c2_i64, %c0_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c259_i64) : (!v5, !v5, !v5, !v5, !v5, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64) -> ()
  linalg.fill ins(%zero : f32) outs(%other : memref<4xf32>)
  call @ember_cpu_conv_fused_f32(%dv, %dw, %o, %bv, %o, %c1_i64, %c2_i64, %c2_i64, %c0_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c1_i64, %c16_i64, %c259_i64) : (!v5, !v5, !v5, !v5, !v5, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64) -> ()
  memref.dealloc %d : memref<?x16x8x8xf32>
  return
}
