//===- Passes.td - Ember compiler passes -------------------*- tablegen -*-===//

#ifndef EMBER_COMPILER_PASSES_TD
#define EMBER_COMPILER_PASSES_TD

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
  }];
  let dependentDialects = ["ember::EmberDialect"];
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

def ConvertEmberToLinalg : Pass<"convert-ember-to-linalg", "mlir::func::FuncOp"> {
  let summary = "Lower ember ops to linalg, tensor, arith and math";
  let description = [{
    Element-wise ops and broadcasts become `linalg.generic` ops whose indexing
    maps read a static size-1 dim at index 0; reductions become
    `linalg.generic` reductions over a `linalg.fill`ed init; `matmul` becomes
    `linalg.matmul` (a leading batch of the left operand folds into M) or
    `linalg.batch_matmul`; shape ops become `tensor` ops; `scatter_add`
    becomes a sequential `scf.for` nest (duplicate indices accumulate). f16
    and bf16 values are widened to f32 around each computation and narrowed after it. Fails,
    naming the op, if any ember op is left.
  }];
  let dependentDialects = [
    "mlir::arith::ArithDialect", "mlir::linalg::LinalgDialect",
    "mlir::math::MathDialect", "mlir::scf::SCFDialect",
    "mlir::tensor::TensorDialect"
  ];
}

def EmberFuseElementwise : Pass<"ember-fuse-elementwise", "mlir::func::FuncOp"> {
  let summary = "Fuse element-wise linalg.generic producers into their consumers";
  let description = [{
    Merges a chain like `sigmoid(a * b + c) * d - a` into one loop nest so
    intermediate tensors are never written to memory. A producer is fused
    only into its single consumer, so no work is duplicated.
  }];
  let dependentDialects = ["mlir::linalg::LinalgDialect"];
}

def EmberSoftmaxRows : Pass<"ember-softmax-rows", "mlir::func::FuncOp"> {
  let summary = "Lower softmax and log_softmax over the innermost dim row by row";
  let description = [{
    Rewrites `ember.softmax` and `ember.log_softmax` over the last dim into
    an `scf.for` nest over the rows whose body makes three passes over one
    row: the max, the sum of `exp(x - max)` (softmax stores each exp in the
    output), then the scaling by `1 / sum` (log_softmax:
    `(x - max) - log(sum)`). A row is contiguous and small enough to stay
    in L1 between the passes, so the input is read from memory once and
    the output written once; `ember-decompose`'s form streams the tensor
    through memory once per pass. Sums carry `fastmath<reassoc>` so LLVM
    vectorizes them. f16 and bf16 compute in f32. Softmax over other dims
    is left for `ember-decompose`.

    ```mlir
    %y = ember.softmax %x dim = 1 : tensor<?x?xf32>
    // becomes
    %y = scf.for %i = %c0 to %rows step %c1 iter_args(%out = %empty) {
      %m = scf.for %j ... iter_args(%acc = -inf) { arith.maximumf }
      %s, %e = scf.for %j ... { math.exp, arith.addf fastmath<reassoc>, tensor.insert }
      %r = arith.divf %one, %s
      %o = scf.for %j ... { tensor.extract, arith.mulf, tensor.insert }
      scf.yield %o
    }
    ```
  }];
  let dependentDialects = [
    "mlir::arith::ArithDialect", "mlir::math::MathDialect",
    "mlir::scf::SCFDialect", "mlir::tensor::TensorDialect"
  ];
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


def EmberTileParallelLoops : Pass<"ember-tile-parallel-loops", "mlir::func::FuncOp"> {
  let summary = "Tile outermost scf.parallel loops into GPU blocks of threads";
  let description = [{
    Splits each outermost `scf.parallel` into a loop over blocks and a loop
    over the threads of a block and maps them for
    `convert-parallel-loops-to-gpu`: 1-D loops get 256 threads, 2-D loops
    16x16, deeper loops 16x16 on their two innermost dims. The last
    (contiguous) dim maps to x, the one before to y, then z (blocks and
    threads alike), further dims and deeper nested loops run sequentially:
    consecutive threads touch consecutive elements, where
    `gpu-map-parallel-loops` would give x to the outermost dim. Bounds stay constant
    inside a block (`no-min-max-bounds`): threads past the end are masked by
    a condition, so `convert-parallel-loops-to-gpu` can launch them.
  }];
  let dependentDialects = ["mlir::scf::SCFDialect", "mlir::arith::ArithDialect",
                           "mlir::gpu::GPUDialect"];
}

def EmberSpirvEntryPoints : Pass<"ember-spirv-entry-points", "mlir::ModuleOp"> {
  let summary = "Give outlined GPU kernels the SPIR-V entry point ABI";
  let description = [{
    Sets `spirv.entry_point_abi` on every `gpu.func` kernel with the
    workgroup size of its `known_block_size`, which `convert-gpu-to-spirv`
    needs to turn the kernel into a SPIR-V entry point. Workgroup
    attributions become `memref.alloc`s in memory space 3 (SPIR-V Workgroup
    variables). Every `scf.for` with results is wrapped in
    `scf.if (lb < ub)` whose else branch yields the initial values: the
    SPIR-V lowering of loop results is wrong for loops that run zero times.
  }];
  let dependentDialects = ["mlir::spirv::SPIRVDialect"];
}

def EmberFlattenBuffers : Pass<"ember-flatten-buffers", "mlir::func::FuncOp"> {
  let summary = "Make loads and stores in parallel loops use 1-D buffers";
  let description = [{
    Before GPU kernels are outlined: each `memref.load`/`memref.store` inside
    an `scf.parallel` on a buffer of any rank or layout is rewritten to index
    a 1-D, offset-0 view of the buffer's base with the linearized index
    `offset + sum(index_k * stride_k)`. The view and the strided metadata are
    computed just before the outermost parallel loop, on the host side, so
    the outlined kernel receives 1-D buffers plus offsets and strides as
    scalars: the form every GPU target lowers (SPIR-V has no dynamic
    multi-dimensional buffers).
  }];
  let dependentDialects = ["mlir::memref::MemRefDialect", "mlir::arith::ArithDialect"];
}

def EmberSinkLaunchConstants : Pass<"ember-sink-launch-constants", "mlir::func::FuncOp"> {
  let summary = "Copy constants used in gpu.launch bodies into them";
  let description = [{
    Canonicalization hoists constants out of `gpu.launch` bodies; outlining
    would then pass each one as a kernel argument (a polynomial
    approximation has dozens, and each is one more word to pass per
    launch). This pass clones each `arith.constant` a launch body
    uses into the body. Unlike `gpu-launch-sink-index-computations` it leaves
    `memref.dim` on the host, where the sizes are known (SPIR-V kernels
    cannot query buffer sizes).
  }];
  let dependentDialects = ["mlir::gpu::GPUDialect"];
}

def EmberGpuMath : Pass<"ember-gpu-math", "mlir::ModuleOp"> {
  let summary = "Expand floor and abs in GPU kernels into plain arithmetic";
  let description = [{
    In `gpu.module`s: `math.floor` becomes `t - (t > x)` with
    `t = sitofp(fptosi(x))` (exact for |x| < 2^31, which the polynomial
    approximations' range reductions stay far inside; larger magnitudes are
    already integral and kept), and `math.absf` clears the sign bit. The
    NVVM and ROCDL lowerings otherwise call `__nv_floorf`/`__nv_fabsf` or
    `__ocml_floor_*`, which need libdevice or ROCm's device libraries.
    `math.sqrt` (and `math.rsqrt` as 1/sqrt) becomes the `llvm.intr.sqrt`
    intrinsic, which both back ends select natively.
  }];
  let dependentDialects = ["mlir::arith::ArithDialect", "mlir::LLVM::LLVMDialect"];
}

def EmberParallelDimsFirst : Pass<"ember-parallel-dims-first", "mlir::func::FuncOp"> {
  let summary = "Interchange linalg loops so that parallel dims come first";
  let description = [{
    A reduction over an outer dim (a column sum) would otherwise become a
    sequential loop around a parallel one: on a GPU, a kernel launch per
    iteration from the host. With the parallel dims first, every output
    element is one thread that loops over the reduced dims. Buffer copies
    (`memref.copy`) become `linalg.copy` here too, so that they run as
    kernels (a strided copy is not one transfer).
  }];
  let dependentDialects = ["mlir::linalg::LinalgDialect"];
}

def EmberGpuKernelize : Pass<"ember-gpu-kernelize", "mlir::func::FuncOp"> {
  let summary = "Build matmuls and row reductions as cooperative GPU kernels";
  let description = [{
    On bufferized functions, before the generic one-thread-per-output path
    (`convert-linalg-to-parallel-loops`): each contraction (`linalg.matmul`,
    `batch_matmul`, generics with transposed or broadcast operands) becomes
    a `gpu.launch` of 16x16 threads per 64x64 output tile (a 4x4 register
    block per thread) that stages 64x16 and 16x64 tiles of A and B in
    workgroup memory, with a `gpu.barrier` around each K step of 16
    and batch dims on grid z. Each reduction over trailing loop dims that
    the inputs read as their own last dims (a last-dim or a full
    reduction), with a known arith combiner (`addf`, `maximumf`, `addi`,
    ...), becomes two kernels: 256-thread blocks per (row, part), a long
    row split into up to 1024 parts, fold strided shares and combine them
    in a tree in workgroup memory; then one thread per row combines its
    parts with the output's initial value.
    Grids are at most 65535 blocks per dim; blocks stride over the rest.
    Buffers are passed as 1-D views plus offsets and strides, as
    `ember-flatten-buffers` does for the generic path. Launches are named
    `<function>_matmul<n>` / `_rowreduce<n>` / `_rowcombine<n>`, which
    `gpu-kernel-outlining` keeps. Ops without loops (on 0-d buffers)
    become one-thread launches (`_scalar<n>`) instead of host code that
    would read device memory.
  }];
  let dependentDialects = [
    "mlir::affine::AffineDialect", "mlir::arith::ArithDialect",
    "mlir::gpu::GPUDialect", "mlir::memref::MemRefDialect",
    "mlir::scf::SCFDialect"
  ];
}

def EmberGpuGridStride : Pass<"ember-gpu-grid-stride", "mlir::func::FuncOp"> {
  let summary = "Clamp gpu.launch grids to 65535 blocks per dim; blocks stride";
  let description = [{
    Vulkan guarantees only 65535 workgroups per dim, and CUDA allows no more
    in y and z, while a grid mapped from a large tensor can ask for more
    (a 1-D loop of 20M elements in blocks of 256 needs 78125). For each
    grid dim of a `gpu.launch` that is not a constant within the limit, the
    launch gets `min(n, 65535)` blocks and its body runs in
    `scf.for %b = block_id to n step min(n, 65535)`, with `%b` in place of
    the block id. Bodies with barriers are left alone (a barrier in a loop
    whose trip count differs between blocks is still uniform within a
    block, but such kernels clamp their own grids: ember-gpu-kernelize).
  }];
  let dependentDialects = ["mlir::scf::SCFDialect", "mlir::arith::ArithDialect"];
}

def EmberSpirvPushConstants : Pass<"ember-spirv-push-constants", "mlir::ModuleOp"> {
  let summary = "Pass a Vulkan kernel's scalar arguments as push constants";
  let description = [{
    Before `convert-gpu-to-spirv` for Vulkan: the scalar arguments of each
    `gpu.func` kernel (sizes, strides, offsets, run-time floats) are removed
    and read instead from one push-constant block, a
    `memref<N x i64, #spirv.storage_class<PushConstant>>` appended as the
    last argument: word `i` holds the `i`-th scalar (an index or i64 as is,
    f64 bitcast, i32/f32 in the low 32 bits); with more than 16 scalars the
    block is a storage buffer instead. Buffers keep bindings 0, 1, ... in
    order (the block's binding follows). The placement is recorded on the
    kernel (`ember.vulkan_placement`: per original argument its
    `#spirv.interface_var_abi` or its word's byte offset;
    `ember.vulkan_scalar_buffer` when the block is a storage buffer), and
    the compiler copies it into the runtime's kernel description, which the
    launcher follows. Without this pass every scalar would be a storage
    buffer of its own, allocated and filled for each launch. Kernel
    signatures change, so the host functions must be gone (the launch plan
    is written before).
  }];
  let dependentDialects = [
    "mlir::memref::MemRefDialect", "mlir::arith::ArithDialect",
    "mlir::spirv::SPIRVDialect"
  ];
}

def EmberGpuFillConstants : Pass<"ember-gpu-fill-constants", "mlir::ModuleOp"> {
  let summary = "Make splat constant buffers device allocations filled by a kernel";
  let description = [{
    Bufferization turns a constant tensor into a `memref.global` in host
    memory, which a GPU kernel cannot read. Every `memref.get_global` of a
    splat global (all constants the frontend and autodiff make are splats:
    a 0.5 in a gradient, a zero accumulator) in a host function becomes a
    `memref.alloc` filled with `linalg.fill` (a kernel), freed before the
    function returns; a small one (up to 32 elements: a reshape's shape
    vector, which the launcher reads on the host) is stored element by
    element from the host instead. The unused globals go.
  }];
  let dependentDialects = ["mlir::linalg::LinalgDialect", "mlir::memref::MemRefDialect",
                           "mlir::arith::ArithDialect"];
}

def EmberGpuDeviceScalars : Pass<"ember-gpu-device-scalars", "mlir::func::FuncOp"> {
  let summary = "Read scalar operands of linalg ops on the device, not the host";
  let description = [{
    The tensor lowering reads a 0-d (or single-element) tensor operand once,
    as a scalar (`tensor.extract`, a `memref.load` after bufferization), and
    passes the scalar to the linalg op. On a GPU that buffer lives on the
    device (a gradient seed, a value computed by an earlier kernel), where
    the host cannot load it. Each such host-side load whose only users are
    linalg ops taking it as an input becomes a 0-d view of the buffer
    (`memref.subview` for an element of a larger one) that the op reads
    with a `() -> ()` map, inside the kernel. Loads feeding size arithmetic
    (the size vector the launcher reads on the host) stay.
  }];
  let dependentDialects = ["mlir::linalg::LinalgDialect", "mlir::memref::MemRefDialect"];
}

def EmberSpirvBf16Storage : Pass<"ember-spirv-bf16-storage", "mlir::ModuleOp"> {
  let summary = "Keep bfloat16 buffers of SPIR-V kernels as 16-bit integers";
  let description = [{
    SPIR-V (Vulkan, OpenCL) has no bfloat16 type. In every `gpu.func`,
    bfloat16 buffers (kernel arguments, workgroup memory) become i16
    buffers of the same bits, loads and stores bitcast; then
    `arith-emulate-unsupported-floats` computes in f32 and
    `arith-expand{include-bf16}` turns the bf16<->f32 conversions into
    integer operations (round to nearest even), so that no bf16 value is
    left. Kernel signatures change: run it after the launch plan is written,
    with the host functions gone.
  }];
  let dependentDialects = ["mlir::arith::ArithDialect", "mlir::memref::MemRefDialect"];
}

def EmberGpuF64Math : Pass<"ember-gpu-f64-math", "mlir::ModuleOp"> {
  let summary = "Give GPU kernels float64 exp, log, tanh, pow and erf";
  let description = [{
    In `gpu.module`s, f64 `math.exp`, `math.log`, `math.tanh`, `math.powf`
    and `math.erf` become arithmetic and integer bit operations of full
    double precision (range reduction and series; GpuF64Math.cpp says
    which): SPIR-V's GLSL instructions stop at 32 bits, and NVVM/ROCDL
    would call libdevice/ocml, which are not linked.
  }];
  let dependentDialects = ["mlir::arith::ArithDialect", "mlir::scf::SCFDialect"];
}

#endif // EMBER_COMPILER_PASSES_TD
