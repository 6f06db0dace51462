//===- GpuPasses.td - the GPU pipeline's own passes --------*- tablegen -*-===//
//
// Passes only the GPU pipeline and its targets run
// (compiler/lib/Gpu/Transforms).
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_COMPILER_GPUPASSES_TD
#define EMBER_COMPILER_GPUPASSES_TD

include "mlir/Pass/PassBase.td"

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
  let summary = "Expand floor, abs, sqrt and rsqrt in GPU kernels without device libraries";
  let description = [{
    In `gpu.module`s, on f32 and f64: `math.floor` becomes `t - (t > x)`
    with `t = sitofp(fptosi(x))` (exact for |x| < 2^31, which the polynomial
    approximations' range reductions stay far inside; larger magnitudes are
    already integral and kept), and `math.absf` clears the sign bit. The
    NVVM and ROCDL lowerings otherwise call `__nv_floorf`/`__nv_fabsf` or
    `__ocml_floor_*`, which need libdevice or ROCm's device libraries.
    `math.sqrt` becomes the correctly rounded square root: in modules with
    an NVVM target PTX's `sqrt.rn.f32`/`sqrt.rn.f64` as inline assembly
    (`convert-gpu-to-nvvm` rejects the LLVM intrinsic), elsewhere the
    `llvm.intr.sqrt` intrinsic; `math.rsqrt` is `1 / sqrt`. Other widths
    are left to the targets.
  }];
  let dependentDialects = ["mlir::arith::ArithDialect", "mlir::LLVM::LLVMDialect"];
}

def EmberParallelDimsFirst : Pass<"ember-parallel-dims-first", "mlir::func::FuncOp"> {
  let summary = "Interchange linalg loops so that parallel dims come first";
  let description = [{
    A reduction over an outer dim (a column sum) would otherwise become a
    sequential loop around a parallel one: on a GPU, a kernel launch per
    iteration from the host. With the parallel dims first, the reduced dims
    are the inner loops: a column sum is one thread per output element that
    loops over the rows, and a reduction over trailing dims keeps the form
    `ember-gpu-kernelize` builds cooperative kernels from. Buffer copies
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
  let summary = "Give GPU kernels exp, log, tanh, pow, erf and the rest without libraries";
  let description = [{
    In `gpu.module`s, `math.exp`, `math.log`, `math.tanh`, `math.powf` and
    `math.erf` become arithmetic and integer bit operations of full double
    precision (range reduction and series; GpuF64Math.cpp says which); f32
    ones (those the polynomial approximations left, such as pow) are
    computed in f64 and rounded. So are `math.exp2`, `math.trunc` and
    `math.erfc` at both widths, and in f64 the hyperbolic, inverse
    hyperbolic, logarithm variants, `expm1` and the trigonometric functions.
    SPIR-V's GLSL instructions stop at 32 bits, and NVVM/ROCDL would call
    libdevice/ocml, which are not linked.
  }];
  let dependentDialects = ["mlir::arith::ArithDialect", "mlir::scf::SCFDialect"];
}

#endif // EMBER_COMPILER_GPUPASSES_TD
