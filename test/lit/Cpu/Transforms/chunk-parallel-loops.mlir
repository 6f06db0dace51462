// RUN: ember-opt %s -ember-chunk-parallel-loops -canonicalize | FileCheck %s

// Parallel kernels run [lo, hi) of one parallel dim; each call passes the
// whole range and a grain of ceil(32768 / work per iteration).

// Split the outer dim; 64 iterations inside each: grain 512. Both calls of
// the shared kernel are rewritten.
// CHECK-LABEL: func.func private @rows(
// CHECK-SAME:    %[[A:[^:]*]]: memref<?x64xf32>, %[[N:[^:]*]]: index, %[[LO:[^:]*]]: index, %[[HI:[^:]*]]: index, %{{[^:]*}}: index)
// CHECK-SAME:    ember.chunk_kernel
// CHECK:         scf.parallel (%[[I:.*]], %[[J:.*]]) = (%[[LO]], %c0) to (%[[HI]], %c64)
// CHECK:           memref.load %[[A]][%[[I]], %[[J]]]
func.func private @rows(%a: memref<?x64xf32>, %n: index)
    attributes {passthrough = ["noinline", "ember-kernel"]} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  scf.parallel (%i, %j) = (%c0, %c0) to (%n, %c64) step (%c1, %c1) {
    %x = memref.load %a[%i, %j] : memref<?x64xf32>
    %y = arith.mulf %x, %x : f32
    memref.store %y, %a[%i, %j] : memref<?x64xf32>
    scf.reduce
  }
  return
}

// Outer dim of 2 with two dims inside: the first two flattened into one
// range of 2 * m; 256 iterations each: grain 128.
// CHECK-LABEL: func.func private @batch(
// CHECK-SAME:    %[[B:[^:]*]]: memref<2x?x256xf32>, %[[M:[^:]*]]: index, %[[LO:[^:]*]]: index, %[[HI:[^:]*]]: index
// CHECK:         scf.parallel (%[[F:.*]], %[[K:.*]]) = (%[[LO]], %c0) to (%[[HI]], %c256)
// CHECK-DAG:       %[[OUT:.*]] = arith.divui %[[F]], %[[M]]
// CHECK-DAG:       %[[IN:.*]] = arith.remui %[[F]], %[[M]]
// CHECK:           memref.load %[[B]][%[[OUT]], %[[IN]], %[[K]]]
func.func private @batch(%b: memref<2x?x256xf32>, %m: index)
    attributes {passthrough = ["noinline", "ember-kernel"]} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c256 = arith.constant 256 : index
  scf.parallel (%p, %i, %k) = (%c0, %c0, %c0) to (%c2, %m, %c256) step (%c1, %c1, %c1) {
    %x = memref.load %b[%p, %i, %k] : memref<2x?x256xf32>
    memref.store %x, %b[%p, %i, %k] : memref<2x?x256xf32>
    scf.reduce
  }
  return
}

// Outer dim of 3 and one more: the second dim is split, the first runs
// inside each chunk (3 iterations: grain 10923).
// CHECK-LABEL: func.func private @wide(
// CHECK-SAME:    %[[W:[^:]*]]: memref<3x4096xf32>, %[[LO:[^:]*]]: index, %[[HI:[^:]*]]: index
// CHECK:         scf.parallel (%[[I:.*]], %[[J:.*]]) = (%c0, %[[LO]]) to (%c3, %[[HI]])
// CHECK:           memref.load %[[W]][%[[I]], %[[J]]]
func.func private @wide(%w: memref<3x4096xf32>)
    attributes {passthrough = ["noinline", "ember-kernel"]} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c3 = arith.constant 3 : index
  %c4096 = arith.constant 4096 : index
  scf.parallel (%i, %j) = (%c0, %c0) to (%c3, %c4096) step (%c1, %c1) {
    %x = memref.load %w[%i, %j] : memref<3x4096xf32>
    memref.store %x, %w[%i, %j] : memref<3x4096xf32>
    scf.reduce
  }
  return
}

// A row reduction: the reduced dim's (dynamic) length is the work per row.
// CHECK-LABEL: func.func private @row_sums(
// CHECK-SAME:    %[[LO:[^:]*]]: index, %[[HI:[^:]*]]: index, %{{[^:]*}}: index)
// CHECK:         scf.parallel (%[[I:.*]]) = (%[[LO]]) to (%[[HI]])
// CHECK:           scf.for
func.func private @row_sums(%x: memref<?x?xf32>, %out: memref<?xf32>, %n: index, %k: index)
    attributes {passthrough = ["noinline", "ember-kernel"]} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    scf.for %j = %c0 to %k step %c1 {
      %v = memref.load %x[%i, %j] : memref<?x?xf32>
      %s = memref.load %out[%i] : memref<?xf32>
      %t = arith.addf %s, %v : f32
      memref.store %t, %out[%i] : memref<?xf32>
    }
    scf.reduce
  }
  return
}

// A reduction over the first dim: each chunk of columns runs every row;
// chunks of the contiguous dim are at least 64 wide.
// CHECK-LABEL: func.func private @column_sums(
// CHECK-SAME:    %[[LO:[^:]*]]: index, %[[HI:[^:]*]]: index, %{{[^:]*}}: index)
// CHECK:         scf.for %[[I:.*]] = %c0 to %{{.*}} step %c1
// CHECK:           scf.parallel (%[[J:.*]]) = (%[[LO]]) to (%[[HI]])
func.func private @column_sums(%x: memref<?x1024xf32>, %out: memref<1024xf32>, %m: index)
    attributes {passthrough = ["noinline", "ember-kernel"]} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c1024 = arith.constant 1024 : index
  scf.for %i = %c0 to %m step %c1 {
    scf.parallel (%j) = (%c0) to (%c1024) step (%c1) {
      %v = memref.load %x[%i, %j] : memref<?x1024xf32>
      %s = memref.load %out[%j] : memref<1024xf32>
      %t = arith.addf %s, %v : f32
      memref.store %t, %out[%j] : memref<1024xf32>
      scf.reduce
    }
  }
  return
}

// Left alone: a sequential nest with a result, and a function that is not
// a kernel.
// CHECK-LABEL: func.func private @total(
// CHECK-SAME:    %{{[^:]*}}: memref<?xf32>, %{{[^:]*}}: index) -> f32
// CHECK-NOT:     ember.chunk_kernel
// CHECK-LABEL: func.func private @not_a_kernel(
// CHECK-SAME:    %{{[^:]*}}: memref<?xf32>, %{{[^:]*}}: index) {
// CHECK:         scf.parallel (%{{.*}}) = (%c0) to (%{{.*}}) step (%c1)
func.func private @total(%x: memref<?xf32>, %n: index) -> f32
    attributes {passthrough = ["noinline", "ember-kernel"]} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %s = scf.for %i = %c0 to %n step %c1 iter_args(%acc = %zero) -> f32 {
    %v = memref.load %x[%i] : memref<?xf32>
    %t = arith.addf %acc, %v : f32
    scf.yield %t : f32
  }
  return %s : f32
}
func.func private @not_a_kernel(%x: memref<?xf32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    %v = memref.load %x[%i] : memref<?xf32>
    memref.store %v, %x[%i] : memref<?xf32>
    scf.reduce
  }
  return
}

// CHECK-LABEL: func.func @glue(
// CHECK-SAME:    %[[A:[^:]*]]: memref<?x64xf32>, %[[A2:[^:]*]]: memref<?x64xf32>, %[[N:[^:]*]]: index,
// CHECK-SAME:    %[[B:[^:]*]]: memref<2x?x256xf32>, %[[M:[^:]*]]: index, %[[W:[^:]*]]: memref<3x4096xf32>,
// CHECK-SAME:    %[[X:[^:]*]]: memref<?x?xf32>, %[[O:[^:]*]]: memref<?xf32>, %[[K:[^:]*]]: index,
// CHECK-SAME:    %[[C:[^:]*]]: memref<?x1024xf32>, %[[CO:[^:]*]]: memref<1024xf32>)
// CHECK-DAG:     %[[C32768:.*]] = arith.constant 32768 : index
// CHECK-DAG:     %[[C512:.*]] = arith.constant 512 : index
// CHECK-DAG:     %[[C128:.*]] = arith.constant 128 : index
// CHECK-DAG:     %[[C10923:.*]] = arith.constant 10923 : index
// CHECK-DAG:     %[[C4096:.*]] = arith.constant 4096 : index
// CHECK-DAG:     %[[C1024:.*]] = arith.constant 1024 : index
// CHECK-DAG:     %[[C0:.*]] = arith.constant 0 : index
// CHECK:         call @rows(%[[A]], %[[N]], %[[C0]], %[[N]], %[[C512]])
// CHECK:         call @rows(%[[A2]], %[[N]], %[[C0]], %[[N]], %[[C512]])
// CHECK:         %[[FLAT:.*]] = arith.muli %[[M]], %c2
// CHECK:         call @batch(%[[B]], %[[M]], %[[C0]], %[[FLAT]], %[[C128]])
// CHECK:         call @wide(%[[W]], %[[C0]], %[[C4096]], %[[C10923]])
// CHECK:         %[[RW:.*]] = arith.maxsi %[[K]], %c1
// CHECK:         %[[RG:.*]] = arith.ceildivsi %[[C32768]], %[[RW]]
// CHECK:         call @row_sums(%[[X]], %[[O]], %[[N]], %[[K]], %[[C0]], %[[N]], %[[RG]])
// CHECK:         %[[CW:.*]] = arith.maxsi %[[M]], %c1
// CHECK:         %[[CG:.*]] = arith.ceildivsi %[[C32768]], %[[CW]]
// CHECK:         %[[CG64:.*]] = arith.maxsi %[[CG]], %c64
// CHECK:         call @column_sums(%[[C]], %[[CO]], %[[M]], %[[C0]], %[[C1024]], %[[CG64]])
func.func @glue(%a: memref<?x64xf32>, %a2: memref<?x64xf32>, %n: index,
                %b: memref<2x?x256xf32>, %m: index, %w: memref<3x4096xf32>,
                %x: memref<?x?xf32>, %o: memref<?xf32>, %k: index,
                %c: memref<?x1024xf32>, %co: memref<1024xf32>) -> f32 {
  call @rows(%a, %n) : (memref<?x64xf32>, index) -> ()
  call @rows(%a2, %n) : (memref<?x64xf32>, index) -> ()
  call @batch(%b, %m) : (memref<2x?x256xf32>, index) -> ()
  call @wide(%w) : (memref<3x4096xf32>) -> ()
  call @row_sums(%x, %o, %n, %k) : (memref<?x?xf32>, memref<?xf32>, index, index) -> ()
  call @column_sums(%c, %co, %m) : (memref<?x1024xf32>, memref<1024xf32>, index) -> ()
  call @not_a_kernel(%o, %n) : (memref<?xf32>, index) -> ()
  %s = call @total(%o, %n) : (memref<?xf32>, index) -> f32
  return %s : f32
}

// A dynamic (symbolic batch) outer dim with a static second dim of 8 or
// more is flattened with it when a dim or a loop remains inside, so batch 1
// splits too: range n * 197, 64 iterations each (grain 512); a row loop of
// 768 inside (a layer norm's rows): grain 43.
// CHECK-LABEL: func.func private @symbolic_batch(
// CHECK-SAME:    %[[X:[^:]*]]: memref<?x197x64xf32>, %[[N:[^:]*]]: index, %[[LO:[^:]*]]: index, %[[HI:[^:]*]]: index
// CHECK:         scf.parallel (%[[F:.*]], %[[K:.*]]) = (%[[LO]], %c0) to (%[[HI]], %c64)
// CHECK-DAG:       %[[OUT:.*]] = arith.divui %[[F]], %c197
// CHECK-DAG:       %[[IN:.*]] = arith.remui %[[F]], %c197
// CHECK:           memref.load %[[X]][%[[OUT]], %[[IN]], %[[K]]]
func.func private @symbolic_batch(%x: memref<?x197x64xf32>, %n: index)
    attributes {passthrough = ["noinline", "ember-kernel"]} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %c197 = arith.constant 197 : index
  scf.parallel (%b, %i, %k) = (%c0, %c0, %c0) to (%n, %c197, %c64) step (%c1, %c1, %c1) {
    %v = memref.load %x[%b, %i, %k] : memref<?x197x64xf32>
    memref.store %v, %x[%b, %i, %k] : memref<?x197x64xf32>
    scf.reduce
  }
  return
}

// CHECK-LABEL: func.func private @symbolic_batch_rows(
// CHECK-SAME:    %[[LO:[^:]*]]: index, %[[HI:[^:]*]]: index, %{{[^:]*}}: index)
// CHECK:         scf.parallel (%[[F:.*]]) = (%[[LO]]) to (%[[HI]])
// CHECK-DAG:       arith.divui %[[F]], %c197
// CHECK-DAG:       arith.remui %[[F]], %c197
// CHECK:           scf.for
func.func private @symbolic_batch_rows(%x: memref<?x197x768xf32>, %n: index)
    attributes {passthrough = ["noinline", "ember-kernel"]} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c197 = arith.constant 197 : index
  %c768 = arith.constant 768 : index
  scf.parallel (%b, %i) = (%c0, %c0) to (%n, %c197) step (%c1, %c1) {
    scf.for %j = %c0 to %c768 step %c1 {
      %v = memref.load %x[%b, %i, %j] : memref<?x197x768xf32>
      %w = arith.mulf %v, %v : f32
      memref.store %w, %x[%b, %i, %j] : memref<?x197x768xf32>
    }
    scf.reduce
  }
  return
}

// A dynamic second dim: the outer dim alone is split, as before.
// CHECK-LABEL: func.func private @dynamic_second(
// CHECK-SAME:    %[[LO:[^:]*]]: index, %[[HI:[^:]*]]: index, %{{[^:]*}}: index)
// CHECK:         scf.parallel (%{{.*}}, %{{.*}}, %{{.*}}) = (%[[LO]], %c0, %c0) to (%[[HI]], %{{.*}}, %c64)
func.func private @dynamic_second(%x: memref<?x?x64xf32>, %n: index, %m: index)
    attributes {passthrough = ["noinline", "ember-kernel"]} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  scf.parallel (%b, %i, %k) = (%c0, %c0, %c0) to (%n, %m, %c64) step (%c1, %c1, %c1) {
    %v = memref.load %x[%b, %i, %k] : memref<?x?x64xf32>
    memref.store %v, %x[%b, %i, %k] : memref<?x?x64xf32>
    scf.reduce
  }
  return
}

// CHECK-LABEL: func.func @glue_symbolic(
// CHECK-SAME:    %[[X:[^:]*]]: memref<?x197x64xf32>, %[[R:[^:]*]]: memref<?x197x768xf32>, %[[D:[^:]*]]: memref<?x?x64xf32>, %[[N:[^:]*]]: index, %[[M:[^:]*]]: index)
// CHECK-DAG:     %[[C512:.*]] = arith.constant 512 : index
// CHECK-DAG:     %[[C43:.*]] = arith.constant 43 : index
// CHECK-DAG:     %[[C0:.*]] = arith.constant 0 : index
// CHECK:         %[[FLAT:.*]] = arith.muli %[[N]], %c197
// CHECK:         call @symbolic_batch(%[[X]], %[[N]], %[[C0]], %[[FLAT]], %[[C512]])
// CHECK:         %[[FLAT2:.*]] = arith.muli %[[N]], %c197
// CHECK:         call @symbolic_batch_rows(%[[R]], %[[N]], %[[C0]], %[[FLAT2]], %[[C43]])
// CHECK:         call @dynamic_second(%[[D]], %[[N]], %[[M]], %[[C0]], %[[N]],
func.func @glue_symbolic(%x: memref<?x197x64xf32>, %r: memref<?x197x768xf32>,
                         %d: memref<?x?x64xf32>, %n: index, %m: index) {
  call @symbolic_batch(%x, %n) : (memref<?x197x64xf32>, index) -> ()
  call @symbolic_batch_rows(%r, %n) : (memref<?x197x768xf32>, index) -> ()
  call @dynamic_second(%d, %n, %m) : (memref<?x?x64xf32>, index, index) -> ()
  return
}

// A max pool's -inf border column (one float every 113: a cache line per
// iteration) counts 16 elements of work per iteration: range n * 64, 113
// iterations of 16 each, grain ceil(32768 / 1808) = 19. The border row
// beside it (contiguous) keeps 1 per iteration: grain ceil(32768 / 112) = 293.
// CHECK-LABEL: func.func @glue_border(
// CHECK-DAG:     %[[C19:.*]] = arith.constant 19 : index
// CHECK-DAG:     %[[C293:.*]] = arith.constant 293 : index
// CHECK:         call @border_column(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[C19]])
// CHECK:         call @border_row(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[C293]])
func.func private @border_column(%x: memref<?x64x113x1xf32, strided<[817216, 12769, 113, 1]>>, %n: index)
    attributes {passthrough = ["noinline", "ember-kernel"]} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %c113 = arith.constant 113 : index
  %inf = arith.constant 0xFF800000 : f32
  scf.parallel (%b, %c, %h) = (%c0, %c0, %c0) to (%n, %c64, %c113) step (%c1, %c1, %c1) {
    memref.store %inf, %x[%b, %c, %h, %c0] : memref<?x64x113x1xf32, strided<[817216, 12769, 113, 1]>>
    scf.reduce
  }
  return
}

func.func private @border_row(%x: memref<?x64x1x112xf32, strided<[817216, 12769, 113, 1], offset: 1>>, %n: index)
    attributes {passthrough = ["noinline", "ember-kernel"]} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %c112 = arith.constant 112 : index
  %inf = arith.constant 0xFF800000 : f32
  scf.parallel (%b, %c, %w) = (%c0, %c0, %c0) to (%n, %c64, %c112) step (%c1, %c1, %c1) {
    memref.store %inf, %x[%b, %c, %c0, %w] : memref<?x64x1x112xf32, strided<[817216, 12769, 113, 1], offset: 1>>
    scf.reduce
  }
  return
}

func.func @glue_border(%col: memref<?x64x113x1xf32, strided<[817216, 12769, 113, 1]>>,
                       %row: memref<?x64x1x112xf32, strided<[817216, 12769, 113, 1], offset: 1>>,
                       %n: index) {
  call @border_column(%col, %n) : (memref<?x64x113x1xf32, strided<[817216, 12769, 113, 1]>>, index) -> ()
  call @border_row(%row, %n) : (memref<?x64x1x112xf32, strided<[817216, 12769, 113, 1], offset: 1>>, index) -> ()
  return
}
