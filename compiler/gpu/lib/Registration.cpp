//===- Registration.cpp - dialects and passes of the GPU back end ----------===//
//
// The one file of compiler/gpu that includes the upstream "register all"
// headers (slow to compile).
//
//===----------------------------------------------------------------------===//

#include "ember/Compiler/CpuCompiler.h"
#include "ember/Compiler/Gpu/GpuCompiler.h"
#include "ember/Compiler/Gpu/Passes.h"
#include "ember/Compiler/Passes.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/LLVMIR/ROCDLDialect.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Dialect/SPIRV/IR/SPIRVDialect.h"
#include "mlir/Dialect/SPIRV/Transforms/Passes.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Target/LLVM/NVVM/Target.h"
#include "mlir/Target/LLVM/ROCDL/Target.h"
#include "mlir/Target/LLVMIR/Dialect/GPU/GPUToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/NVVM/NVVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/ROCDL/ROCDLToLLVMIRTranslation.h"

#include <deque>
#include <mutex>

using namespace mlir;

namespace ember::gpu {

void registerGpuCompilerDialects(DialectRegistry &registry) {
  ember::registerCompilerDialects(registry);
  registry.insert<mlir::gpu::GPUDialect, NVVM::NVVMDialect, ROCDL::ROCDLDialect,
                  spirv::SPIRVDialect>();
  // ConvertToLLVM interfaces, bufferization models, ... of every dialect.
  registerAllExtensions(registry);
  NVVM::registerNVVMTargetInterfaceExternalModels(registry);
  ROCDL::registerROCDLTargetInterfaceExternalModels(registry);
  registerGPUDialectTranslation(registry);
  registerNVVMDialectTranslation(registry);
  registerROCDLDialectTranslation(registry);
}

void registerGpuPasses() {
  static std::once_flag once;
  std::call_once(once, [] {
    ember::registerEmberPasses();
    registerEmberGpuPasses();
    mlir::registerGPUPasses();
    spirv::registerSPIRVPasses();
    math::registerMathPasses();
    PassPipelineRegistration<>(
        "ember-gpu-kernels",
        "ember functions to outlined GPU kernels with host launches",
        [](OpPassManager &pm) { buildGpuKernelPipeline(pm); });
    for (const char *name : {"cuda:sm_90", "rocm:gfx942", "level-zero", "vulkan"}) {
      GpuTarget target;
      std::string error;
      (void)GpuTarget::parse(name, target, error);
      // The registry keeps references: give the strings a static home.
      static std::deque<std::string> strings;
      strings.push_back("ember-gpu-lower-to-" + std::string(target.backendName()));
      StringRef flag = strings.back();
      strings.push_back("ember functions to " + target.str() +
                        " kernels (host dropped)");
      PassPipelineRegistration<>(
          flag, strings.back(),
          [target](OpPassManager &pm) { buildGpuLoweringPipeline(pm, target); });
    }
  });
}

} // namespace ember::gpu
