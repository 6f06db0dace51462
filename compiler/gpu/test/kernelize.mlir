// RUN: ember-gpu-opt %s --ember-gpu-kernels | FileCheck %s

// A fused element-wise chain is one kernel: 256 threads, a grid of
// min(ceildiv(n, 256), 65535) blocks striding over n; buffers arrive as
// 1-D memrefs, sizes as index scalars; exp is a polynomial.
// CHECK-LABEL: func.func @ember_entry_chain(
// CHECK:         %[[N:.*]] = memref.dim
// CHECK:         %[[BLOCKS:.*]] = arith.ceildivui %[[N]], %c256
// CHECK:         %[[GRID:.*]] = arith.minui %[[BLOCKS]], %c65535
// CHECK:         gpu.launch_func @ember_entry_chain_pointwise0::@ember_entry_chain_pointwise0 blocks in (%[[GRID]], %c1, %c1) threads in (%c256, %c1, %c1) args(%[[N]] : index, %{{.*}} : memref<?xf32>, %{{.*}} : memref<?xf32>, %{{.*}} : memref<?xf32>, %{{.*}} : memref<?xf32>)
// CHECK-NOT:     gpu.launch_func
// CHECK:       gpu.func @ember_entry_chain_pointwise0(%{{.*}}: index, %{{.*}}: memref<?xf32>, %{{.*}}: memref<?xf32>, %{{.*}}: memref<?xf32>, %{{.*}}: memref<?xf32>) kernel attributes {known_block_size = array<i32: 256, 1, 1>}
// CHECK:         gpu.block_id x
// CHECK:         gpu.thread_id x
// CHECK:         scf.for
// CHECK-NOT:     math.exp
// CHECK:         gpu.return
func.func @chain(%a: tensor<?xf32>, %b: tensor<?xf32>, %c: tensor<?xf32>) -> tensor<?xf32> {
  %0 = ember.mul %a, %b : tensor<?xf32>, tensor<?xf32> -> tensor<?xf32>
  %1 = ember.add %0, %c : tensor<?xf32>, tensor<?xf32> -> tensor<?xf32>
  %2 = ember.sigmoid %1 : tensor<?xf32>
  return %2 : tensor<?xf32>
}

// A reduction over the last dim: the fill, then one 256-thread block per
// row with a tree in workgroup memory (8 halving steps, barriers).
// CHECK-LABEL: func.func @ember_entry_row_max(
// CHECK:         gpu.launch_func @ember_entry_row_max_pointwise0::
// CHECK:         %[[ROWS:.*]] = memref.dim %arg0, %c0
// CHECK:         %[[GRID:.*]] = arith.minui %[[ROWS]], %c65535
// CHECK:         gpu.launch_func @ember_entry_row_max_rowreduce1::@ember_entry_row_max_rowreduce1 blocks in (%[[GRID]], %c1, %c1) threads in (%c256, %c1, %c1) args(%[[ROWS]] : index,
// CHECK:       gpu.func @ember_entry_row_max_rowreduce1({{.*}}) workgroup(%[[SCRATCH:.*]] : memref<256xf32, #gpu.address_space<workgroup>>) kernel
// CHECK:         %[[ACC:.*]] = scf.for {{.*}} step %c256 iter_args(%{{.*}} = %cst) -> (f32)
// CHECK:           arith.maximumf
// CHECK:         memref.store %[[ACC]], %[[SCRATCH]]
// CHECK-COUNT-8: gpu.barrier
// CHECK:         scf.if
// CHECK:           arith.maximumf
// CHECK:         gpu.barrier
func.func @row_max(%x: tensor<?x?xf32>) -> tensor<?xf32> {
  %0 = ember.max %x dims = [1] : tensor<?x?xf32> -> tensor<?xf32>
  return %0 : tensor<?xf32>
}

// Other reductions: one thread per output, the reduced dim as a loop.
// CHECK-LABEL: func.func @ember_entry_col_sum(
// CHECK:         gpu.launch_func @ember_entry_col_sum_pointwise1::
// CHECK:       gpu.func @ember_entry_col_sum_pointwise1(
// CHECK:         scf.for
// CHECK:           scf.for {{.*}} iter_args
// CHECK:             arith.addf
func.func @col_sum(%x: tensor<?x?xf32>) -> tensor<?xf32> {
  %0 = ember.sum %x dims = [0] : tensor<?x?xf32> -> tensor<?xf32>
  return %0 : tensor<?xf32>
}

// Matmul: 16x16 blocks over (N, M, batch), A and B tiles in workgroup
// memory, barriers around each K step.
// CHECK-LABEL: func.func @ember_entry_bmm(
// CHECK:         arith.ceildivui %{{.*}}, %c16
// CHECK:         gpu.launch_func @ember_entry_bmm_matmul1::@ember_entry_bmm_matmul1 blocks in (%{{.*}}, %{{.*}}, %{{.*}}) threads in (%c16, %c16, %c1)
// CHECK:       gpu.func @ember_entry_bmm_matmul1({{.*}}) workgroup(%[[A:.*]] : memref<16x16xf32, #gpu.address_space<workgroup>>, %[[B:.*]] : memref<16x16xf32, #gpu.address_space<workgroup>>) kernel attributes {known_block_size = array<i32: 16, 16, 1>}
// CHECK:         gpu.block_id z
// CHECK:         scf.for {{.*}} step %c16 iter_args
// CHECK:           memref.store %{{.*}}, %[[A]]
// CHECK:           memref.store %{{.*}}, %[[B]]
// CHECK:           gpu.barrier
// CHECK:           scf.for
// CHECK:             memref.load %[[A]]
// CHECK:             memref.load %[[B]]
// CHECK:             arith.mulf
// CHECK:             arith.addf
// CHECK:           gpu.barrier
func.func @bmm(%a: tensor<?x?x64xf32>, %b: tensor<?x64x?xf32>) -> tensor<?x?x?xf32> {
  %0 = ember.matmul %a, %b : tensor<?x?x64xf32>, tensor<?x64x?xf32> -> tensor<?x?x?xf32>
  return %0 : tensor<?x?x?xf32>
}

// Softmax over the last dim: max and sum as row reductions, sub+exp and
// the division as point-wise kernels (after their fills).
// CHECK-LABEL: func.func @ember_entry_softmax(
// CHECK:         gpu.launch_func @ember_entry_softmax_pointwise0::
// CHECK:         gpu.launch_func @ember_entry_softmax_rowreduce1::
// CHECK:         gpu.launch_func @ember_entry_softmax_pointwise2::
// CHECK:         gpu.launch_func @ember_entry_softmax_pointwise3::
// CHECK:         gpu.launch_func @ember_entry_softmax_rowreduce4::
// CHECK:         gpu.launch_func @ember_entry_softmax_pointwise5::
// CHECK-NEXT:    return
func.func @softmax(%x: tensor<?x?xf32>) -> tensor<?x?xf32> {
  %0 = ember.softmax %x dim = 1 : tensor<?x?xf32>
  return %0 : tensor<?x?xf32>
}
