//===- GpuPipeline.cpp - ember programs to GPU kernels --------------------===//
//
// The target-independent part is one pass pipeline (buildGpuKernelPipeline);
// compileForGpu then describes the kernels, writes the host functions as a
// launch plan, runs the target's lowering and serialization (MLIR's own,
// through a textual pipeline: NvvmTarget.cpp, RocdlTarget.cpp,
// SpirvTarget.cpp) and collects the binaries.
//
//===----------------------------------------------------------------------===//

#include "ember/Compiler/GpuCompiler.h"

#include "GpuCompilerInternal.h"
#include "ember/Compiler/CpuCompiler.h"
#include "ember/Compiler/Diagnostics.h"
#include "ember/Compiler/Passes.h"
#include "ember/Runtime/Debug.h"
#include "ember/Runtime/Progress.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/Target/LLVM/NVVM/Target.h"
#include "mlir/Target/LLVM/ROCDL/Target.h"
#include "mlir/Target/LLVMIR/Dialect/GPU/GPUToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/NVVM/NVVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/ROCDL/ROCDLToLLVMIRTranslation.h"
#include "mlir/Target/SPIRV/Target.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>

namespace mlir {
// Defined in libMLIR (mlir/InitAllPasses.h): registers every upstream pass,
// so the target pipelines below can be written as text, as with mlir-opt.
void registerAllPasses();
} // namespace mlir

using namespace mlir;

namespace ember {

namespace {
/// Registers the passes the textual pipelines below name.
void registerPassesOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    mlir::registerAllPasses();
    registerEmberTileParallelLoops();
    registerEmberSpirvEntryPoints();
    registerEmberFlattenBuffers();
    registerEmberSinkLaunchConstants();
    registerEmberGpuMath();
    registerEmberParallelDimsFirst();
    registerEmberGpuGridStride();
    registerEmberSpirvPushConstants();
    registerEmberGpuFillConstants();
    registerEmberGpuDeviceScalars();
    registerEmberSpirvBf16Storage();
    registerEmberGpuF64Math();
  });
}
} // namespace

void registerGpuCompilerDialects(DialectRegistry &registry) {
  registerCompilerDialects(registry);
  // The GPU lowering passes through gpu, nvvm, rocdl, spirv and their
  // conversion interfaces: all upstream dialects and extensions (defined in
  // libMLIR, so this costs no compile time here).
  registerAllDialects(registry);
  registerAllExtensions(registry);
  registerGPUDialectTranslation(registry);
  registerNVVMDialectTranslation(registry);
  registerROCDLDialectTranslation(registry);
  NVVM::registerNVVMTargetInterfaceExternalModels(registry);
  ROCDL::registerROCDLTargetInterfaceExternalModels(registry);
  spirv::registerSPIRVTargetInterfaceExternalModels(registry);
}

void buildGpuKernelPipeline(OpPassManager &pm) {
  registerPassesOnce();
  // As for the CPU, without softmax-rows (GPUs get the primitives);
  // temporaries stay allocations in the host function (device memory,
  // allocated by the launcher).
  buildTensorToBufferPipeline(pm, /*softmaxRows=*/false);
  pm.addPass(createCanonicalizerPass());
  // Splat constants: device buffers filled by a kernel, not host globals;
  // scalar operands read in the kernels, not loaded on the host.
  pm.addPass(createEmberGpuFillConstants());
  pm.addNestedPass<func::FuncOp>(createEmberGpuDeviceScalars());

  // Loops -> blocks of threads -> kernels. Buffers are flattened to 1-D
  // (the casts hoisted out of the loops), so kernels take 1-D buffers plus
  // sizes as scalars: SPIR-V has no dynamic multi-dim buffers, and the other
  // targets pass fewer parameters. f32 transcendentals become polynomials:
  // no device library (libdevice, ROCm's ocml) is needed.
  OpPassManager &loops = pm.nest<func::FuncOp>();
  loops.addPass(createEmberParallelDimsFirst());
  // Matmuls and row reductions as cooperative kernels (workgroup memory);
  // every other op runs one thread per output element.
  loops.addPass(createEmberGpuKernelize());
  loops.addPass(createConvertLinalgToParallelLoopsPass());
  loops.addPass(createEmberApproximateMath());
  std::string error;
  llvm::raw_string_ostream os(error);
  loops.addPass(createEmberFlattenBuffers());
  loops.addPass(createCanonicalizerPass());
  // No canonicalization between tiling (which also maps the loops to
  // blocks and threads) and the conversion: it would merge the block and
  // thread loops back into one.
  loops.addPass(createEmberTileParallelLoops());
  // The mapping and outlining passes by name (their C++ entry points moved
  // between MLIR releases; the names are stable).
  if (failed(parsePassPipeline("func.func(convert-parallel-loops-to-gpu,canonicalize,"
                               "ember-gpu-grid-stride),"
                               "func.func(ember-sink-launch-constants),"
                               "gpu-kernel-outlining,lower-affine,canonicalize,cse",
                               pm, os)))
    llvm::report_fatal_error(llvm::Twine("ember: GPU pipeline: ") + error);
}

namespace {
/// The progress line's text for a graph compiled for `backend`.
const char *compilingFor(Backend backend) {
  switch (backend) {
  case Backend::Cuda:
    return "compiling a graph for cuda";
  case Backend::Rocm:
    return "compiling a graph for rocm";
  case Backend::Vulkan:
    return "compiling a graph for vulkan";
  case Backend::LevelZero:
    return "compiling a graph for level_zero";
  case Backend::Cpu:
    break;
  }
  return "compiling a graph";
}
} // namespace

bool compileForGpu(ModuleOp module, const GpuTarget &target, GpuProgram *program,
                   std::string *error, llvm::function_ref<void(ModuleOp)> readKernels) {
  registerPassesOnce();
  MLIRContext *context = module.getContext();
  DiagnosticCollector diagnostics(context); // remarks left out: conversion noise
  program->target = target;
  // The kernels are compiled together, one pipeline per stage, so a big
  // graph's line counts stages: kernels outlined, lowered for the target,
  // serialized, binaries assembled (ptxas/lld per kernel on CUDA/ROCm).
  ProgressLine progress(compilingFor(target.backend), 4, "stages");

  PassManager kernels(context);
  buildGpuKernelPipeline(kernels);
  if (failed(kernels.run(module))) {
    *error = diagnostics.text();
    return false;
  }
  progress.step();
  // Outlining names every kernel after its host function: named by their
  // code instead, profiler spans and pictures tell the kernels apart.
  nameKernelsByContent(module);
  program->kernels = describeKernels(module, target);
  if (readKernels)
    readKernels(module);
  {
    llvm::raw_string_ostream os(program->host);
    for (auto func : module.getOps<func::FuncOp>())
      func->print(os);
  }
  // The host functions the launch plan is written from (loops, views,
  // launches), before the target's lowering replaces them.
  if (debugEnabled(DebugTopic::GpuModules))
    llvm::errs() << program->host << "\n";
  if (!writeLaunchPlan(module, &program->plan, error))
    return false;

  // The target's lowering and serialization, as mlir-opt would spell it.
  std::string pipeline;
  switch (target.backend) {
  case Backend::Cuda:
    pipeline = nvvmLoweringPipeline(target);
    break;
  case Backend::Rocm:
    pipeline = rocdlLoweringPipeline(target);
    break;
  case Backend::Vulkan:
  case Backend::LevelZero:
    pipeline = prepareSpirvLowering(module, target);
    break;
  case Backend::Cpu:
    *error = "internal error: the CPU is not a GPU target";
    return false;
  }
  PassManager lowering(context);
  std::string parseError;
  llvm::raw_string_ostream parseOs(parseError);
  // The text names the module's passes; parsing into `lowering` (already on
  // builtin.module) takes the list inside "builtin.module(...)".
  llvm::StringRef passes = llvm::StringRef(pipeline)
                               .drop_front(strlen("builtin.module("))
                               .drop_back();
  if (failed(parsePassPipeline(passes, lowering, parseOs))) {
    *error = "internal error: GPU pipeline: " + parseError;
    return false;
  }
  if (failed(lowering.run(module))) {
    *error = diagnostics.text();
    return false;
  }
  progress.step();

  if (debugEnabled(DebugTopic::GpuModules))
    module->print(llvm::errs());
  // Binaries, by gpu.module name.
  std::map<std::string, std::string> binaries;
  if (target.backend == Backend::Cuda || target.backend == Backend::Rocm) {
    for (auto binary : module.getOps<mlir::gpu::BinaryOp>()) {
      auto object = cast<mlir::gpu::ObjectAttr>(binary.getObjects()[0]);
      binaries[binary.getName().str()] = object.getObject().str();
    }
  } else if (!serializeSpirvModules(module, &binaries, diagnostics.text(), error)) {
    return false;
  }
  progress.step();
  if (target.backend == Backend::Vulkan &&
      !recordVulkanPlacement(module, &program->kernels, error))
    return false;
  program->cubins.assign(program->kernels.size(), std::string());
  for (auto [kernel, cubin] : llvm::zip_equal(program->kernels, program->cubins)) {
    auto it = binaries.find(kernel.module);
    if (it == binaries.end()) {
      *error = "internal error: no binary for kernel '" + kernel.name + "'";
      return false;
    }
    kernel.binary = it->second;
    if (target.backend == Backend::Rocm) {
      std::string hsaco;
      if (!assembleHsaco(kernel.binary, target.chip, &hsaco, error))
        return false;
      kernel.binary = std::move(hsaco);
    } else if (target.backend == Backend::Cuda) {
      assembleCubin(kernel.binary, target.chip, &cubin);
    }
  }
  progress.step();
  return true;
}

} // namespace ember
