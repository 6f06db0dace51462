//===- Passes.td - Ember GPU code generation passes --------*- tablegen -*-===//

#ifndef EMBER_COMPILER_GPU_PASSES_TD
#define EMBER_COMPILER_GPU_PASSES_TD

include "mlir/Pass/PassBase.td"

def EmberGpuKernelize : Pass<"ember-gpu-kernelize", "mlir::func::FuncOp"> {
  let summary = "Turn bufferized linalg ops into gpu.launch kernels";
  let description = [{
    Each linalg op (and `memref.copy`) of a bufferized function becomes one
    `gpu.launch` with constant block sizes. Operands reach the kernel as 1-D,
    offset-0 views of their base buffers plus offsets, strides and sizes as
    `index` scalars (`memref.extract_strided_metadata` on the host), the
    kernel argument form every target lowers:

    - point-wise ops (element-wise, broadcasts, copies, fills) and
      reductions that do not fit below: one thread per output element,
      256-thread blocks, a grid-stride loop over
      `min(ceildiv(n, 256), 65535)` blocks; reduced dims are loops inside
      the thread;
    - reductions over the innermost loop dim whose combiner is a known
      arith op (`addf`, `maximumf`, `minimumf`, `mulf`, `addi`, ...): one
      256-thread block per output row (`min(rows, 65535)` blocks, striding
      over rows), each thread strides over the row, then a tree reduction in
      workgroup memory;
    - contractions (`linalg.matmul`, `batch_matmul`, transposed operands):
      16x16 output tiles per block, A and B tiles staged in workgroup
      memory, a `gpu.barrier` around each K step; batch dims on grid z.

    Every launch is named `<function>_<kind><n>` (`function(@...)`), so
    `gpu-kernel-outlining` gives stable kernel names.

    ```mlir
    linalg.generic {... iterator_types = ["parallel"]}
        ins(%a : memref<?xf32>) outs(%b : memref<?xf32>) {...}
    // becomes
    %base, %off, %size, %stride = memref.extract_strided_metadata %a ...
    %a1 = memref.reinterpret_cast %base to offset: [0], sizes: [%n], strides: [1]
    gpu.launch blocks(...) in (%gx = %grid, ...) threads(...) in (%bx = %c256, ...)
        function(@f_pointwise0) {
      scf.for %i = %first to %n step %stride { ... memref.load %a1[%ia] ... }
    }
    ```
  }];
  let dependentDialects = [
    "mlir::affine::AffineDialect", "mlir::arith::ArithDialect",
    "mlir::gpu::GPUDialect", "mlir::memref::MemRefDialect",
    "mlir::scf::SCFDialect"
  ];
}

def EmberGpuSinkIntoLaunches : Pass<"ember-gpu-sink-into-launches", "mlir::func::FuncOp"> {
  let summary = "Clone constants into gpu.launch bodies; pass buffers as memref<?xT>";
  let description = [{
    Canonicalization hoists the constants of launch bodies to the function
    entry, and `gpu-kernel-outlining` would then pass each one as a kernel
    argument (polynomial approximations have dozens; on Vulkan each would be
    a push-constant word). This pass clones every constant a launch body
    uses into it. It also casts each 1-D buffer the body uses to
    `memref<?xT>` on the host (folding may have given it a static shape),
    so every kernel takes the same buffer type. Run it right before
    outlining.
  }];
  let dependentDialects = ["mlir::memref::MemRefDialect"];
}

def EmberGpuDropHost : Pass<"ember-gpu-drop-host", "mlir::ModuleOp"> {
  let summary = "Keep only the gpu.modules of a module";
  let description = [{
    After outlining and after the launch metadata was read, the host
    functions are no longer needed to compile kernels; the target ABI passes
    below change kernel signatures, which host launches would no longer
    match.
  }];
}

def EmberGpuBareBuffers : Pass<"ember-gpu-bare-buffers", "mlir::ModuleOp"> {
  let summary = "Pass kernel buffers as bare pointers (NVVM, ROCDL)";
  let description = [{
    A `memref<?xT>` kernel argument lowers to a 5-field descriptor; a 0-D
    `memref<T>` lowers to one pointer under the bare-pointer calling
    convention. Each 1-D buffer argument of a `gpu.func` kernel becomes
    `memref<T>` and is viewed again as `memref<?xT>` at the kernel's entry
    (`memref.reinterpret_cast`), so a launch passes one pointer per buffer.
  }];
  let dependentDialects = ["mlir::memref::MemRefDialect", "mlir::arith::ArithDialect"];
}

def EmberGpuLegalizeMath : Pass<"ember-gpu-legalize-math", "mlir::ModuleOp"> {
  let summary = "Keep NVVM/ROCDL kernels free of libdevice and ocml calls";
  let description = [{
    `convert-gpu-to-nvvm` and `convert-gpu-to-rocdl` turn several math ops
    into calls into the vendors' device libraries (`__nv_fmaf`,
    `__nv_floorf`, `__ocml_floor_f32`, ...), which are not linked here and
    which `llvm.intr.floor`/`copysign` are not allowed to bypass. Inside
    `gpu.module`s: `floor(x) = t - (t > x)` with `t = sitofp(fptosi(x))`
    (x itself when |x| >= 2^23 (f32) / 2^52 (f64) or NaN), `ceil(x) =
    -floor(-x)`; `math.fma`, `math.absf` and `math.copysign` become the LLVM
    intrinsics both back ends select natively (`fma.rn.f32`, `v_fma_f32`).
  }];
  let dependentDialects = [
    "mlir::arith::ArithDialect", "mlir::math::MathDialect",
    "mlir::LLVM::LLVMDialect"
  ];
}

def EmberGpuSpirvAbi : Pass<"ember-gpu-spirv-abi", "mlir::ModuleOp"> {
  let summary = "Give gpu.func kernels the SPIR-V entry point and interface ABI";
  let description = [{
    Before `convert-gpu-to-spirv`: `spirv.entry_point_abi` with the
    kernel's `known_block_size` as workgroup size; workgroup attributions
    become `memref.alloc`s in memory space 3 (what the SPIR-V memref
    conversion turns into Workgroup variables); the module gets the
    target's `spirv.target_env`. With `vulkan=true`, buffer `i` is a
    storage buffer at (set 0, binding i) and the scalar arguments are
    packed into one push-constant block of 32-bit words (index arguments
    are 32-bit there), read at the kernel's entry.
  }];
  let options = [
    Option<"vulkan", "vulkan", "bool", /*default=*/"false",
           "Vulkan flavour (Shader) instead of OpenCL/Level Zero (Kernel)">,
  ];
  let dependentDialects = [
    "mlir::spirv::SPIRVDialect", "mlir::memref::MemRefDialect",
    "mlir::arith::ArithDialect"
  ];
}

def EmberSpirvUnbindPushConstants : Pass<"ember-spirv-unbind-push-constants", "mlir::spirv::ModuleOp"> {
  let summary = "Drop descriptor set and binding from push-constant variables";
  let description = [{
    `spirv-lower-abi-attrs` decorates every interface variable with a
    descriptor set and binding; a PushConstant variable must have neither.
  }];
}

#endif // EMBER_COMPILER_GPU_PASSES_TD
