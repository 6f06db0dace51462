// RUN: ember-opt %s --ember-gpu-kernelize | FileCheck %s

// A matmul: 16x16 threads per 64x64 output tile (4x4 outputs per thread),
// grids clamped to 65535 blocks (blocks stride over the rest); per K step of
// 16 a 64x16 tile of A and a 16x64 tile of B go through workgroup memory
// between barriers, 16 constant inner steps of 16 multiply-adds each; the
// 16 stores guarded.
// CHECK-LABEL: func.func @mm(
// CHECK-DAG:     %[[M:.*]] = memref.dim %arg0, %c0
// CHECK-DAG:     %[[N:.*]] = memref.dim %arg1, %c1
// CHECK:         memref.extract_strided_metadata %arg0
// CHECK:         %[[A:.*]] = memref.reinterpret_cast {{.*}} to offset: [0], sizes: [%{{.*}}], strides: [1] : memref<f32> to memref<?xf32>
// CHECK:         %[[TX:.*]] = arith.ceildivui %[[N]], %c64
// CHECK:         %[[TY:.*]] = arith.ceildivui %[[M]], %c64
// CHECK:         %[[GX:.*]] = arith.minui %[[TX]], %c65535
// CHECK:         %[[GY:.*]] = arith.minui %[[TY]], %c65535
// CHECK:         gpu.launch blocks(%[[BX:[^,]*]], %[[BY:[^,]*]], %[[BZ:[^)]*]]) in (%{{.*}} = %[[GX]], %{{.*}} = %[[GY]], %{{.*}}) threads({{.*}}) in (%{{.*}} = %c16{{.*}}, %{{.*}} = %c16{{.*}}, %{{.*}} = %c1{{.*}}) module(@mm_matmul0) function(@mm_matmul0) workgroup(%[[AT:.*]] : memref<64x16xf32, #gpu.address_space<workgroup>>, %[[BT:.*]] : memref<16x64xf32, #gpu.address_space<workgroup>>)
// CHECK:           scf.for %{{.*}} = %[[BZ]] to
// CHECK:             scf.for %{{.*}} = %[[BY]] to %[[TY]] step %[[GY]]
// CHECK:               scf.for %{{.*}} = %[[BX]] to %[[TX]] step %[[GX]]
// CHECK-COUNT-16:        scf.if %{{.*}} -> (f32)
// CHECK:                 scf.for {{.*}} step %c16{{.*}} iter_args({{.*}}) -> (f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)
// CHECK:                   memref.load %[[A]]
// CHECK:                   memref.store %{{.*}}, %[[AT]]
// CHECK:                   memref.store %{{.*}}, %[[BT]]
// CHECK:                   gpu.barrier
// CHECK:                   scf.for %{{.*}} = %c0{{.*}} to %c16{{.*}} step %c1{{.*}} iter_args
// CHECK-COUNT-4:             memref.load %[[AT]]
// CHECK:                     memref.load %[[BT]]
// CHECK-COUNT-16:            arith.mulf
// CHECK:                   gpu.barrier
// CHECK-COUNT-16:        memref.store
func.func @mm(%a: memref<?x?xf32>, %b: memref<?x?xf32>, %c: memref<?x?xf32>) {
  linalg.matmul ins(%a, %b : memref<?x?xf32>, memref<?x?xf32>) outs(%c : memref<?x?xf32>)
  return
}

// A batch matmul with B transposed: batch on grid z.
// CHECK-LABEL: func.func @bmm_t(
// CHECK:         gpu.launch {{.*}} module(@bmm_t_matmul0) function(@bmm_t_matmul0) workgroup
#a = affine_map<(b, i, j, k) -> (b, i, k)>
#bt = affine_map<(b, i, j, k) -> (b, j, k)>
#c = affine_map<(b, i, j, k) -> (b, i, j)>
func.func @bmm_t(%a: memref<?x?x?xf32>, %b: memref<?x?x?xf32>, %c: memref<?x?x?xf32>) {
  linalg.generic {indexing_maps = [#a, #bt, #c],
                  iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%a, %b : memref<?x?x?xf32>, memref<?x?x?xf32>) outs(%c : memref<?x?x?xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  return
}

// A reduction over the contiguous innermost dim, with work before the
// combiner. Stage one: each row is split into
// parts = max(min(ceildiv(length, 16384), 1024), 1) interleaved parts, one
// 256-thread block per (row, part) folding a strided share (exp kept) from
// the identity, a tree of 8 halving steps in workgroup memory, thread 0
// writing the part's value to a temporary. Stage two: one thread per row
// combines its parts with the output's initial value.
// CHECK-LABEL: func.func @row_exp_sum(
// CHECK:         %[[ROWS:.*]] = arith.muli %c1{{.*}}, %{{.*}}
// CHECK:         %[[LEN:.*]] = arith.muli %c1{{.*}}, %{{.*}}
// CHECK:         %[[CHUNKS:.*]] = arith.ceildivui %[[LEN]], %c16384
// CHECK:         %[[CAP:.*]] = arith.minui %[[CHUNKS]], %c1024
// CHECK:         %[[PARTS:.*]] = arith.maxui %[[CAP]], %c1
// CHECK:         %[[TASKS:.*]] = arith.muli %[[ROWS]], %[[PARTS]]
// CHECK:         %[[TMP:.*]] = memref.alloc(%[[TASKS]]) : memref<?xf32>
// CHECK:         %[[STRIDE:.*]] = arith.muli %[[PARTS]], %c256
// CHECK:         %[[GRID:.*]] = arith.minui %[[TASKS]], %c65535
// CHECK:         gpu.launch blocks(%[[B:[^,]*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %[[GRID]], {{.*}} threads(%[[T:[^,]*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %c256{{.*}} module(@row_exp_sum_rowreduce0) function(@row_exp_sum_rowreduce0) workgroup(%[[S:.*]] : memref<256xf32, #gpu.address_space<workgroup>>)
// CHECK:           scf.for %[[TASK:.*]] = %[[B]] to %[[TASKS]] step %[[GRID]]
// CHECK:             %[[PART:.*]] = scf.for %{{.*}} = %{{.*}} to %[[LEN]] step %[[STRIDE]] iter_args(%{{.*}} = %cst)
// CHECK:               math.exp
// CHECK:               arith.addf
// CHECK:             memref.store %[[PART]], %[[S]][%[[T]]]
// CHECK-COUNT-8:     gpu.barrier
// CHECK:             arith.cmpi eq, %[[T]], %c0
// CHECK:             scf.if
// CHECK:               memref.load %[[S]]
// CHECK-NEXT:          memref.store %{{.*}}, %[[TMP]][%[[TASK]]]
// CHECK:             gpu.barrier
// CHECK:         gpu.launch {{.*}} module(@row_exp_sum_rowcombine1) function(@row_exp_sum_rowcombine1) {
// CHECK:           scf.for %{{.*}} to %[[ROWS]]
// CHECK:             scf.for %{{.*}} to %[[PARTS]]
// CHECK:               memref.load %[[TMP]]
// CHECK:               arith.addf
// CHECK:         memref.dealloc %[[TMP]]
#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
func.func @row_exp_sum(%x: memref<?x?xf32>, %out: memref<?xf32>) {
  linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<?x?xf32>) outs(%out : memref<?xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %e = math.exp %in : f32
    %m = arith.addf %e, %acc : f32
    linalg.yield %m : f32
  }
  return
}

// A full reduction of a 2-D buffer: both reduced dims flattened into one
// row, delinearized per element.
// CHECK-LABEL: func.func @total_max(
// CHECK:         gpu.launch {{.*}} function(@total_max_rowreduce0)
// CHECK:           arith.remui
// CHECK:           arith.divui
// CHECK:           arith.maximumf
// CHECK:         gpu.launch {{.*}} function(@total_max_rowcombine1)
#all = affine_map<(d0, d1) -> ()>
func.func @total_max(%x: memref<?x?xf32>, %out: memref<f32>) {
  linalg.generic {indexing_maps = [#id, #all], iterator_types = ["reduction", "reduction"]}
      ins(%x : memref<?x?xf32>) outs(%out : memref<f32>) {
  ^bb0(%in: f32, %acc: f32):
    %m = arith.maximumf %in, %acc : f32
    linalg.yield %m : f32
  }
  return
}

// A reduction along the input's outer dim (a column sum) and a fill stay
// for the one-thread-per-output path: consecutive threads then read
// consecutive elements.
// CHECK-LABEL: func.func @col_sum(
// CHECK-NOT:     gpu.launch
// CHECK:         linalg.fill
// CHECK:         linalg.generic
#t = affine_map<(d0, d1) -> (d1, d0)>
func.func @col_sum(%x: memref<?x?xf32>, %out: memref<?xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%out : memref<?xf32>)
  linalg.generic {indexing_maps = [#t, #row], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<?x?xf32>) outs(%out : memref<?xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %m = arith.addf %in, %acc : f32
    linalg.yield %m : f32
  }
  return
}

// An op without loops runs as a one-thread kernel, not as host code.
// CHECK-LABEL: func.func @ratio(
// CHECK:         gpu.launch blocks({{.*}}) in ({{.*}} = %c1{{.*}}, {{.*}} = %c1{{.*}}, {{.*}} = %c1{{.*}}) threads({{.*}}) in ({{.*}} = %c1{{.*}}, {{.*}} = %c1{{.*}}, {{.*}} = %c1{{.*}}) module(@ratio_scalar0) function(@ratio_scalar0)
// CHECK:           memref.load
// CHECK:           memref.load
// CHECK:           arith.divf
// CHECK:           memref.store
// CHECK-NOT:     linalg.generic
func.func @ratio(%a: memref<f32>, %b: memref<f32>, %out: memref<f32>) {
  linalg.generic {indexing_maps = [affine_map<() -> ()>, affine_map<() -> ()>, affine_map<() -> ()>],
                  iterator_types = []}
      ins(%a, %b : memref<f32>, memref<f32>) outs(%out : memref<f32>) {
  ^bb0(%x: f32, %y: f32, %o: f32):
    %q = arith.divf %x, %y : f32
    linalg.yield %q : f32
  }
  return
}
