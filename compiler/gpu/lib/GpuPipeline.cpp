//===- GpuPipeline.cpp - the ember -> GPU kernel pass pipelines ------------===//
//
// Two halves: the target-independent one (ember -> bufferized linalg ->
// gpu.launch -> outlined gpu.modules, host functions kept for the launch
// metadata) and one per target, which runs on the kernels alone. The
// sequences are the ones recorded in docs/gpu-codegen.md.
//
//===----------------------------------------------------------------------===//

#include "ember/Compiler/Gpu/GpuCompiler.h"
#include "ember/Compiler/Gpu/Passes.h"
#include "ember/Compiler/Passes.h"
#include "mlir/Conversion/AffineToStandard/AffineToStandard.h"
#include "mlir/Conversion/GPUToNVVM/GPUToNVVMPass.h"
#include "mlir/Conversion/GPUToROCDL/GPUToROCDLPass.h"
#include "mlir/Conversion/GPUToSPIRV/GPUToSPIRVPass.h"
#include "mlir/Conversion/MathToSPIRV/MathToSPIRVPass.h"
#include "mlir/Conversion/ReconcileUnrealizedCasts/ReconcileUnrealizedCasts.h"
#include "mlir/Conversion/SCFToControlFlow/SCFToControlFlow.h"
#include "mlir/Dialect/Arith/Transforms/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/SPIRV/IR/SPIRVOps.h"
#include "mlir/Dialect/SPIRV/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

namespace ember::gpu {

void buildGpuKernelPipeline(OpPassManager &pm) {
  // Tensor level, as for the CPU, except softmax: ember-softmax-rows makes
  // a sequential loop over rows; decomposed, softmax is two row reductions
  // and two point-wise kernels.
  OpPassManager &tensorFuncs = pm.nest<func::FuncOp>();
  tensorFuncs.addPass(createEmberDecompose());
  tensorFuncs.addPass(createCSEPass());
  tensorFuncs.addPass(createConvertEmberToLinalg());
  tensorFuncs.addPass(createCanonicalizerPass());
  tensorFuncs.addPass(createEmberFuseElementwise());
  tensorFuncs.addPass(createCSEPass());
  tensorFuncs.addPass(createCanonicalizerPass());

  // Caller-owned outputs; temporaries stay memref.allocs on the host side.
  pm.addPass(createEmberDestinationAbi());
  pm.addPass(bufferization::createEmptyTensorEliminationPass());
  bufferization::OneShotBufferizePassOptions bufferize;
  bufferize.bufferizeFunctionBoundaries = false;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferize));

  // Kernels. No CSE before outlining: it would replace the grid extents
  // kernels recompute with the host's values (extra kernel arguments).
  OpPassManager &bufferFuncs = pm.nest<func::FuncOp>();
  bufferFuncs.addPass(createCanonicalizerPass());
  bufferFuncs.addPass(createEmberGpuKernelize());
  // f32 exp/log/tanh/erf as polynomials: no libdevice/ocml calls.
  bufferFuncs.addPass(createEmberApproximateMath());
  bufferFuncs.addPass(createCanonicalizerPass());
  bufferFuncs.addPass(createEmberGpuSinkIntoLaunches());
  pm.addPass(createGpuKernelOutliningPass());
  OpPassManager &kernels = pm.nest<mlir::gpu::GPUModuleOp>();
  kernels.addPass(createCanonicalizerPass());
  kernels.addPass(createCSEPass());
}

void buildGpuTargetPipeline(OpPassManager &pm, const GpuTarget &target) {
  switch (target.kind) {
  case TargetKind::Cuda: {
    GpuNVVMAttachTargetOptions attach;
    attach.chip = target.chip;
    // The default PTX ISA (6.0) is too old for sm_90 and aborts.
    attach.features = "+ptx80";
    pm.addPass(createGpuNVVMAttachTarget(attach));
    pm.addPass(createEmberGpuBareBuffers());
    pm.addPass(createEmberGpuLegalizeMath());
    OpPassManager &kernels = pm.nest<mlir::gpu::GPUModuleOp>();
    kernels.addPass(createLowerAffinePass());
    kernels.addPass(createSCFToControlFlowPass());
    ConvertGpuOpsToNVVMOpsOptions convert;
    convert.indexBitwidth = 64;
    convert.useBarePtrCallConv = true;
    kernels.addPass(createConvertGpuOpsToNVVMOps(convert));
    kernels.addPass(createCanonicalizerPass());
    kernels.addPass(createCSEPass());
    kernels.addPass(createReconcileUnrealizedCastsPass());
    return;
  }
  case TargetKind::Rocm: {
    GpuROCDLAttachTargetOptions attach;
    attach.chip = target.chip;
    pm.addPass(createGpuROCDLAttachTarget(attach));
    pm.addPass(createEmberGpuBareBuffers());
    pm.addPass(createEmberGpuLegalizeMath());
    OpPassManager &kernels = pm.nest<mlir::gpu::GPUModuleOp>();
    kernels.addPass(createLowerAffinePass());
    kernels.addPass(createSCFToControlFlowPass());
    ConvertGpuOpsToROCDLOpsOptions convert;
    convert.chipset = target.chip;
    convert.indexBitwidth = 64;
    convert.useBarePtrCallConv = true;
    kernels.addPass(createConvertGpuOpsToROCDLOps(convert));
    kernels.addPass(createCanonicalizerPass());
    kernels.addPass(createCSEPass());
    kernels.addPass(createReconcileUnrealizedCastsPass());
    return;
  }
  case TargetKind::LevelZero:
  case TargetKind::Vulkan: {
    bool vulkan = target.kind == TargetKind::Vulkan;
    EmberGpuSpirvAbiOptions abi;
    abi.vulkan = vulkan;
    pm.addPass(createEmberGpuSpirvAbi(abi));
    OpPassManager &kernels = pm.nest<mlir::gpu::GPUModuleOp>();
    kernels.addPass(createLowerAffinePass());
    // ceildivui, minui, ... have no SPIR-V patterns of their own.
    kernels.addPass(arith::createArithExpandOpsPass());
    kernels.addPass(createConvertMathToSPIRVPass());
    std::unique_ptr<Pass> toSpirv = createConvertGPUToSPIRVPass();
    (void)toSpirv->initializeOptions(
        vulkan ? "use-64bit-index=false" : "use-64bit-index=true",
        [](const Twine &) { return failure(); });
    pm.addPass(std::move(toSpirv));
    // Vulkan puts each spirv.module beside its gpu.module, OpenCL inside.
    auto finish = [](OpPassManager &spirvModule) {
      spirvModule.addPass(spirv::createSPIRVLowerABIAttributesPass());
      spirvModule.addPass(spirv::createSPIRVUpdateVCEPass());
      spirvModule.addPass(createEmberSpirvUnbindPushConstants());
      spirvModule.addPass(createCanonicalizerPass());
    };
    finish(pm.nest<spirv::ModuleOp>());
    finish(pm.nest<mlir::gpu::GPUModuleOp>().nest<spirv::ModuleOp>());
    return;
  }
  }
}

void buildGpuLoweringPipeline(OpPassManager &pm, const GpuTarget &target) {
  buildGpuKernelPipeline(pm);
  pm.addPass(createEmberGpuDropHost());
  buildGpuTargetPipeline(pm, target);
}

} // namespace ember::gpu
