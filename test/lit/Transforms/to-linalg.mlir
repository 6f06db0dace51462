// RUN: ember-opt %s -convert-ember-to-linalg -split-input-file | FileCheck %s

// A static 1 reads index 0; a dynamic dim sizes the result via tensor.dim.
// CHECK-DAG: #[[ID:.*]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG: #[[ROW:.*]] = affine_map<(d0, d1) -> (0, d1)>
// CHECK-DAG: #[[VEC:.*]] = affine_map<(d0, d1) -> (d1)>
// CHECK-LABEL: func @broadcast_add
func.func @broadcast_add(%a: tensor<?x4xf32>, %b: tensor<1x4xf32>, %c: tensor<4xf32>) -> tensor<?x4xf32> {
  // CHECK: %[[N:.*]] = tensor.dim %{{.*}}, %c0
  // CHECK: tensor.empty(%[[N]]) : tensor<?x4xf32>
  // CHECK: linalg.generic {indexing_maps = [#[[ID]], #[[ROW]], #[[ID]]], iterator_types = ["parallel", "parallel"]}
  // CHECK: arith.addf
  %0 = ember.add %a, %b : tensor<?x4xf32>, tensor<1x4xf32> -> tensor<?x4xf32>
  // CHECK: linalg.generic {indexing_maps = [#[[ID]], #[[VEC]], #[[ID]]]
  // CHECK: arith.mulf
  %1 = ember.mul %0, %c : tensor<?x4xf32>, tensor<4xf32> -> tensor<?x4xf32>
  return %1 : tensor<?x4xf32>
}

// -----

// Integers use signed arithmetic; compare gives i1.
// CHECK-LABEL: func @integers
func.func @integers(%a: tensor<8xi32>, %b: tensor<8xi32>) -> (tensor<8xi32>, tensor<8xi1>) {
  // CHECK: arith.divsi
  %0 = ember.div %a, %b : tensor<8xi32>, tensor<8xi32> -> tensor<8xi32>
  // CHECK: arith.cmpi slt
  %1 = ember.compare lt, %a, %b : tensor<8xi32>, tensor<8xi32> -> tensor<8xi1>
  return %0, %1 : tensor<8xi32>, tensor<8xi1>
}

// -----

// Reductions fill an init with the neutral element and reduce in a generic;
// keepdim expands the result.
// CHECK-LABEL: func @reduce
func.func @reduce(%x: tensor<?x8xf32>) -> (tensor<?x1xf32>, tensor<?xf32>) {
  // CHECK: %[[NEG_INF:.*]] = arith.constant 0xFF800000 : f32
  // CHECK: linalg.fill ins(%[[NEG_INF]] : f32)
  // CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]
  // CHECK: arith.maximumf
  // CHECK: tensor.expand_shape %{{.*}} {{\[\[}}0, 1]]
  %0 = ember.max %x dims = [1] keepdim : tensor<?x8xf32> -> tensor<?x1xf32>
  // CHECK: arith.addf
  // CHECK: arith.sitofp
  // CHECK: arith.divf
  %1 = ember.mean %x dims = [1] : tensor<?x8xf32> -> tensor<?xf32>
  return %0, %1 : tensor<?x1xf32>, tensor<?xf32>
}

// -----

// A leading batch of the left operand folds into M for one GEMM.
// CHECK-LABEL: func @matmul
func.func @matmul(%a: tensor<?x3x4xf32>, %b: tensor<4x5xf32>, %c: tensor<2x3x4xf64>, %d: tensor<2x4x5xf64>) -> (tensor<?x3x5xf32>, tensor<2x3x5xf64>) {
  // CHECK: tensor.collapse_shape %{{.*}} {{\[\[}}0, 1], [2]] : tensor<?x3x4xf32> into tensor<?x4xf32>
  // CHECK: linalg.matmul
  // CHECK: tensor.reshape
  %0 = ember.matmul %a, %b : tensor<?x3x4xf32>, tensor<4x5xf32> -> tensor<?x3x5xf32>
  // CHECK: linalg.batch_matmul
  %1 = ember.matmul %c, %d : tensor<2x3x4xf64>, tensor<2x4x5xf64> -> tensor<2x3x5xf64>
  return %0, %1 : tensor<?x3x5xf32>, tensor<2x3x5xf64>
}

// -----

// f16 computes in f32 and rounds back.
// CHECK-LABEL: func @half
func.func @half(%x: tensor<16xf16>) -> tensor<16xf16> {
  // CHECK: arith.extf %{{.*}} : f16 to f32
  // CHECK: math.tanh %{{.*}} : f32
  // CHECK: arith.truncf %{{.*}} : f32 to f16
  %0 = ember.tanh %x : tensor<16xf16>
  return %0 : tensor<16xf16>
}

// -----

// CHECK-LABEL: func @shapes
func.func @shapes(%x: tensor<?x10xf32>, %y: tensor<2x10xf32>) -> (tensor<10x?xf32>, tensor<?x3xf32>, tensor<?x10xf32>) {
  // CHECK: linalg.generic
  %0 = ember.transpose %x perm = [1, 0] : tensor<?x10xf32> -> tensor<10x?xf32>
  // CHECK: tensor.extract_slice %{{.*}}[%{{.*}}, 1] [%{{.*}}, 3] [2, 3]
  %1 = ember.slice %x start = [-3, 1] stop = [9223372036854775807, 8] step = [2, 3] : tensor<?x10xf32> -> tensor<?x3xf32>
  // CHECK: tensor.concat dim(0)
  %2 = ember.concat %x, %y dim = 0 : tensor<?x10xf32>, tensor<2x10xf32> -> tensor<?x10xf32>
  return %0, %1, %2 : tensor<10x?xf32>, tensor<?x3xf32>, tensor<?x10xf32>
}
