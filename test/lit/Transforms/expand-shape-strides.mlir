// RUN: ember-opt %s -ember-expand-shape-strides | FileCheck %s
// RUN: ember-opt %s -ember-expand-shape-strides -expand-strided-metadata | FileCheck %s --check-prefix=META

// A split of the inner dim of a strided view (a slice's heads) into two
// dynamic dims: the last keeps the source stride (1), the one before it
// strides over the last one's size; the outer dim keeps its stride.
// CHECK-LABEL: func @split_heads(
// CHECK-SAME: %[[M:[^:]*]]: memref<?x?xf32, strided<[?, 1], offset: ?>>, %[[A:[^:]*]]: index, %[[H:[^:]*]]: index, %[[D:[^:]*]]: index)
// CHECK: %[[BASE:.*]], %[[OFFSET:.*]], %{{.*}}:2, %[[STRIDES:.*]]:2 = memref.extract_strided_metadata %[[M]]
// CHECK: %[[V:.*]] = memref.reinterpret_cast %[[BASE]] to offset: [%[[OFFSET]]], sizes: [%[[A]], %[[H]], %[[D]]], strides: [%[[STRIDES]]#0, %[[D]], 1]
// CHECK-NOT: memref.expand_shape
// CHECK: return %[[V]]
// expand-strided-metadata has nothing left to expand (it crashed here).
// META-LABEL: func @split_heads(
// META-NOT: memref.expand_shape
func.func @split_heads(%m: memref<?x?xf32, strided<[?, 1], offset: ?>>, %a: index, %h: index, %d: index)
    -> memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>> {
  %e = memref.expand_shape %m [[0], [1, 2]] output_shape [%a, %h, %d]
      : memref<?x?xf32, strided<[?, 1], offset: ?>> into memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>
  return %e : memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>
}

// Three dims from one with a dynamic stride: each stride is the product of
// the sizes after it times the source stride.
// CHECK-LABEL: func @three_way(
// CHECK-SAME: %[[M:[^:]*]]: memref<?xf32, strided<[?], offset: ?>>, %[[A:[^:]*]]: index, %[[B:[^:]*]]: index, %[[C:[^:]*]]: index)
// CHECK: %[[BASE:.*]], %[[OFFSET:.*]], %{{.*}}, %[[S:.*]] = memref.extract_strided_metadata %[[M]]
// CHECK: %[[S1:.*]] = arith.muli %[[S]], %[[C]] : index
// CHECK: %[[S0:.*]] = arith.muli %[[S1]], %[[B]] : index
// CHECK: memref.reinterpret_cast %[[BASE]] to offset: [%[[OFFSET]]], sizes: [%[[A]], %[[B]], %[[C]]], strides: [%[[S0]], %[[S1]], %[[S]]]
func.func @three_way(%m: memref<?xf32, strided<[?], offset: ?>>, %a: index, %b: index, %c: index)
    -> memref<?x?x?xf32, strided<[?, ?, ?], offset: ?>> {
  %e = memref.expand_shape %m [[0, 1, 2]] output_shape [%a, %b, %c]
      : memref<?xf32, strided<[?], offset: ?>> into memref<?x?x?xf32, strided<[?, ?, ?], offset: ?>>
  return %e : memref<?x?x?xf32, strided<[?, ?, ?], offset: ?>>
}

// Static sizes and a dense source: the result type's static strides and
// offset are kept as constants.
// CHECK-LABEL: func @static_dense(
// CHECK: memref.reinterpret_cast %{{.*}} to offset: [0], sizes: [2, 3, 4], strides: [12, 4, 1]
func.func @static_dense(%m: memref<6x4xf32>) -> memref<2x3x4xf32> {
  %e = memref.expand_shape %m [[0, 1], [2]] output_shape [2, 3, 4]
      : memref<6x4xf32> into memref<2x3x4xf32>
  return %e : memref<2x3x4xf32>
}
