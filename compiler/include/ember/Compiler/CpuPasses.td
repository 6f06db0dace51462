//===- CpuPasses.td - the CPU pipeline's own passes --------*- tablegen -*-===//
//
// Passes only the CPU pipeline and the AOT shared objects run
// (compiler/lib/Cpu/Transforms).
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_COMPILER_CPUPASSES_TD
#define EMBER_COMPILER_CPUPASSES_TD

include "mlir/Pass/PassBase.td"

def EmberMatmulToBlas : Pass<"ember-matmul-to-blas", "mlir::ModuleOp"> {
  let summary = "Call the runtime's BLAS-backed GEMM for bufferized f32/f64 matmuls";
  let description = [{
    Replaces `linalg.matmul` and `linalg.batch_matmul` on f32/f64 memrefs by
    calls to `ember_cpu_{s,d}gemm[_batched]` (runtime/cpu), which call
    OpenBLAS with any row- or column-major strides. A matmul whose output
    was just filled with zeros (how ember.matmul lowers) calls the `_into`
    variant instead, which overwrites C (BLAS beta = 0), and the fill goes. Measured on this CPU,
    generated loop nests reach ~2 GFLOP/s and OpenBLAS ~100 per core.
  }];
  let dependentDialects = ["mlir::func::FuncDialect", "mlir::memref::MemRefDialect"];
}

def EmberFuseMatmulEpilogue : Pass<"ember-fuse-matmul-epilogue", "mlir::ModuleOp"> {
  let summary = "Fold the element-wise op reading an f32 GEMM's result into the GEMM call";
  let description = [{
    After ember-matmul-to-blas. A call `ember_cpu_sgemm[_batched]_into(A, B,
    C)` whose C is a temporary buffer read only by one element-wise
    `linalg.generic` computing `D = act(C + bias) + residual` or `act(C +
    bias + residual)` (each part optional; act one of relu, gelu in its erf
    form, silu, sigmoid, tanh, hardswish, hardsigmoid as Ember's ops lower
    them; bias and residual any f32 inputs broadcast along
    some dims) becomes `ember_cpu_sgemm[_batched]_fused(A, B, D, bias,
    residual, flags)`: the runtime GEMM applies the epilogue to each block
    of D while it is in cache, the generic and C's buffer go. Bias and
    residual are passed as views of D's shape (stride 0 along broadcast
    dims). Nothing fuses when C has another reader, the element type is not
    f32 (f64 stays on OpenBLAS), the body computes anything else, D may
    overlap A, B or the bias, or A or B may be written between the call and
    the generic; a residual that is D itself (an in-place add, no
    activation) makes the GEMM accumulate into D.

    ```mlir
    func.call @ember_cpu_sgemm_into(%a, %b, %c) : (...) -> ()
    linalg.generic ins(%cbuf, %bias : memref<?x?xf32>, memref<?xf32>) outs(%d : ...) {
      %0 = arith.addf %in, %in_0 : f32
      %1 = arith.maximumf %0, %cst : f32
      linalg.yield %1 : f32
    }
    // becomes
    func.call @ember_cpu_sgemm_fused(%a, %b, %dview, %biasview, %dview, %c257_i64)
    ```
  }];
  let dependentDialects = ["mlir::arith::ArithDialect", "mlir::func::FuncDialect",
                           "mlir::memref::MemRefDialect"];
  let statistics = [
    Statistic<"numFused", "fused", "GEMM calls that took over an element-wise epilogue">
  ];
}

def EmberHoistGemmPacking : Pass<"ember-hoist-gemm-packing", "mlir::ModuleOp"> {
  let summary = "Pack a GEMM's B operand once before the scf.for that reuses it";
  let description = [{
    After ember-fuse-matmul-epilogue. A call `ember_cpu_sgemm[_into|_fused](A,
    B, C, ...)` inside an `scf.for` whose B is a buffer defined before the
    loop (seen through `memref.transpose`/`memref.cast` views made in the
    loop) that the loop only reads becomes `ember_cpu_sgemm_packed[_into|
    _fused](A, B, C, ..., %handle)`, `%handle = ember_cpu_sgemm_pack_b(B)`
    (an `!llvm.ptr`) before the loop and `ember_cpu_sgemm_release_b(%handle)`
    after it: the runtime packs B into the micro-kernel's panels once
    instead of at every iteration (a recurrent layer's weight, read by
    every time step of ember-recurrent-loops).
  }];
  let dependentDialects = ["mlir::func::FuncDialect", "mlir::LLVM::LLVMDialect",
                           "mlir::memref::MemRefDialect"];
  let statistics = [
    Statistic<"numHoisted", "hoisted", "GEMM calls whose B is packed once before their loop">
  ];
}

def EmberTransposeTiles : Pass<"ember-transpose-tiles", "mlir::func::FuncOp"> {
  let summary = "Write element-wise nests that read a transposed view as register-transposed tiles";
  let description = [{
    After linalg becomes scf.parallel loops. A nest whose body is memref
    loads and stores and element-wise scalar ops, and that reads some
    input with the innermost loop's induction variable J at a strided
    position and another dim's, I, last (`x.t() + y`,
    `x.transpose(2, 3) * 1.5`), is cut into T x T tiles over I and J (T =
    16, 8 for 64-bit elements). A full tile reads the transposed input as
    T contiguous vectors along I and transposes them in registers (T log2 T
    `vector.shuffle`s), the other inputs as vectors along J or broadcast
    scalars, runs the body on `vector<T>` rows and stores T contiguous
    rows; edge tiles run the scalar body. Nests it cannot write this way
    (stores not contiguous along J, a read strided along J without I
    last, induction variables used as values) are left to LLVM's loop
    vectorizer. `x.transpose(2, 3) * 1.5` on (3, 8, 128, 256) f32 went from
    ~0.70 ms to ~0.11 ms (`x * 1.5`: ~0.07 ms), and a 2048 x 2048
    `x.t() + y` from ~34 ms to ~5 ms (measured on a loaded machine).

    ```mlir
    scf.parallel (%i, %j) = (%c0, %c0) to (%n, %m) step (%c1, %c1) {
      %x = memref.load %a[%j, %i] : memref<?x?xf32>
      memref.store %x, %out[%i, %j] : memref<?x?xf32>
    }
    // becomes
    scf.parallel (%i0, %j0) = (%c0, %c0) to (%n, %m) step (%c16, %c16) {
      scf.if %full_tile {
        // 16 x vector.load %a[%j0 + c, %i0], 64 x vector.shuffle,
        // 16 x vector.store %out[%i0 + r, %j0]
      } else {
        scf.for %i = %i0 to min(%i0 + 16, %n) { scf.for %j ... { scalar body } }
      }
    }
    ```
  }];
  let dependentDialects = ["mlir::arith::ArithDialect", "mlir::scf::SCFDialect",
                           "mlir::vector::VectorDialect"];
}

def EmberConvToRuntime : Pass<"ember-conv-to-runtime", "mlir::ModuleOp"> {
  let summary = "Call the runtime's kernels for f32 convolutions and max pools";
  let description = [{
    Rewrites `ember.conv`, `ember.conv_backward_data` and
    `ember.conv_backward_weight` on f32 tensors, before bufferization, into
    calls to `ember_cpu_conv[_backward_data|_backward_weight]_f32`
    (runtime/lib/CpuConv.cpp): im2col panels packed straight from the
    (strided) input into the GEMM micro-kernel's layout, tiles of output
    pixels in parallel on the thread pool, no im2col matrix. Every operand
    is viewed as 5-D `[N, C, D, H, W]` (unit spatial dims in front, an
    `expand_shape`, no copy) and passed with `bufferization.to_buffer`; the
    result is a fresh buffer the kernel fills, read back with
    `bufferization.to_tensor restrict writable`. The attributes become i64
    scalars (stride, low padding and dilation per dim, then groups). Other
    element types are left alone (the tracer emits the op only for f32 on
    the CPU). Runs after the first CSE, so a forward convolution that a
    gradient program repeats is one call.

    An f32 max pool with constant window bounds (an exported program's
    running maximum `select((v > best) | (v != v), v, best)` over one
    strided slice of the padded input per window offset, the offsets a
    row-major grid) becomes a call to `ember_cpu_max_pool_f32`
    (runtime/lib/CpuPool.cpp) on the padded input.

    ```mlir
    %y = ember.conv %x, %w {...} : tensor<?x?x?x?xf32>, ... -> tensor<?x?x?x?xf32>
    // becomes
    %x5 = tensor.expand_shape %x [[0], [1, 2], [3], [4]] ...
    %ym = memref.alloc(...) : memref<?x?x1x?x?xf32>
    call @ember_cpu_conv_f32(%xm, %wm, %ymc, %s0, ..., %groups)
    %y = tensor.collapse_shape (bufferization.to_tensor %ym restrict writable) ...
    ```
  }];
  let dependentDialects = ["mlir::arith::ArithDialect",
                           "mlir::bufferization::BufferizationDialect",
                           "mlir::func::FuncDialect",
                           "mlir::memref::MemRefDialect",
                           "mlir::tensor::TensorDialect"];
}

def EmberCollectivesToRuntime : Pass<"ember-collectives-to-runtime", "mlir::ModuleOp"> {
  let summary = "Call the runtime for ember.distributed's collectives";
  let description = [{
    Rewrites `ember.all_reduce`, before bufferization, into a call of
    `ember_collective_all_reduce_<f32|f64|f16|bf16|i32|i64>`
    (runtime/lib/CpuCollectives.cpp), which looks the process group up by
    number in the runtime's table (ProcessGroups.h) and all-reduces through
    its engine. The input is viewed as 1-D (a `collapse_shape`) and handed
    over with `bufferization.to_buffer read_only`; the result is a fresh
    1-D buffer the runtime fills (a copy of the input, then reduced in
    place), read back with `bufferization.to_tensor restrict writable` and
    expanded to the op's shape; the reduce op and the group are i64
    scalars. Calls are emitted in the ops' program order, which (the op has
    a write effect: nothing merged, dropped or reordered it) is the traced
    order, the same on every rank.

    ```mlir
    %y = ember.all_reduce %x {reduce_op = 0 : i64, group = 0 : i64} : tensor<4x8xf32>
    // becomes
    %flat = tensor.collapse_shape %x [[0, 1]] : tensor<4x8xf32> into tensor<32xf32>
    %out = memref.alloc(%n) : memref<?xf32>
    call @ember_collective_all_reduce_f32(%in, %outc, %c0_i64, %c0_i64)
    %y = tensor.expand_shape (tensor.cast (bufferization.to_tensor %out restrict writable)) ...
    ```
  }];
  let dependentDialects = ["mlir::arith::ArithDialect",
                           "mlir::bufferization::BufferizationDialect",
                           "mlir::func::FuncDialect",
                           "mlir::memref::MemRefDialect",
                           "mlir::tensor::TensorDialect"];
}

def EmberAttentionToRuntime : Pass<"ember-attention-to-runtime", "mlir::ModuleOp"> {
  let summary = "Call the runtime's blocked (flash) attention kernels for f32/f64 attention";
  let description = [{
    Rewrites `ember.attention` and `ember.attention_backward` on f32/f64
    tensors, before bufferization, into calls to
    `ember_cpu_attention[_backward]_{f32,f64}` (runtime/lib/CpuAttention.cpp):
    keys in blocks with an online softmax, so the L x S scores never exist
    (forward), the weights recomputed block by block from the saved
    logsumexp (backward), blocks of rows in parallel on the thread pool,
    the block products on Ember's GEMM. Operands are flattened to
    `[B, rows, cols]` and passed with `bufferization.to_buffer`; each result
    is a fresh buffer the kernel fills, read back with
    `bufferization.to_tensor restrict writable`. f16/bf16 (and every other
    target) are left to `ember-decompose`.

    ```mlir
    %o, %l = ember.attention %q, %k, %v scale = 1.250000e-01 causal : ...
    // becomes
    %qm = bufferization.to_buffer %q read_only : ... to memref<?x?x?xf32, strided<[?, ?, ?], offset: ?>>
    %om = memref.alloc(%b, %l, %ev) : memref<?x?x?xf32>
    call @ember_cpu_attention_f32(%qm, %km, %vm, %qm, %omc, %lmc, %scale, %flags)
    %o = bufferization.to_tensor %om restrict writable : ...
    ```
  }];
  let dependentDialects = ["mlir::arith::ArithDialect",
                           "mlir::bufferization::BufferizationDialect",
                           "mlir::func::FuncDialect",
                           "mlir::memref::MemRefDialect",
                           "mlir::tensor::TensorDialect"];
}

def EmberFlattenInnerDims : Pass<"ember-flatten-inner-dims", "mlir::func::FuncOp"> {
  let summary = "Run a nest's short trailing parallel dims as one dim over collapsed views";
  let description = [{
    After linalg becomes scf.parallel loops. An `scf.parallel` of four or
    more dims whose innermost dims have short static trip counts (under 64
    iterations: a squeeze-and-excitation block's `x * s` on 14 x 14 or 7 x 7
    planes), where every use of those dims' induction variables is a
    trailing index of a load or store of a buffer with those static sizes,
    contiguous across them (or where an access does not index them at all,
    a broadcast), runs them as one dim of their product over
    `memref.collapse_shape` views, so that LLVM's loop vectorizer sees one
    long contiguous loop instead of 14 or 7 iterations (mobilenet_v3_small's
    SE multiplies ~4x faster). Dims are merged from the innermost out while
    the merged trip count stays under 64, and the outer two dims are kept
    (ember-chunk-parallel-loops splits those).

    ```mlir
    scf.parallel (%b, %c, %h, %w) = (%c0, %c0, %c0, %c0) to (%n, %c240, %c14, %c14) step (...) {
      %s = memref.load %scale[%b, %c, %c0, %c0] : memref<?x240x1x1xf32>
      %x = memref.load %in[%b, %c, %h, %w] : memref<?x240x14x14xf32>
      memref.store %y, %out[%b, %c, %h, %w] : memref<?x240x14x14xf32>
    }
    // becomes
    %in2 = memref.collapse_shape %in [[0], [1], [2, 3]] : ... into memref<?x240x196xf32>
    scf.parallel (%b, %c, %p) = (%c0, %c0, %c0) to (%n, %c240, %c196) step (...) {
      %s = memref.load %scale[%b, %c, %c0, %c0] : memref<?x240x1x1xf32>
      %x = memref.load %in2[%b, %c, %p] : memref<?x240x196xf32>
      memref.store %y, %out2[%b, %c, %p] : memref<?x240x196xf32>
    }
    ```
  }];
  let dependentDialects = ["mlir::arith::ArithDialect",
                           "mlir::memref::MemRefDialect",
                           "mlir::scf::SCFDialect"];
}

def EmberOutlineLoops : Pass<"ember-outline-loops", "mlir::ModuleOp"> {
  let summary = "Move each top-level loop nest of a function into a function of its own";
  let description = [{
    After linalg becomes loops: every `scf.for`/`scf.parallel` directly in
    the body of a function becomes a call to a new private, never-inlined
    function (`<name>_loop<N>`, marked `ember-kernel`) that takes the values
    the nest reads from outside (constants are cloned in); identical nests
    share one function, and the glue left behind is marked `optnone`. LLVM's code generation (instruction
    selection, scheduling, register allocation) costs more than linearly in
    the size of a function: a transformer's training step, one function of
    ~1300 fused ops, took 15 s to generate; as one function per loop nest
    it takes a fraction of that, and the nests are vectorized as before.
  }];
  let dependentDialects = ["mlir::func::FuncDialect"];
}

def EmberChunkParallelLoops : Pass<"ember-chunk-parallel-loops", "mlir::ModuleOp"> {
  let summary = "Make each parallel kernel run a chunk [lo, hi) of its outer parallel dim";
  let description = [{
    After ember-outline-loops. A kernel (`ember-kernel`) whose one loop nest
    is an `scf.parallel`, or an `scf.for` around one, gets three trailing
    index arguments (lo, hi, grain), runs only the iterations [lo, hi) of
    one parallel dim, and is marked `ember.chunk_kernel`. The split dim is
    the outermost; when that has fewer than 8 static iterations, the first
    two parallel dims flattened into one (three or more dims) or the second
    dim (two dims). Each call passes the whole range [0, N) and a grain: the
    iterations a chunk needs to carry 32768 innermost iterations (and at
    least 64 when the split dim is the innermost loop), from the trip counts of the other parallel dims and of every loop inside (dynamic
    sizes computed at the call). ember-parallel-launch later spreads such
    calls over the runtime's thread pool; until then they run as before.

    ```mlir
    func.func private @f_loop0(%a: memref<?x64xf32>, %n: index)
        attributes {passthrough = ["noinline", "ember-kernel"]} {
      scf.parallel (%i, %j) = (%c0, %c0) to (%n, %c64) step (%c1, %c1) {...}
    }
    call @f_loop0(%a, %n)
    // becomes
    func.func private @f_loop0(%a: memref<?x64xf32>, %n: index, %lo: index,
        %hi: index, %grain: index) attributes {ember.chunk_kernel, ...} {
      scf.parallel (%i, %j) = (%lo, %c0) to (%hi, %c64) step (%c1, %c1) {...}
    }
    call @f_loop0(%a, %n, %c0, %n, %c512)
    ```
  }];
  let dependentDialects = ["mlir::arith::ArithDialect", "mlir::scf::SCFDialect"];
}

def EmberStreamingStores : Pass<"ember-streaming-stores", "mlir::ModuleOp"> {
  let summary = "Non-temporal vector stores for element-wise outputs larger than the last-level cache";
  let description = [{
    After ember-chunk-parallel-loops. An innermost `scf.parallel` whose flat
    body is memref loads and stores and element-wise scalar ops (every
    index an induction variable of the loop or a value from outside it; the
    innermost one, J, unit-step and only ever the last index of a
    unit-stride memref; the output not read by the body; no enclosing
    sequential loop) gets a second form, taken when its first store's
    memref holds at least `threshold-mib` MiB: per row (the other dims
    stay `scf.parallel`), the scalar body up to the first J whose output
    address is aligned to a vector, then `vector<16>` bodies (8 lanes with
    64-bit values) whose first store is `vector.store {nontemporal = true,
    alignment}`, then the scalar body for the rest of the row, and an
    `sfence` at the end (non-temporal stores are weakly ordered). Smaller
    outputs run the loop as before. Ordinary stores read each line into
    the cache before writing it (two trips through memory per write); a
    streaming store writes whole lines: the probe's triad runs 56.5 GB/s
    with streaming stores against 41 GB/s without (2 threads).

    ```mlir
    scf.parallel (%j) = (%lo) to (%hi) step (%c1) {
      %x = memref.load %a[%j] : memref<?xf32>
      memref.store %x, %out[%j] : memref<?xf32>
    }
    // becomes
    scf.if %large {
      scf.for %j = %lo to %head step %c1 { scalar body }
      scf.for %j0 = %head to %vend step %c16 {
        %v = vector.load %a[%j0] : memref<?xf32>, vector<16xf32>
        vector.store %v, %out[%j0] {alignment = 64, nontemporal = true} : ...
      }
      scf.for %j = %vend to %hi step %c1 { scalar body }
      llvm.call_intrinsic "llvm.x86.sse.sfence"() : () -> ()
    } else { the loop as it was }
    ```
  }];
  let options = [
    Option<"thresholdMiB", "threshold-mib", "unsigned", /*default=*/"32",
           "Output size (MiB) from which stores stream (the last-level cache here: 32 MiB)">
  ];
  let dependentDialects = ["mlir::arith::ArithDialect", "mlir::LLVM::LLVMDialect",
                           "mlir::memref::MemRefDialect", "mlir::scf::SCFDialect",
                           "mlir::vector::VectorDialect"];
}

def EmberParallelLaunch : Pass<"ember-parallel-launch", "mlir::ModuleOp"> {
  let summary = "Call chunk kernels through the runtime's ember_parallel_for";
  let description = [{
    Runs on the LLVM dialect, after func-to-llvm (and before
    ember-runtime-slots). Each call to an `ember.chunk_kernel` function
    (arguments, then lo, hi, grain) becomes: the arguments stored into a
    stack struct, and `ember_parallel_for(@<kernel>_tramp, ctx, lo, hi,
    grain)`; the new internal function `@<kernel>_tramp(ptr, i64 lo, i64 hi)`
    loads the arguments and calls the kernel on [lo, hi). The kernel stays
    one self-contained function (compiled and cached alone by the
    per-kernel JIT); the trampoline lives with its caller.
  }];
  let dependentDialects = ["mlir::LLVM::LLVMDialect"];
}

def EmberRuntimeSlots : Pass<"ember-runtime-slots", "mlir::ModuleOp"> {
  let summary = "Call runtime functions through pointer slots a loader fills";
  let description = [{
    Runs on the LLVM dialect, after the CPU lowering. Each call to a runtime
    function (by default every name in `ember::cpuRuntimeSymbols()`: the
    GEMMs, `memrefCopy`, the allocator hooks) becomes an indirect call
    through a zero-initialized external global `__ember_rt_<name>`, and the
    function's declaration is removed. A shared object built from the code
    then has no undefined Ember symbols: the runtime's loader writes each
    function's address into its slot after `dlopen`, so the object needs no
    link-time dependency on (or symbol interposition with) the runtime.

    ```mlir
    llvm.func @memrefCopy(i64, !llvm.ptr, !llvm.ptr)
    llvm.call @memrefCopy(%n, %a, %b) : (i64, !llvm.ptr, !llvm.ptr) -> ()
    // becomes
    llvm.mlir.global external @__ember_rt_memrefCopy() : !llvm.ptr {
      %0 = llvm.mlir.zero : !llvm.ptr
      llvm.return %0 : !llvm.ptr
    }
    %slot = llvm.mlir.addressof @__ember_rt_memrefCopy : !llvm.ptr
    %f = llvm.load %slot : !llvm.ptr -> !llvm.ptr
    llvm.call %f(%n, %a, %b) : !llvm.ptr, (i64, !llvm.ptr, !llvm.ptr) -> ()
    ```
  }];
  let options = [
    ListOption<"symbols", "symbols", "std::string",
               "Functions to call through slots (default: the CPU runtime's)">
  ];
  let dependentDialects = ["mlir::LLVM::LLVMDialect"];
}

def EmberCustomCallToRuntime : Pass<"ember-custom-call-to-runtime",
                                    "mlir::ModuleOp"> {
  let summary = "Call registered C++ custom ops through the runtime";
  let description = [{
    Rewrites each `ember.custom_call`, before bufferization, into two runtime
    calls on one call descriptor (a `memref<?xi64>` on the stack, layout in
    runtime/include/ember/Runtime/CustomOpRegistry.h): the op's name and
    attributes as constant words, each input's dtype, rank, aligned pointer,
    offset, sizes and strides (`bufferization.to_buffer` read-only, any
    layout), and each output's dtype and rank. `ember_custom_call_shapes`
    runs the op's shape function on the inputs' run-time sizes and writes
    the outputs' sizes (and dense strides) into the descriptor; the outputs
    are allocated at those sizes, their pointers stored, and
    `ember_custom_call` runs the op's CPU kernel. The results are the
    allocations read back with `bufferization.to_tensor restrict writable`.
    Unused custom calls are erased first (a call is not dead code).

    ```mlir
    %y = ember.custom_call "mylib::swish"(%x) : (tensor<?xf32>) -> tensor<?xf32>
    // becomes
    %d = memref.alloca() : memref<14xi64>
    memref.store ...   // name, attributes, %x's pointer/offset/sizes/strides
    call @ember_custom_call_shapes(%dc) : (memref<?xi64>) -> ()
    %n = memref.load %d[%c12] : memref<14xi64>
    %ym = memref.alloc(%n') : memref<?xf32>
    memref.store ...   // %ym's pointer
    call @ember_custom_call(%dc) : (memref<?xi64>) -> ()
    %y = bufferization.to_tensor %ym restrict writable
    ```

    With `gpu=true` (GPU targets) the host code is a launch plan, which
    has no pointers: the inputs become read-only strided views, the shapes
    call returns the outputs' sizes as `index` values, and the kernel call
    takes the views and the output allocations. Both are calls of private
    declarations named `ember_custom_call_gpu_shapes_N` and
    `ember_custom_call_gpu_N` carrying `ember.custom_op` (the name),
    `ember.op_attributes`, `ember.custom_dtypes` (inputs' then outputs'
    dtype codes) and `ember.custom_inputs`; the launch plan writes them as
    "custom_shapes" and "custom_call" instructions, which the runtime runs
    with the op's Vulkan or CUDA kernel (runtime/gpu/lib/CustomOpDispatch.h).
  }];
  let options = [
    Option<"gpu", "gpu", "bool", /*default=*/"false",
           "Lower for a GPU target's launch plan (views, no descriptor)">
  ];
  let dependentDialects = ["mlir::arith::ArithDialect",
                           "mlir::bufferization::BufferizationDialect",
                           "mlir::func::FuncDialect",
                           "mlir::memref::MemRefDialect",
                           "mlir::tensor::TensorDialect"];
}

def EmberFuseConvEpilogue : Pass<"ember-fuse-conv-epilogue", "mlir::ModuleOp"> {
  let summary = "Fold the element-wise op reading an f32 convolution's result into the runtime call";
  let description = [{
    After bufferization. A call `ember_cpu_conv_f32(x, w, y, ...)`
    (ember-conv-to-runtime) whose y is a temporary read only by one
    element-wise `linalg.generic` (through the collapse that drops the
    unit dims) computing `D = act(y + bias) + residual` or
    `act(y + bias + residual)` (each part optional; act as
    ember-fuse-matmul-epilogue recognizes it, plus hardswish and
    hardsigmoid) becomes `ember_cpu_conv_fused_f32(x, w, D5, bias5,
    residual5, ..., flags)`: the runtime finishes each block of D while it
    is in cache (a per-channel bias, ReLU and a ResNet block's shortcut
    no longer take passes over memory of their own) and y's buffer goes.
    D, bias and residual reach the runtime as 5-D views of D's shape
    (stride 0 along broadcast dims). Nothing fuses when y has another
    reader (a training step that keeps the pre-activation), D may overlap
    x, w or the bias, the residual may overlap D, or x or w may be
    written between the call and the generic.

    A generic that reads two convolutions' temporaries (a downsampling
    ResNet block's `relu(conv(a) + b1 + conv(x) + b2)`) first lets the
    later convolution take its own bias (a fused call writing `y + b2` in
    place; the generic's add goes), so that the other one fuses the rest
    with that buffer as its residual.

    A convolution whose temporary y is only copied, whole, into a function
    argument (the caller's output buffer: a program that returns a
    convolution's result) writes that buffer directly instead; the copy
    and y's buffer go.

    A squeeze-and-excitation block's pool over a fused call's D (whole, a
    row-major buffer): a zero fill of sum [N, C], a generic summing a view
    of D ([N, C, pixels]) into it and one dividing it by the pixel count
    into mean become part of the call,
    `ember_cpu_conv_fused_mean_f32(x, w, D5, bias5, residual5, mean5, ...,
    flags)` (mean5: mean as a 5-D view of D's shape, stride 0 along the
    pixel dims): the direct depthwise kernel sums each plane while it is in
    registers, so the pool's pass over D and its two kernels go.

    A convolution whose input is a temporary written only by an all-parallel
    generic `x * s`, where s is read per image and channel (a
    squeeze-and-excitation scale broadcast over the pixels), reads x and s
    instead: `ember_cpu_conv_fused_scaled_f32(x, w, D5, bias5, residual5,
    s5, ..., flags)`. The runtime scales x in registers while it packs it,
    so x * s is never written; the generic and its buffer go.

    A fused call whose D only the next convolution call reads, as its x,
    when that call is grouped (a depthwise convolution) and nothing between
    the two writes what the first reads, becomes
    `ember_cpu_conv_fused_then_f32` (same operands): the runtime holds it
    until the next forward convolution entry and, with at least 4 images
    per thread, runs the two image by image, each image of D in a
    per-thread buffer that stays in L2 instead of memory (mobilenet's stem
    and expanding 1x1 convolutions before their depthwise ones).

    ```mlir
    call @ember_cpu_conv_f32(%x, %w, %yv, %s0, ..., %groups)
    %y4 = memref.collapse_shape %y [[0], [1, 2], [3], [4]] ...
    linalg.generic ins(%y4, %bias : ...) outs(%d : ...) { addf, maximumf }
    // becomes
    call @ember_cpu_conv_fused_f32(%x, %w, %d5, %bias5, %d5, %s0, ..., %groups, %c257_i64)
    ```
  }];
  let dependentDialects = ["mlir::arith::ArithDialect", "mlir::func::FuncDialect",
                           "mlir::memref::MemRefDialect"];
  let statistics = [
    Statistic<"numFused", "fused", "convolution calls that took over an element-wise epilogue">,
    Statistic<"numPeeled", "peeled", "convolutions that took their bias out of a generic reading two convolutions">,
    Statistic<"numDirect", "direct", "convolutions that write the caller's output buffer instead of a copied temporary">,
    Statistic<"numMeans", "means", "convolutions that also write the mean of each output plane (a squeeze-and-excitation pool)">,
    Statistic<"numScaled", "scales", "convolutions that read x * s (a squeeze-and-excitation scale) from x and s">,
    Statistic<"numDeferred", "deferred", "convolutions deferred into the depthwise convolution reading their result">
  ];
}

#endif // EMBER_COMPILER_CPUPASSES_TD
