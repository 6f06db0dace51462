//===- TransformsPasses.td - passes over ember functions ---*- tablegen -*-===//
//
// Passes on ember functions and on bufferized ones, not tied to one back end
// (compiler/lib/Transforms).
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_COMPILER_TRANSFORMSPASSES_TD
#define EMBER_COMPILER_TRANSFORMSPASSES_TD

include "mlir/Pass/PassBase.td"

def EmberDecompose : Pass<"ember-decompose", "mlir::func::FuncOp"> {
  let summary = "Expand composite ember ops (softmax, log_softmax) into primitives";
  let description = [{
    Rewrites composite ops so later passes see only primitive ops. Softmax
    subtracts the max along `dim` before `exp` so large inputs do not
    overflow:

    ```mlir
    %y = ember.softmax %x dim = 1 : tensor<?x8xf32>
    // becomes
    %m = ember.max %x dims = [1] keepdim : tensor<?x8xf32> -> tensor<?x1xf32>
    %s = ember.sub %x, %m : tensor<?x8xf32>, tensor<?x1xf32> -> tensor<?x8xf32>
    %e = ember.exp %s : tensor<?x8xf32>
    %z = ember.sum %e dims = [1] keepdim : tensor<?x8xf32> -> tensor<?x1xf32>
    %y = ember.div %e, %z : tensor<?x8xf32>, tensor<?x1xf32> -> tensor<?x8xf32>
    ```

    `cross_entropy_rows` and its backward compare the target with the class
    ids 0..C-1: a constant row when C is static, a `linalg.generic` of
    `linalg.index` when it is dynamic (the dialect has no iota op).
  }];
  let dependentDialects = ["ember::EmberDialect", "mlir::arith::ArithDialect",
                           "mlir::linalg::LinalgDialect",
                           "mlir::tensor::TensorDialect"];
}

def EmberStripCustomVjp : Pass<"ember-strip-custom-vjp", "mlir::func::FuncOp"> {
  let summary = "Replace custom_vjp ops by the forward values they carry";
  let description = [{
    `ember.custom_vjp` only matters to `ember-autodiff` (its region is the
    user's backward); lowering runs after every gradient program was
    built, so each op becomes the forward outputs it carries:

    ```mlir
    %y = ember.custom_vjp(%x, %y0) {num_primals = 1 : i64} : ... ({...})
    %z = ember.exp %y
    // becomes
    %z = ember.exp %y0
    ```
  }];
}

def EmberAutodiff : Pass<"ember-autodiff", "mlir::ModuleOp"> {
  let summary = "Build reverse-mode gradient (VJP) functions of ember functions";
  let description = [{
    For each function (`func=<name>`, default: every public function that
    has no `<name>_vjp` yet) adds a public function `<name>_vjp` that takes
    the original arguments plus one cotangent per result and returns the
    original results followed by the gradient of
    `sum_i cotangent_i * result_i` with respect to each `wrt` argument
    (default: every floating-point tensor argument). An argument that does
    not reach the results gets zeros.

    ```mlir
    func.func @f(%x: tensor<?xf32>) -> tensor<?xf32> {
      %y = ember.exp %x : tensor<?xf32>
      return %y : tensor<?xf32>
    }
    // adds
    func.func @f_vjp(%x: tensor<?xf32>, %g: tensor<?xf32>) -> (tensor<?xf32>, tensor<?xf32>) {
      %y = ember.exp %x : tensor<?xf32>
      %dx = ember.mul %g, %y : tensor<?xf32>, tensor<?xf32> -> tensor<?xf32>
      return %y, %dx : tensor<?xf32>, tensor<?xf32>
    }
    ```

    The backward pass walks the function's block in reverse, sums the
    cotangents of a value with several users with `ember.add`, and builds
    each op's VJP through `DifferentiableOpInterface`, with ember ops only:
    running the pass again on `@f_vjp` gives second derivatives. An op
    between the arguments and the results without the interface is an error
    at its location. The new function is canonicalized and CSE'd.

    Forward values the backward reads are kept (plain SSA reuse) by default;
    `recompute=true` instead clones, before each VJP rule, the forward ops
    it reads, trading compute (O(n^2) for a chain of n ops) for values held
    from the forward to the backward. CSE would merge the copies back, so
    that mode is only canonicalized.
  }];
  let options = [
    Option<"funcName", "func", "std::string", /*default=*/"\"\"",
           "The function to differentiate (default: every public function "
           "without a VJP function)">,
    ListOption<"wrt", "wrt", "unsigned",
               "Indices of the arguments to differentiate (default: every "
               "floating-point tensor argument)">,
    Option<"recompute", "recompute", "bool", /*default=*/"false",
           "Recompute forward values inside the backward instead of keeping "
           "them">,
  ];
  let dependentDialects = [
    "ember::EmberDialect", "mlir::arith::ArithDialect",
    "mlir::tensor::TensorDialect"
  ];
}

def EmberFuseElementwise : Pass<"ember-fuse-elementwise", "mlir::func::FuncOp"> {
  let summary = "Fuse element-wise linalg.generic producers into their consumers";
  let description = [{
    Merges a chain like `sigmoid(a * b + c) * d - a` into one loop nest so
    intermediate tensors are never written to memory. A producer is fused
    only into its single consumer, so no work is duplicated.

    A `tensor.extract_slice` (a view: `x[0]`, a split part) of an
    all-parallel generic becomes the generic on slices of its operands
    (tiled through the TilingInterface) where the slice is its only reader,
    or where the generic only moves data (a transpose read by several
    slices), so `(x + 1)[:, 1:3] * 2` computes the slice of `x + 1` only,
    fused, and a slice of a transpose reads its input in place. A
    `tensor.collapse_shape` of a slice whose merged dims are whole but for
    the outer one becomes a slice of the collapsed source, which stays a
    view after bufferization.
  }];
  let dependentDialects = ["mlir::linalg::LinalgDialect",
                           "mlir::affine::AffineDialect",
                           "mlir::arith::ArithDialect",
                           "mlir::tensor::TensorDialect"];
}

def EmberSplitFullReductions : Pass<"ember-split-full-reductions", "mlir::func::FuncOp"> {
  let summary = "Compute reductions of a whole tensor as partials over fixed chunks, in parallel";
  let description = [{
    After ember-fuse-elementwise, on the CPU. A linalg.generic that reduces
    every dim into a rank-0 output (`x.sum()`, `x.max()`, `(x * x).sum()`),
    with inputs of one shape read with identity maps and a body
    `combine(out, f(inputs))` whose combiner has a neutral element, becomes:
    the inputs flattened; an `scf.forall` over the whole chunks of 16384
    elements, each an `scf.for` from the neutral element with the
    accumulator carried in a register (vectorized by LLVM under the body's
    reassociation flags) writing one partial; then one sequential loop
    that combines the initial value with the partials in order and with
    the elements after the last whole chunk. The chunking depends only on
    the element count, so results are bitwise the same on any number of
    threads. Inputs with a static count under two chunks stay as they are.
    `x.sum()` over 16M f32 took 11 ms as one loop (a chain of dependent adds).

    ```mlir
    %r = linalg.generic {iterator_types = ["reduction", "reduction"], ...}
        ins(%x : tensor<?x?xf32>) outs(%zero : tensor<f32>) {...}
    // becomes
    %flat = tensor.collapse_shape %x [[0, 1]]
    %partials = scf.forall (%c) in (%n / 16384) shared_outs(%p = ...) {
      %acc = scf.for %j = 0 to 16384 iter_args(%a = 0.0) {...}
      ...
    }
    %total = scf.for %c = 0 to %n / 16384 iter_args(%a = %init) {...}
    %all = scf.for %j = %n / 16384 * 16384 to %n iter_args(%a = %total) {...}
    %r = tensor.insert %all into %zero[]
    ```
  }];
  let dependentDialects = ["mlir::arith::ArithDialect", "mlir::scf::SCFDialect",
                           "mlir::tensor::TensorDialect"];
}

def EmberSoftmaxRows : Pass<"ember-softmax-rows", "mlir::func::FuncOp"> {
  let summary = "Lower softmax and log_softmax (and their backward) over the innermost dim row by row";
  let description = [{
    Rewrites `ember.softmax` and `ember.log_softmax` over the last dim into
    an `scf.forall` over the rows (`tensor.parallel_insert_slice` puts each
    row back, so the rows run in parallel) whose body makes three passes
    over one row: the max, the sum of `exp(x - max)` (softmax stores each
    exp in the output), then the scaling by `1 / sum` (log_softmax:
    `(x - max) - log(sum)`). A row is contiguous and small enough to stay
    in L1 between the passes, so the input is read from memory once and
    the output written once; `ember-decompose`'s form streams the tensor
    through memory once per pass. `ember.softmax_backward` and
    `ember.log_softmax_backward` get two passes over a row of the cotangent
    and the result: the row's sum, then the gradient. Sums carry
    `fastmath<reassoc>` so LLVM vectorizes them. f16 and bf16 compute in
    f32. Other dims are left for `ember-decompose`. `ember.cross_entropy_rows`
    (the row's max and sum of exps, then one loss `log(sum) - (x[t] - max)`
    per row, 0 for an ignored or out-of-range target) and
    `ember.cross_entropy_rows_backward` (max, sum, then
    `g * (exp(x - max) / sum - (j == t))`) are lowered the same way.

    ```mlir
    %y = ember.softmax %x dim = 1 : tensor<?x?xf32>
    // becomes
    %y = scf.forall (%i) in (%rows) shared_outs(%o = %empty) {
      %x_row = tensor.extract_slice %x[%i, 0] [1, %n] [1, 1]
      %out = tensor.extract_slice %o[%i, 0] [1, %n] [1, 1]
      %m = scf.for %j ... iter_args(%acc = -inf) { arith.maximumf }
      %s, %e = scf.for %j ... { math.exp, arith.addf fastmath<reassoc>, tensor.insert }
      %r = arith.divf %one, %s
      %row = scf.for %j ... { tensor.extract, arith.mulf, tensor.insert }
      scf.forall.in_parallel {
        tensor.parallel_insert_slice %row into %o[%i, 0] [1, %n] [1, 1]
      }
    }
    ```
  }];
  let dependentDialects = [
    "mlir::arith::ArithDialect", "mlir::math::MathDialect",
    "mlir::scf::SCFDialect", "mlir::tensor::TensorDialect"
  ];
}

def EmberNormRows : Pass<"ember-norm-rows", "mlir::func::FuncOp"> {
  let summary = "Lower layer norm and RMS norm (and their backward) row by row";
  let description = [{
    Rewrites `ember.layer_norm`, `ember.rms_norm` and their backward
    composites into an `scf.forall` over the rows whose body makes all of
    its passes over one row while it is in L1, so each operand is read from
    memory once and the result written once:

    - layer_norm: the mean, the mean of the centred squares, then
      `(x - mean) * rstd * weight + bias`; rms_norm: the mean of the
      squares, then `x * rstd * weight`;
    - the backward: the row's statistics again, the sums of `g * weight`
      and `g * weight * (x - mean)`, then the input's gradient (the weight's
      and bias's are column sums the VJP builds apart).

    Sums carry `fastmath<reassoc>` so LLVM vectorizes them along the row;
    f16 and bf16 compute in f32.

    ```mlir
    %y = ember.layer_norm %x weight %w : tensor<?xf32> eps = 1.0e-05 : tensor<?x?xf32>
    // becomes
    %y = scf.forall (%i) in (%rows) shared_outs(%o = %empty) {
      %sum = scf.for %j ... { arith.addf fastmath<reassoc> }
      %sq = scf.for %j ... { arith.subf, arith.mulf, arith.addf fastmath<reassoc> }
      %row = scf.for %j ... { (x - mean) * rstd * w, tensor.insert }
      scf.forall.in_parallel { tensor.parallel_insert_slice %row into %o[%i, 0] ... }
    }
    ```
  }];
  let dependentDialects = ["mlir::arith::ArithDialect",
                           "mlir::math::MathDialect",
                           "mlir::scf::SCFDialect",
                           "mlir::tensor::TensorDialect"];
}

def EmberRecurrentLoops : Pass<"ember-recurrent-loops", "mlir::func::FuncOp"> {
  let summary = "Lower recurrent layers (RNN, LSTM, GRU) to loops over the steps";
  let description = [{
    Rewrites `ember.recurrent_sequence` into an `scf.for` over the run-time
    number of steps (so every sequence length runs the same code) whose body
    is one `ember.matmul` (`h W_hh^T`, the runtime GEMM on the CPU; with a
    projection a second one) and one `linalg.generic` over [B, H] with all
    of the step's gate math, writing the step's state and gate values into
    row t + 1 of the workspace (layout in `ember/Dialect/Recurrent.h`).
    `ember.recurrent_sequence_backward` becomes the loop from the last step
    to the first, carrying the state's gradient (h, and c for LSTM): per
    step one generic for the gates' gradients and one GEMM
    `dgates W_hh`. The state is carried in the loop's values and the
    workspace only written inside it, so bufferization works in place.

    ```mlir
    %ws = ember.recurrent_sequence %x, %h0 weight_hh %w : tensor<?x?xf32> cell = 0
            : tensor<?x?x?xf32>, tensor<?x?xf32> -> tensor<?x?x?xf32>
    // becomes
    %r:2 = scf.for %t = %c0 to %T step %c1 iter_args(%h = %h0, %ws = %init) {
      %x_t = tensor.extract_slice %x[%t, 0, 0] [1, %B, %GH] [1, 1, 1]
      %hw = ember.matmul %h, (ember.transpose %w)
      %h_new = linalg.generic ... { tanh(x + hw) }
      %ws_new = tensor.insert_slice %h_new into %ws[%t + 1, 0, 0] ...
      scf.yield %h_new, %ws_new
    }
    ```
  }];
  let dependentDialects = ["mlir::arith::ArithDialect",
                           "mlir::linalg::LinalgDialect",
                           "mlir::math::MathDialect",
                           "mlir::scf::SCFDialect",
                           "mlir::tensor::TensorDialect"];
}

def EmberShapeFunctions : Pass<"ember-shape-functions", "mlir::ModuleOp"> {
  let summary = "Give each public function a companion that computes its result shapes";
  let description = [{
    For each public `func.func @f` on tensors, adds a public `@f.shapes`
    with the same arguments that returns one `tensor<Nxi64>`: the sizes of
    every dim of every result of `@f`, in order (N is the results' total
    rank, at least 1). Its body is `@f`'s with the computation folded away
    (tensor.dim of a linalg result becomes the size its `tensor.empty` was
    made with), so it costs a few integer ops.

    A model loader calls it before allocating outputs: the sizes a model file
    declares for its outputs are checked against what the code will write,
    never trusted on their own. Run after `convert-ember-to-linalg` and
    before `ember-destination-abi` (which gives `@f.shapes` the
    destination-passing ABI too).

    ```mlir
    func.func @f(%a: tensor<?x4xf32>) -> tensor<?x4xf32>
    // gains
    func.func @f.shapes(%a: tensor<?x4xf32>) -> tensor<2xi64>
    ```
  }];
  let dependentDialects = [
    "mlir::arith::ArithDialect", "mlir::tensor::TensorDialect"
  ];
}

def EmberDestinationAbi : Pass<"ember-destination-abi", "mlir::ModuleOp"> {
  let summary = "Give public functions a destination-passing buffer ABI";
  let description = [{
    Rewrites each public `func.func` on tensors so the caller owns every
    buffer: tensor arguments become identity-layout memrefs, and each result
    becomes a trailing memref argument written with
    `bufferization.materialize_in_destination`. After
    `eliminate-empty-tensors` the last op writes straight into the caller's
    buffer. The function gets `llvm.emit_c_interface` and the name prefix
    `ember_entry_`, so that its symbol cannot clash with libc or libm.

    ```mlir
    func.func @f(%a: tensor<?xf32>) -> tensor<?xf32>
    // becomes
    func.func @ember_entry_f(%a: memref<?xf32>, %out0: memref<?xf32>)
    ```
  }];
  let dependentDialects = [
    "mlir::bufferization::BufferizationDialect", "mlir::memref::MemRefDialect"
  ];
}

def EmberApproximateMath : Pass<"ember-approximate-math", "mlir::func::FuncOp"> {
  let summary = "Replace f32 transcendental math ops by vectorizable polynomials";
  let description = [{
    `math.exp`, `math.log`, `math.tanh`, `math.erf` and friends on f32 would
    otherwise become scalar libm calls that block loop vectorization. f64 ops
    are left for `convert-math-to-libm`.
  }];
  let dependentDialects = [
    "mlir::arith::ArithDialect", "mlir::math::MathDialect",
    "mlir::vector::VectorDialect"
  ];
}

def EmberExpandShapeStrides : Pass<"ember-expand-shape-strides", "mlir::ModuleOp"> {
  let summary = "Lower memref.expand_shape to a reinterpret_cast of its source's strides";
  let description = [{
    Runs after bufferization, before `expand-strided-metadata`. An
    `ember.reshape` that splits a dim (the heads of an attention projection,
    `q.reshape(b, s, h, d)`) becomes an expand of a strided view; MLIR 22's
    `expand-strided-metadata` crashes on a `memref.expand_shape` whose group
    holds several dynamic dims (it reads their sizes from the type). This
    pass computes the view from the op's own `output_shape` instead: within
    a group, the last dim keeps the source dim's stride and each earlier one
    strides over the dims after it.

    ```mlir
    %e = memref.expand_shape %m [[0], [1, 2]] output_shape [%a, %h, %d]
        : memref<?x?xf32, strided<[?, 1], offset: ?>>
          into memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>
    // becomes
    %base, %offset, %sizes:2, %strides:2 = memref.extract_strided_metadata %m
    %s = arith.muli %d, %c1 : index   // folded
    %e = memref.reinterpret_cast %base to offset: [%offset],
        sizes: [%a, %h, %d], strides: [%strides#0, %d, 1]
    ```
  }];
  let dependentDialects = ["mlir::arith::ArithDialect", "mlir::memref::MemRefDialect"];
}

def EmberDecomposeConv : Pass<"ember-decompose-conv", "mlir::func::FuncOp"> {
  let summary = "Rewrite ember.conv as im2col windows and one matmul";
  let description = [{
    The convolutions `ember-conv-to-runtime` leaves (every one on the GPU
    back ends; other element types than f32 on the CPU) become the im2col
    composite of python/ember/nn/_conv.py: the zero-padded input's strided
    window at each kernel offset, stacked into columns, times the weight as
    a matrix (batched over groups). The weight's shape (the kernel size)
    must be static; the batch and spatial sizes may be dynamic. An exported program keeps the one
    op, so it compiles for every target.

    ```mlir
    %y = ember.conv %x, %w {strides = array<i64: 1, 1>, ...}
    // becomes
    %p = ember.insert_slice %x into %zeros ...  // padding
    %c = ember.concat %win0, %win1, ... dim = 2 // (N, C, K, L)
    %y = ember.matmul %w2, %cols                // (O, C*K) x (N, C*K, L)
    ```
  }];
  let dependentDialects = ["mlir::tensor::TensorDialect"];
}

def EmberConcatInPlace : Pass<"ember-concat-in-place", "mlir::func::FuncOp"> {
  let summary = "Let the ops that make a tensor.concat's operands write into its result";
  let description = [{
    Before bufferization (CPU). `tensor.concat` bufferizes to a fresh
    buffer and one copy per operand: an imported CNN's max pool pads the
    stem's conv + bias + ReLU output (112x112x64 floats per image) with
    two concats, two full copies per forward. Where every operand (through
    casts and nested concats read once) is the one result, read once, of a
    destination-style op whose init is a `tensor.empty` read once, the
    concat becomes one `tensor.empty` of the whole result made before the
    first producer, each producer's init an `extract_slice` of it and each
    result put back with the matching `insert_slice` right after it:
    bufferization writes every operand in place, no copy. The sizes of the
    whole must be known before the first producer; otherwise the concat
    stays.

    ```mlir
    %p = linalg.generic ... outs(%e0 : tensor<?x64x1x112xf32>)
    %r = linalg.generic ... outs(%e1 : tensor<?x64x112x112xf32>)
    %c = tensor.concat dim(2) %p, %r
    // becomes
    %all = tensor.empty(%n) : tensor<?x64x113x112xf32>
    %s0 = tensor.extract_slice %all[0, 0, 0, 0] [%n, 64, 1, 112] [1, 1, 1, 1]
    %p = linalg.generic ... outs(%s0 : ...)
    %a0 = tensor.insert_slice %p into %all[0, 0, 0, 0] ...
    %s1 = tensor.extract_slice %a0[0, 0, 1, 0] [%n, 64, 112, 112] ...
    %r = linalg.generic ... outs(%s1 : ...)
    %c = tensor.insert_slice %r into %a0[0, 0, 1, 0] ...
    ```
  }];
  let dependentDialects = ["mlir::arith::ArithDialect", "mlir::tensor::TensorDialect"];
  let statistics = [
    Statistic<"numConcats", "concats", "concats whose operands are written in place">
  ];
}

#endif // EMBER_COMPILER_TRANSFORMSPASSES_TD
