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

// Integers use signed arithmetic (a zero divisor is replaced by one, so
// that no element traps); compare gives i1.
// CHECK-LABEL: func @integers
func.func @integers(%a: tensor<8xi32>, %b: tensor<8xi32>) -> (tensor<8xi32>, tensor<8xi1>) {
  // CHECK: %[[ZERO:.*]] = arith.cmpi eq, %{{.*}}, %c0_i32
  // CHECK: %[[SAFE:.*]] = arith.select %[[ZERO]], %c1_i32, %{{.*}}
  // CHECK: arith.divsi %{{.*}}, %[[SAFE]]
  %0 = ember.div %a, %b : tensor<8xi32>, tensor<8xi32> -> tensor<8xi32>
  // CHECK: arith.cmpi slt
  %1 = ember.compare lt, %a, %b : tensor<8xi32>, tensor<8xi32> -> tensor<8xi1>
  return %0, %1 : tensor<8xi32>, tensor<8xi1>
}

// -----

// Reductions fill an init with the neutral element and reduce in a generic;
// keepdim expands the result. Float sums may reassociate (so LLVM vectorizes
// them).
// CHECK-LABEL: func @reduce
func.func @reduce(%x: tensor<?x8xf32>) -> (tensor<?x1xf32>, tensor<?xf32>) {
  // CHECK: %[[NEG_INF:.*]] = arith.constant 0xFF800000 : f32
  // CHECK: linalg.fill ins(%[[NEG_INF]] : f32)
  // CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]
  // CHECK: arith.maximumf
  // CHECK: tensor.expand_shape %{{.*}} {{\[\[}}0, 1]]
  %0 = ember.max %x dims = [1] keepdim : tensor<?x8xf32> -> tensor<?x1xf32>
  // CHECK: arith.addf %{{.*}}, %{{.*}} fastmath<reassoc> : f32
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

// -----

// Bitwise ops are arith's integer ops; `not` flips every bit with xori -1
// (`true` on i1).
// CHECK-LABEL: func @logical
func.func @logical(%a: tensor<?x4xi1>, %b: tensor<4xi1>, %i: tensor<8xi32>, %j: tensor<8xi32>) -> (tensor<?x4xi1>, tensor<8xi32>) {
  // CHECK-DAG: %[[TRUE:.*]] = arith.constant true
  // CHECK-DAG: %[[ONES:.*]] = arith.constant -1 : i32
  // CHECK: arith.andi %{{.*}}, %{{.*}} : i1
  %0 = ember.and %a, %b : tensor<?x4xi1>, tensor<4xi1> -> tensor<?x4xi1>
  // CHECK: arith.ori %{{.*}}, %{{.*}} : i1
  %1 = ember.or %0, %b : tensor<?x4xi1>, tensor<4xi1> -> tensor<?x4xi1>
  // CHECK: arith.xori %{{.*}}, %[[TRUE]] : i1
  %2 = ember.not %1 : tensor<?x4xi1>
  // CHECK: arith.xori %{{.*}}, %{{.*}} : i32
  %3 = ember.xor %i, %j : tensor<8xi32>, tensor<8xi32> -> tensor<8xi32>
  // CHECK: arith.xori %{{.*}}, %[[ONES]] : i32
  %4 = ember.not %3 : tensor<8xi32>
  return %2, %4 : tensor<?x4xi1>, tensor<8xi32>
}

// -----

// argmin over an inner dim is argmax's reduction with the comparison reversed
// and a +inf (or integer max) start. Over the last dim it is two reductions
// that vectorize: the extreme (minimumf propagates NaN), then the smallest
// index whose element equals it or is NaN.
// CHECK-LABEL: func @argmin
func.func @argmin(%x: tensor<?x8xf32>, %y: tensor<5x?xi64>) -> (tensor<?xi64>, tensor<1x?xi64>) {
  // CHECK-DAG: %[[INF:.*]] = arith.constant 0x7F800000 : f32
  // CHECK-DAG: %[[MAX:.*]] = arith.constant 9223372036854775807 : i64
  // CHECK: %[[BESTINIT:.*]] = linalg.fill ins(%[[INF]] : f32)
  // CHECK: %[[BEST:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]
  // CHECK-SAME: ins(%{{.*}} : tensor<?x8xf32>) outs(%[[BESTINIT]] : tensor<?xf32>)
  // CHECK: arith.minimumf
  // CHECK: %[[IDXINIT:.*]] = linalg.fill ins(%[[MAX]] : i64)
  // CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]
  // CHECK-SAME: ins(%{{.*}}, %[[BEST]] : tensor<?x8xf32>, tensor<?xf32>) outs(%[[IDXINIT]] : tensor<?xi64>)
  // CHECK: ^bb0(%[[X:.*]]: f32, %[[B:.*]]: f32, %[[ACC:.*]]: i64):
  // CHECK: %[[EQ:.*]] = arith.cmpf oeq, %[[X]], %[[B]]
  // CHECK: %[[NAN:.*]] = arith.cmpf uno, %[[X]], %[[X]]
  // CHECK: %[[MATCH:.*]] = arith.ori %[[EQ]], %[[NAN]]
  // CHECK: linalg.index 1
  // CHECK: %[[CAND:.*]] = arith.select %[[MATCH]], %{{.*}}, %[[MAX]]
  // CHECK: arith.minsi %[[CAND]], %[[ACC]]
  %0 = ember.argmin %x dim = 1 : tensor<?x8xf32> -> tensor<?xi64>
  // CHECK: linalg.fill ins(%[[MAX]] : i64)
  // CHECK: linalg.generic {{.*}} iterator_types = ["reduction", "parallel"]
  // CHECK: arith.cmpi slt
  // CHECK: linalg.index 0
  // CHECK: tensor.expand_shape
  %1 = ember.argmin %y dim = 0 keepdim : tensor<5x?xi64> -> tensor<1x?xi64>
  return %0, %1 : tensor<?xi64>, tensor<1x?xi64>
}

// -----

// Integer argmax over the last dim: maxsi, then the first index equal to it.
// CHECK-LABEL: func @argmax_last_int
func.func @argmax_last_int(%x: tensor<3x?xi32>) -> tensor<3x1xi64> {
  // CHECK-DAG: %[[LOW:.*]] = arith.constant -2147483648 : i32
  // CHECK-DAG: %[[NONE:.*]] = arith.constant 9223372036854775807 : i64
  // CHECK: linalg.fill ins(%[[LOW]] : i32)
  // CHECK: linalg.generic
  // CHECK: arith.maxsi
  // CHECK: linalg.fill ins(%[[NONE]] : i64)
  // CHECK: linalg.generic
  // CHECK: arith.cmpi eq
  // CHECK: linalg.index 1
  // CHECK: arith.select %{{.*}}, %{{.*}}, %[[NONE]]
  // CHECK: arith.minsi
  // CHECK: tensor.expand_shape
  %0 = ember.argmax %x dim = 1 keepdim : tensor<3x?xi32> -> tensor<3x1xi64>
  return %0 : tensor<3x1xi64>
}

// -----

// Gather loops over the result, reads the indices along the gathered dims
// and the source with tensor.extract; a negative index adds the dim size.
// CHECK-DAG: #[[IDX:.*]] = affine_map<(d0, d1, d2, d3) -> (d1, d2)>
// CHECK-DAG: #[[OUT:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
// CHECK-LABEL: func @gather
// CHECK-SAME: %[[X:[^:]*]]: tensor<?x10x3xf32>, %[[I:[^:]*]]: tensor<2x?xi32>
func.func @gather(%x: tensor<?x10x3xf32>, %i: tensor<2x?xi32>) -> tensor<?x2x?x3xf32> {
  // CHECK-DAG: %[[C10:.*]] = arith.constant 10 : index
  // CHECK-DAG: %[[N:.*]] = tensor.dim %[[X]], %c0
  // CHECK-DAG: %[[M:.*]] = tensor.dim %[[I]], %c1
  // CHECK: tensor.empty(%[[N]], %[[M]]) : tensor<?x2x?x3xf32>
  // CHECK: linalg.generic {indexing_maps = [#[[IDX]], #[[OUT]]], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%[[I]] : tensor<2x?xi32>)
  // CHECK: ^bb0(%[[IN:.*]]: i32, %{{.*}}: f32):
  // CHECK: %[[K:.*]] = arith.index_cast %[[IN]] : i32 to index
  // CHECK: %[[NEG:.*]] = arith.cmpi slt, %[[K]], %c0
  // CHECK: %[[WRAP:.*]] = arith.addi %[[K]], %[[C10]]
  // CHECK: %[[D0:.*]] = linalg.index 0
  // CHECK: %[[POS:.*]] = arith.select %[[NEG]], %[[WRAP]], %[[K]]
  // CHECK: %[[D3:.*]] = linalg.index 3
  // CHECK: %[[E:.*]] = tensor.extract %[[X]][%[[D0]], %[[POS]], %[[D3]]]
  // CHECK: linalg.yield %[[E]]
  %0 = ember.gather %x, %i dim = 1 : tensor<?x10x3xf32>, tensor<2x?xi32> -> tensor<?x2x?x3xf32>
  return %0 : tensor<?x2x?x3xf32>
}

// -----

// insert_slice writes the window ember.slice would read: static offsets
// where the dim is static, clamped run-time ones where it is dynamic; the
// sizes are the source's.
// CHECK-LABEL: func @insert_slice
// CHECK-SAME: %[[S:[^:]*]]: tensor<?x3xf32>, %[[D:[^:]*]]: tensor<?x10xf32>
func.func @insert_slice(%s: tensor<?x3xf32>, %d: tensor<?x10xf32>) -> tensor<?x10xf32> {
  // CHECK: %[[N:.*]] = tensor.dim %[[D]], %c0
  // CHECK: %[[SHIFTED:.*]] = arith.addi %{{.*}}, %[[N]]
  // CHECK: %[[LOW:.*]] = arith.maxsi %[[SHIFTED]], %c0
  // CHECK: %[[START:.*]] = arith.minsi %[[LOW]], %[[N]]
  // CHECK: %[[M:.*]] = tensor.dim %[[S]], %c0
  // CHECK: tensor.insert_slice %[[S]] into %[[D]][%[[START]], 1] [%[[M]], 3] [2, 3] : tensor<?x3xf32> into tensor<?x10xf32>
  %0 = ember.insert_slice %s into %d start = [-5, 1] stop = [9223372036854775807, 8] step = [2, 3] : tensor<?x3xf32> into tensor<?x10xf32>
  return %0 : tensor<?x10xf32>
}

// -----

// Half types are made from f32, as torch makes them: f64 rounds to f32 first.
// CHECK-LABEL: func @casts
func.func @casts(%x: tensor<4xf64>, %h: tensor<4xf16>, %i: tensor<4xi32>) -> (tensor<4xbf16>, tensor<4xbf16>, tensor<4xi1>, tensor<4xf32>) {
  // CHECK: %[[S:.*]] = arith.truncf %{{.*}} : f64 to f32
  // CHECK: arith.truncf %[[S]] : f32 to bf16
  %0 = ember.cast %x : tensor<4xf64> to tensor<4xbf16>
  // CHECK: %[[W:.*]] = arith.extf %{{.*}} : f16 to f32
  // CHECK: arith.truncf %[[W]] : f32 to bf16
  %1 = ember.cast %h : tensor<4xf16> to tensor<4xbf16>
  // CHECK: arith.cmpi ne, %{{.*}}, %{{.*}} : i32
  %2 = ember.cast %i : tensor<4xi32> to tensor<4xi1>
  // CHECK: arith.uitofp %{{.*}} : i1 to f32
  %3 = ember.cast %2 : tensor<4xi1> to tensor<4xf32>
  return %0, %1, %2, %3 : tensor<4xbf16>, tensor<4xbf16>, tensor<4xi1>, tensor<4xf32>
}

// -----

// scatter_add is a sequential loop nest over the updates that reads, adds
// and writes back one dest element at a time, so repeated indices add up; a
// negative index adds the dim size as in gather.
// CHECK-LABEL: func @scatter_add
// CHECK-SAME: %[[D:[^:]*]]: tensor<?x8xf32>, %[[I:[^:]*]]: tensor<2xi64>, %[[U:[^:]*]]: tensor<?x2xf32>
func.func @scatter_add(%d: tensor<?x8xf32>, %i: tensor<2xi64>, %u: tensor<?x2xf32>) -> tensor<?x8xf32> {
  // CHECK-DAG: %[[C8:.*]] = arith.constant 8 : index
  // CHECK-DAG: %[[N:.*]] = tensor.dim %[[U]], %c0
  // CHECK: %[[R:.*]] = scf.for %[[A:.*]] = %c0 to %[[N]] step %c1 iter_args(%[[T0:.*]] = %[[D]]) -> (tensor<?x8xf32>)
  // CHECK: scf.for %[[B:.*]] = %c0 to %c2 step %c1 iter_args(%[[T:.*]] = %[[T0]]) -> (tensor<?x8xf32>)
  // CHECK: %[[V:.*]] = tensor.extract %[[U]][%[[A]], %[[B]]]
  // CHECK: %[[RAW:.*]] = tensor.extract %[[I]][%[[B]]]
  // CHECK: %[[K:.*]] = arith.index_cast %[[RAW]] : i64 to index
  // CHECK: %[[NEG:.*]] = arith.cmpi slt, %[[K]], %c0
  // CHECK: %[[WRAP:.*]] = arith.addi %[[K]], %[[C8]]
  // CHECK: %[[POS:.*]] = arith.select %[[NEG]], %[[WRAP]], %[[K]]
  // CHECK: %[[OLD:.*]] = tensor.extract %[[T]][%[[A]], %[[POS]]]
  // CHECK: %[[SUM:.*]] = arith.addf %[[OLD]], %[[V]]
  // CHECK: %[[NEW:.*]] = tensor.insert %[[SUM]] into %[[T]][%[[A]], %[[POS]]]
  // CHECK: scf.yield %[[NEW]]
  // CHECK: return %[[R]]
  %0 = ember.scatter_add %d, %i, %u dim = 1 : tensor<?x8xf32>, tensor<2xi64>, tensor<?x2xf32>
  return %0 : tensor<?x8xf32>
}

// -----

// CHECK-LABEL: func @erf
// CHECK: linalg.generic
// CHECK: math.erf
func.func @erf(%x: tensor<?xf32>) -> tensor<?xf32> {
  %0 = ember.erf %x : tensor<?xf32>
  return %0 : tensor<?xf32>
}

// -----

// Run-time bounds follow Python's rules like static ones: a negative start
// counts from the end, both clamp to the dim, the count rounds up by step.
// CHECK-LABEL: func @runtime_slice
// CHECK-SAME: %[[X:[^:]*]]: tensor<?x10xf32>, %[[I:[^:]*]]: index, %[[J:[^:]*]]: index
func.func @runtime_slice(%x: tensor<?x10xf32>, %i: index, %j: index) -> tensor<?x?xf32> {
  // CHECK: %[[NEG:.*]] = arith.cmpi slt, %[[I]], %c0
  // CHECK: %[[SHIFT:.*]] = arith.addi %[[I]], %{{.*}}
  // CHECK: arith.select %[[NEG]], %[[SHIFT]], %[[I]]
  // CHECK: arith.ceildivsi %{{.*}}, %c2
  // CHECK: tensor.extract_slice %[[X]][%{{.*}}, %{{.*}}] [%{{.*}}, %{{.*}}] [2, 1]
  %0 = ember.slice %x start = [%i, %i] stop = [%j, %j] step = [2, 1] : tensor<?x10xf32> -> tensor<?x?xf32>
  return %0 : tensor<?x?xf32>
}

// -----

// Each element-wise op's scalar body comes from its ElementwiseOpInterface.
// CHECK-LABEL: func @math
func.func @math(%a: tensor<4xf32>, %b: tensor<4xf32>, %i: tensor<4xi64>) -> (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xi64>, tensor<4xf32>) {
  // CHECK: math.sin
  %0 = ember.sin %a : tensor<4xf32>
  // CHECK: math.roundeven
  %1 = ember.round %a : tensor<4xf32>
  // CHECK: math.log1p
  %2 = ember.log1p %a : tensor<4xf32>
  // Python's %: the truncated remainder moved by one divisor when the signs differ.
  // CHECK: arith.remf
  // CHECK: arith.xori
  // CHECK: arith.addf
  %3 = ember.remainder %a, %b : tensor<4xf32>, tensor<4xf32> -> tensor<4xf32>
  // CHECK: arith.select
  // CHECK: arith.select
  %4 = ember.sign %i : tensor<4xi64>
  // CHECK: math.atan2
  %5 = ember.atan2 %a, %b : tensor<4xf32>, tensor<4xf32> -> tensor<4xf32>
  return %0, %1, %2, %3, %4, %5 : tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xi64>, tensor<4xf32>
}

// -----

// A reshape that knows its dim groups is a collapse then an expand (views
// of a strided input); one without groups needs a dense input.
// CHECK-LABEL: func @reshape_groups
// CHECK-SAME: (%[[X:[^:]*]]: tensor<1x?x?xf32>, %[[Q:[^:]*]]: tensor<?x?xf32>, %[[A:[^:]*]]: index, %[[H:[^:]*]]: index, %[[D:[^:]*]]: index)
func.func @reshape_groups(%x: tensor<1x?x?xf32>, %q: tensor<?x?xf32>, %a: index, %h: index, %d: index)
    -> (tensor<?x?xf32>, tensor<?x?x?xf32>, tensor<?x?x?xf32>) {
  // CHECK: %[[SEL:.*]] = tensor.collapse_shape %[[X]] {{\[\[}}0, 1], [2]] : tensor<1x?x?xf32> into tensor<?x?xf32>
  // CHECK-NOT: tensor.expand_shape %[[SEL]]
  %0 = ember.reshape %x[%a, %d] {groups = array<i64: 2, 1, 1, 1>} : tensor<1x?x?xf32> -> tensor<?x?xf32>
  // CHECK: %[[HEADS:.*]] = tensor.expand_shape %[[Q]] {{\[\[}}0], [1, 2]] output_shape [%[[A]], %[[H]], %[[D]]] : tensor<?x?xf32> into tensor<?x?x?xf32>
  %1 = ember.reshape %q[%a, %h, %d] {groups = array<i64: 1, 1, 1, 2>} : tensor<?x?xf32> -> tensor<?x?x?xf32>
  // CHECK: tensor.reshape %[[Q]]
  %2 = ember.reshape %q[%a, %h, %d] : tensor<?x?xf32> -> tensor<?x?x?xf32>
  // CHECK: return %[[SEL]], %[[HEADS]]
  return %0, %1, %2 : tensor<?x?xf32>, tensor<?x?x?xf32>, tensor<?x?x?xf32>
}

// -----

// A group of (6) into (2, ?): static on one side only, which the tensor
// reshape ops' types cannot say: the reshape stays a tensor.reshape.
// CHECK-LABEL: func @reshape_groups_static_mismatch
func.func @reshape_groups_static_mismatch(%x: tensor<6xf32>, %n: index) -> tensor<2x?xf32> {
  // CHECK-NOT: tensor.expand_shape
  // CHECK: tensor.reshape
  %0 = ember.reshape %x[%n] {groups = array<i64: 1, 2>} : tensor<6xf32> -> tensor<2x?xf32>
  return %0 : tensor<2x?xf32>
}
