// RUN: ember-opt %s -split-input-file -ember-concat-in-place | FileCheck %s
// RUN: ember-opt %s -split-input-file -ember-concat-in-place -one-shot-bufferize -cse -canonicalize | FileCheck %s --check-prefix=BUF

// A max pool's padding as Ember imports it: the ReLU output (dynamic
// batch) behind a row of pad values (dim 2), then a column (dim 3). Both
// concats become one tensor.empty of the whole, 113x113, made before the
// first producer; each producer fills its slice of it and the matching
// insert_slice puts it back. Bufferized (with the CSE the pipeline runs
// after it): one allocation, no copies.
#id = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#one = affine_map<(d0, d1, d2, d3) -> (0, 0, 0, 0)>
// CHECK-LABEL: func @maxpool_padding
// CHECK-SAME: (%[[Y:.*]]: tensor<?x64x112x112xf32>, %[[PAD:.*]]: tensor<1x1x1x1xf32>)
// CHECK: %[[N:.*]] = tensor.dim %[[Y]]
// CHECK: %[[ALL:.*]] = tensor.empty(%[[N]]) : tensor<?x64x113x113xf32>
// CHECK-NOT: tensor.concat
// CHECK: %[[S0:.*]] = tensor.extract_slice %[[ALL]][0, 0, 0, 0] [%[[N]], 64, 113, 1] [1, 1, 1, 1]
// CHECK: %[[COL:.*]] = linalg.generic {{.*}} outs(%[[S0]] : tensor<?x64x113x1xf32>)
// CHECK: %[[A0:.*]] = tensor.insert_slice %[[COL]] into %[[ALL]][0, 0, 0, 0] [%[[N]], 64, 113, 1] [1, 1, 1, 1]
// CHECK: %[[S1:.*]] = tensor.extract_slice %[[A0]][0, 0, 0, 1] [%[[N]], 64, 1, 112] [1, 1, 1, 1]
// CHECK: %[[ROW:.*]] = linalg.generic {{.*}} outs(%[[S1]] : tensor<?x64x1x112xf32>)
// CHECK: %[[A1:.*]] = tensor.insert_slice %[[ROW]] into %[[A0]][0, 0, 0, 1] [%[[N]], 64, 1, 112] [1, 1, 1, 1]
// CHECK: %[[S2:.*]] = tensor.extract_slice %[[A1]][0, 0, 1, 1] [%[[N]], 64, 112, 112] [1, 1, 1, 1]
// CHECK: %[[RELU:.*]] = linalg.generic {{.*}} outs(%[[S2]] : tensor<?x64x112x112xf32>)
// CHECK: %[[A2:.*]] = tensor.insert_slice %[[RELU]] into %[[A1]][0, 0, 1, 1] [%[[N]], 64, 112, 112] [1, 1, 1, 1]
// CHECK: %[[R:.*]] = tensor.cast %[[A2]] : tensor<?x64x113x113xf32> to tensor<?x?x?x?xf32>
// CHECK: return %[[R]]
// BUF-LABEL: func @maxpool_padding
// BUF: memref.alloc
// BUF-NOT: memref.alloc
// BUF-NOT: memref.copy
// BUF: return
func.func @maxpool_padding(%y: tensor<?x64x112x112xf32>, %pad: tensor<1x1x1x1xf32>) -> tensor<?x?x?x?xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.000000e+00 : f32
  %n = tensor.dim %y, %c0 : tensor<?x64x112x112xf32>
  %e0 = tensor.empty(%n) : tensor<?x64x113x1xf32>
  %col = linalg.generic {indexing_maps = [#one, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%pad : tensor<1x1x1x1xf32>) outs(%e0 : tensor<?x64x113x1xf32>) {
  ^bb0(%in: f32, %out: f32):
    linalg.yield %in : f32
  } -> tensor<?x64x113x1xf32>
  %colc = tensor.cast %col : tensor<?x64x113x1xf32> to tensor<?x?x?x1xf32>
  %e1 = tensor.empty(%n) : tensor<?x64x1x112xf32>
  %row = linalg.generic {indexing_maps = [#one, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%pad : tensor<1x1x1x1xf32>) outs(%e1 : tensor<?x64x1x112xf32>) {
  ^bb0(%in: f32, %out: f32):
    linalg.yield %in : f32
  } -> tensor<?x64x1x112xf32>
  %rowc = tensor.cast %row : tensor<?x64x1x112xf32> to tensor<?x?x1x?xf32>
  %e2 = tensor.empty(%n) : tensor<?x64x112x112xf32>
  %relu = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%y : tensor<?x64x112x112xf32>) outs(%e2 : tensor<?x64x112x112xf32>) {
  ^bb0(%in: f32, %out: f32):
    %m = arith.maximumf %in, %zero : f32
    linalg.yield %m : f32
  } -> tensor<?x64x112x112xf32>
  %reluc = tensor.cast %relu : tensor<?x64x112x112xf32> to tensor<?x?x?x?xf32>
  %inner = tensor.concat dim(2) %rowc, %reluc : (tensor<?x?x1x?xf32>, tensor<?x?x?x?xf32>) -> tensor<?x?x?x?xf32>
  %outer = tensor.concat dim(3) %colc, %inner : (tensor<?x?x?x1xf32>, tensor<?x?x?x?xf32>) -> tensor<?x?x?x?xf32>
  return %outer : tensor<?x?x?x?xf32>
}

// -----

// An operand that no op in the function makes (an argument), or a
// producer whose result is read elsewhere too: the concat stays.
#id2 = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-LABEL: func @operand_not_made_here
// CHECK: tensor.concat
// CHECK-LABEL: func @producer_read_twice
// CHECK-NOT: tensor.extract_slice
// CHECK: tensor.concat
func.func @operand_not_made_here(%a: tensor<2x4xf32>, %b: tensor<3x4xf32>) -> tensor<5x4xf32> {
  %e = tensor.empty() : tensor<2x4xf32>
  %neg = linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%a : tensor<2x4xf32>) outs(%e : tensor<2x4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %n = arith.negf %in : f32
    linalg.yield %n : f32
  } -> tensor<2x4xf32>
  %c = tensor.concat dim(0) %neg, %b : (tensor<2x4xf32>, tensor<3x4xf32>) -> tensor<5x4xf32>
  return %c : tensor<5x4xf32>
}
func.func @producer_read_twice(%a: tensor<2x4xf32>) -> (tensor<4x4xf32>, tensor<2x4xf32>) {
  %e = tensor.empty() : tensor<2x4xf32>
  %neg = linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%a : tensor<2x4xf32>) outs(%e : tensor<2x4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %n = arith.negf %in : f32
    linalg.yield %n : f32
  } -> tensor<2x4xf32>
  %e2 = tensor.empty() : tensor<2x4xf32>
  %abs = linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%a : tensor<2x4xf32>) outs(%e2 : tensor<2x4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %n = math.absf %in : f32
    linalg.yield %n : f32
  } -> tensor<2x4xf32>
  %c = tensor.concat dim(0) %neg, %abs : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<4x4xf32>
  return %c, %neg : tensor<4x4xf32>, tensor<2x4xf32>
}
